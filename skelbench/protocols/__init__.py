"""Evaluation protocols.

A protocol is a function ``(ctx) -> dict`` registered under its name with the config sections
its result depends on (beyond the pretraining, which every protocol's hash includes). It returns
``{"metrics": {...}, **record_fields}``; :class:`skelbench.api.Runner` makes the record, finds a
finished one instead of running again, and pretrains first when needed.
"""
from __future__ import annotations

from ..registry import PROTOCOLS

# Defaults of the protocol sections of every config; a recipe, then a dataset card's schedule,
# then --set, override them (the linear section lives in each recipe, as the papers differ).
DEFAULTS = {
    # BN statistics of a frozen encoder: ``running`` keeps the estimate training left (what the
    # papers evaluate); ``precise`` re-estimates them on the clean, shuffled training clips of
    # the evaluated split, for every encoder alike (docs/protocols.md).
    "features": {"bn": "running"},
    "retrieval": {"k": 20, "temperature": 0.1},
    "calibration": {"n_bins": 15},
    # ActCLR's finetune settings (the AimCLR repository has none): all layers, no augmentation.
    "finetune": {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True,
                 "weight_decay": 1.0e-4, "epochs": 80, "lr_steps": [10, 30, 50],
                 "lr_gamma": 0.1, "batch_size": 128, "amp": True},
    # The labelled subset's seed (None: the run's seed) and what its finetuning changes.
    "semi": {"subset_seed": None, "schedule": {}},
    "transfer": {"target": None},       # a split; the dataset card names a default
}


def protocol(name: str, *sections: str, needs_encoder: bool = True):
    """Register ``fn`` as protocol ``name``, depending on config ``sections``; ``needs_encoder``:
    it reads the pretrained encoder (not only other records)."""
    def wrap(fn):
        fn.sections = sections
        fn.needs_encoder = needs_encoder
        return PROTOCOLS.register(name)(fn)
    return wrap


from . import calibration, finetune, linear, retrieval  # noqa: E402,F401  (register them)
