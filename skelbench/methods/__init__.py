"""Registered methods; ``build_method`` makes one from a resolved config."""
from __future__ import annotations

import inspect

from ..registry import METHODS
from . import actclr, aimclr, baselines, skeletonclr, tranclr  # noqa: F401  (register)
from .base import Method, MoCo  # noqa: F401

# Constructor arguments the harness passes itself; recipes give the rest under ``args``.
_HARNESS_ARGS = {"self", "encoder", "num_classes", "stream"}


def accepted_args(cls) -> set[str]:
    return set(inspect.signature(cls.__init__).parameters) - _HARNESS_ARGS


def build_method(cfg: dict, num_classes: int, layout) -> Method:
    """The method of ``cfg`` for data of ``num_classes`` classes in skeleton ``layout``."""
    from ..backbones import build_backbone
    cls = METHODS.get(cfg["class"])
    return cls(build_backbone(cfg["backbone"], layout), num_classes, stream=cfg["data"]["stream"],
               **cfg["args"])
