"""Backbones: ``forward_features(x) -> (N*M, C', T', V)``, ``pool(features, M) -> (N, D)``,
``out_dim``. Registered by name; recipes give ``backbone: {name: ..., **kwargs}``."""
from __future__ import annotations

import inspect

from ..registry import BACKBONES, did_you_mean
from . import stgcn  # noqa: F401  (registers the ST-GCN backbones)


def backbone_args(spec: dict) -> dict:
    """Validate ``{name, **kwargs}`` against the registered builder; return the kwargs."""
    builder = BACKBONES.get(spec["name"])
    accepted = set(inspect.signature(builder).parameters)
    kwargs = {k: v for k, v in spec.items() if k != "name"}
    for key in kwargs:
        if key not in accepted:
            raise ValueError(f"backbone {spec['name']!r} takes no argument {key!r}"
                             f"{did_you_mean(key, accepted, n=1, quote=True)}")
    return kwargs


def build_backbone(spec: dict):
    return BACKBONES.get(spec["name"])(**backbone_args(spec))
