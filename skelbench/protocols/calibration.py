"""Calibration of the linear head's test softmax, read from the linear run of the same
pretraining (run first if missing), and the same after temperature scaling.

Temperature scaling (Guo et al. 2017) needs logits the head was not trained on: a second head,
with the linear protocol's schedule and seed, is trained on the frozen features of the training
clips less a fixed, seeded ``calibration.heldout`` share (10 %); one temperature is fitted to
minimise its NLL on that held-out share and applied to its test logits. ``*_ts_before`` are that
head's figures before scaling (close to the headline ones: 10 % fewer training clips), ``*_ts``
after; ``temperature`` > 1 means the head was over-confident.
"""
from __future__ import annotations

import numpy as np
import torch

from ..metrics import calibration_report, fit_temperature
from .base import protocol
from .linear import train_linear


def report_from_logits(logits: torch.Tensor, labels: torch.Tensor, n_bins: int) -> dict:
    """Table metrics (ECE, AECE, MCE x100; NLL; Brier; top-1) and the per-bin sums."""
    rep = calibration_report(logits, labels, n_bins)
    metrics = {"ece": 100 * rep["ece"], "aece": 100 * rep["aece"], "mce": 100 * rep["mce"],
               "nll": rep["nll"], "brier": rep["brier"], "top1": 100 * rep["accuracy"],
               "confidence": 100 * rep["confidence"]}
    return {"metrics": metrics, "bins": rep["bins"]}


def heldout_split(n: int, share: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(fit, held-out) indices of ``n`` training clips: a fixed, seeded ``share`` held out."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    k = max(1, round(share * n))
    return order[k:].sort().values, order[:k].sort().values


def temperature_scaled(ctx, split, n_bins: int) -> dict:
    spec = ctx.cfg["calibration"]
    train_feat, test_feat = ctx.features(split)
    fit, held = heldout_split(len(train_feat), float(spec["heldout"]), int(spec["heldout_seed"]))
    fit, held = fit.to(train_feat.device), held.to(train_feat.device)
    generator = torch.Generator(device=ctx.device).manual_seed(ctx.seed)
    out = train_linear(train_feat[fit], split.y_train[fit], test_feat, split.y_test,
                       split.num_classes, ctx.cfg["linear"], generator)
    with torch.no_grad():
        held_logits = out["head"](train_feat[held])
    temperature = fit_temperature(held_logits, split.y_train[held])
    before = calibration_report(out["logits"], split.y_test, n_bins)
    after = calibration_report(out["logits"].double() / temperature, split.y_test, n_bins)
    metrics = {"temperature": temperature, "top1_ts_head": 100 * before["accuracy"]}
    for key in ("ece", "aece"):
        metrics[f"{key}_ts_before"], metrics[f"{key}_ts"] = 100 * before[key], 100 * after[key]
    metrics["nll_ts_before"], metrics["nll_ts"] = before["nll"], after["nll"]
    return {"metrics": metrics, "heldout": {"n": len(held), "seed": int(spec["heldout_seed"])},
            "bins_ts": after["bins"]}


@protocol("calibration", "features", "linear", "calibration")
def calibration(ctx) -> dict:
    """ECE / AECE (15 bins, x100), MCE, NLL and Brier of the linear run's test softmax; the
    same after temperature scaling fitted on held-out training clips."""
    linear = ctx.requires("linear", files=("logits.npz",))
    with np.load(ctx.run_path(linear) / "logits.npz") as f:
        logits, labels = torch.from_numpy(f["logits"]), torch.from_numpy(f["labels"])
    n_bins = int(ctx.cfg["calibration"]["n_bins"])
    out = report_from_logits(logits, labels, n_bins)
    scaled = temperature_scaled(ctx, ctx.eval_split(), n_bins)
    return {"metrics": {**out["metrics"], **scaled.pop("metrics")}, "bins": out["bins"],
            **scaled, "source_run_id": linear["run_id"]}
