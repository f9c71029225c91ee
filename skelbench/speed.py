"""Speed settings: how a training step runs on the device, not what it computes.

They stay out of the config hash (a run made with cuDNN autotuning reuses one made without) and
go into the pretraining record and `bench` output as the values in effect. ``auto`` means on
where the device is CUDA and off elsewhere. bf16 autocast is not here: it changes the numerics,
so it is the hashed ``pretrain.amp`` (agreement with fp32: ``skelbench bench --amp-check``).

- ``cudnn_benchmark``: cuDNN picks the fastest convolution algorithm per shape (shapes are static).
- ``tf32``: float32 matmuls and convolutions on tensor cores (10-bit mantissa inputs).
- ``fused_optimizer``: one kernel for the whole optimiser step instead of one per parameter.
- ``compile``: ``torch.compile`` the encoders in place (state-dict keys unchanged); the first
  steps pay the compile time, which `bench` reports.
"""
from __future__ import annotations

import torch
from torch import nn

from .defaults import SPEED as DEFAULTS
from .errors import ConfigError


def effective(spec: dict | None, device: torch.device) -> dict:
    """The settings ``spec`` (the config's ``speed`` section) means on ``device``."""
    spec = {**DEFAULTS, **(spec or {})}
    unknown = sorted(set(spec) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"speed.{unknown[0]} is not a speed setting ({', '.join(DEFAULTS)})")
    cuda = device.type == "cuda"
    out = {}
    for key in ("cudnn_benchmark", "tf32", "fused_optimizer"):
        value = spec[key]
        out[key] = cuda if value == "auto" else bool(value)
    # cuDNN and TF32 exist only on CUDA; asked for elsewhere they are simply not in effect.
    out["cudnn_benchmark"] &= cuda
    out["tf32"] &= cuda
    out["compile"] = bool(spec["compile"])
    return out


def apply(settings: dict) -> None:
    """Set the process-wide backend flags (cuDNN, TF32)."""
    torch.backends.cudnn.benchmark = settings["cudnn_benchmark"]
    torch.backends.cuda.matmul.allow_tf32 = settings["tf32"]
    torch.backends.cudnn.allow_tf32 = settings["tf32"]


def compile_encoders(method: nn.Module, settings: dict) -> None:
    if settings["compile"]:
        for name in ("encoder", "key_encoder"):
            module = getattr(method, name, None)
            if module is not None:
                module.compile()
