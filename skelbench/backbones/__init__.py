"""Backbones: ``forward_features(x) -> (N*M, C', T', V)``, ``pool(features, M) -> (N, D)``,
``out_dim``. Registered by name; recipes give ``backbone: {name: ..., **kwargs}``."""
from __future__ import annotations

import difflib
import inspect

from ..registry import BACKBONES
from . import stgcn  # noqa: F401  (registers the ST-GCN backbones)


def backbone_args(spec: dict) -> dict:
    """Validate ``{name, **kwargs}`` against the registered builder; return the kwargs."""
    builder = BACKBONES.get(spec["name"])
    accepted = set(inspect.signature(builder).parameters)
    kwargs = {k: v for k, v in spec.items() if k != "name"}
    for key in kwargs:
        if key not in accepted:
            close = difflib.get_close_matches(key, sorted(accepted), n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"backbone {spec['name']!r} takes no argument {key!r}{hint}")
    return kwargs


def build_backbone(spec: dict):
    return BACKBONES.get(spec["name"])(**backbone_args(spec))
