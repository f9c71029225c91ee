"""Evaluation protocols.

A protocol is a function ``(ctx) -> dict`` registered under its name with the config sections
its result depends on (beyond the pretraining, which every protocol's hash includes). It returns
``{"metrics": {...}, **record_fields}``; :class:`skelbench.api.Runner` makes the record, finds a
finished one instead of running again, and pretrains first when needed.
"""
from __future__ import annotations

# The protocol sections' defaults live below the config, in skelbench/defaults.py.
from ..defaults import PROTOCOLS as DEFAULTS  # noqa: F401
from ..registry import PROTOCOLS  # noqa: F401
from . import calibration, continuity, finetune, linear, released, retrieval  # noqa: F401  (register)
from .base import protocol  # noqa: F401
