"""`skelbench bench`: the cost of one pretraining step, measured.

Steps run exactly as in training (device-resident data, index sampling, the method's views and
loss, optimiser step, hooks). The time spent in ``skelbench.augment`` is measured by wrapping
its functions for the duration of the benchmark (outermost calls only, the device synchronised
around each), so the input-pipeline share is a measurement, not an estimate.
"""
from __future__ import annotations

import contextlib
import functools
import statistics
import time

import torch

from . import augment
from .data import load_split
from .methods import build_method
from .train import autocast, build_optimizer


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def timed_augment(device: torch.device, totals: list):
    """Wrap every public function of ``skelbench.augment``; ``totals[0]`` accumulates seconds."""
    depth = [0]
    originals = {name: fn for name, fn in vars(augment).items()
                 if callable(fn) and not name.startswith("_") and getattr(fn, "__module__", "") == augment.__name__}

    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            if depth[0]:
                return fn(*args, **kwargs)
            depth[0] += 1
            _sync(device)
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                _sync(device)
                totals[0] += time.perf_counter() - t0
                depth[0] -= 1
        return inner

    for name, fn in originals.items():
        setattr(augment, name, wrap(fn))
    try:
        yield
    finally:
        for name, fn in originals.items():
            setattr(augment, name, fn)


def bench(cfg: dict, device: torch.device, steps: int = 20, warmup: int = 3,
          batch_size: int | None = None, seed: int = 0) -> dict:
    split = load_split(cfg["data"]["split"], cfg["data"]["dataset"], device)
    spec = dict(cfg["pretrain"])
    batch = int(batch_size or spec["batch_size"])
    torch.manual_seed(seed)
    method = build_method(cfg, split.num_classes).to(device)
    method.train()
    optimizer = build_optimizer([p for p in method.parameters() if p.requires_grad], spec)
    generator = torch.Generator(device=device).manual_seed(seed)
    use_amp = bool(spec.get("amp", True)) and device.type == "cuda"
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    step_s, sample_s, augment_s = [], [], []
    for i in range(warmup + steps):
        aug = [0.0]
        _sync(device)
        t0 = time.perf_counter()
        idx = torch.randint(0, len(split.x_train), (batch,), generator=generator, device=device)
        x, y = split.x_train[idx], split.y_train[idx]
        _sync(device)
        t1 = time.perf_counter()
        with timed_augment(device, aug), autocast(device, use_amp):
            out = method.training_step(x, y, int(spec["epochs"]) - 1, generator)
        optimizer.zero_grad(set_to_none=True)
        out["loss"].backward()
        optimizer.step()
        method.on_step_end()
        _sync(device)
        t2 = time.perf_counter()
        if i >= warmup:
            step_s.append(t2 - t0)
            sample_s.append(t1 - t0)
            augment_s.append(aug[0])
    median = statistics.median(step_s)
    pipeline = [a + s for a, s in zip(augment_s, sample_s)]
    return {
        "method": cfg["method"], "backbone": cfg["backbone"]["name"], "split": cfg["data"]["split"],
        "stream": cfg["data"]["stream"], "batch_size": batch, "frames": cfg["data"]["frames"],
        "steps": steps, "warmup": warmup,
        "step_ms": round(1e3 * median, 2),
        "samples_per_s": round(batch / median, 1),
        "pipeline_share": round(sum(pipeline) / sum(step_s), 4),   # sampling + augmentation
        "augment_ms": round(1e3 * statistics.median(augment_s), 2),
        "sample_ms": round(1e3 * statistics.median(sample_s), 3),
        "peak_memory_mb": (round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
                           if device.type == "cuda" else None),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "settings": {"amp_bf16": use_amp, "threads": torch.get_num_threads(),
                     "cudnn_benchmark": torch.backends.cudnn.benchmark,
                     "tf32": torch.backends.cuda.matmul.allow_tf32 if device.type == "cuda" else None},
    }
