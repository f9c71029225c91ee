"""Calibration of the linear head's test softmax, read from the linear run of the same
pretraining (run first if missing)."""
from __future__ import annotations

import numpy as np
import torch

from ..metrics import calibration_report
from .base import protocol


def report_from_logits(logits: torch.Tensor, labels: torch.Tensor, n_bins: int) -> dict:
    """Table metrics (ECE, AECE, MCE x100; NLL; Brier; top-1) and the per-bin sums."""
    rep = calibration_report(logits, labels, n_bins)
    metrics = {"ece": 100 * rep["ece"], "aece": 100 * rep["aece"], "mce": 100 * rep["mce"],
               "nll": rep["nll"], "brier": rep["brier"], "top1": 100 * rep["accuracy"],
               "confidence": 100 * rep["confidence"]}
    return {"metrics": metrics, "bins": rep["bins"]}


@protocol("calibration", "features", "linear", "calibration", needs_encoder=False)
def calibration(ctx) -> dict:
    """ECE / AECE (15 bins, x100), MCE, NLL and Brier of the linear run's test softmax."""
    linear = ctx.requires("linear")
    with np.load(ctx.run_path(linear) / "logits.npz") as f:
        logits, labels = torch.from_numpy(f["logits"]), torch.from_numpy(f["labels"])
    out = report_from_logits(logits, labels, int(ctx.cfg["calibration"]["n_bins"]))
    return {**out, "source_run_id": linear["run_id"]}
