"""The checkpoint's own classifier: a released linear evaluation (or a supervised run's head)
applied to the frozen features of the test clips, as the official linear evaluation reports it,
with no head trained here. Beside it, the ``linear`` protocol trains a fresh head on the same
features; a classifier for another number of classes is refused."""
from __future__ import annotations

import torch

from ..errors import CheckpointError
from ..train import load_checkpoint
from ..stats import pack
from .base import protocol
from .calibration import report_from_logits
from .linear import accuracy, save_logits


@protocol("released-head", "features", "calibration")
def released_head(ctx) -> dict:
    """Top-1/top-5 and calibration of the checkpoint's own classifier on the test clips."""
    split = ctx.eval_split()
    path = ctx.run_path(ctx.parent) / "checkpoint.pt"
    state = load_checkpoint(path, ctx.device)["method"]
    if "classifier.weight" not in state:
        raise CheckpointError(f"{ctx.parent['run_id']} holds no classifier to evaluate (released "
                              "weights without encoder_q.fc, or a self-supervised pretraining): "
                              "use --protocol linear, which trains a head")
    weight, bias = state["classifier.weight"].float(), state["classifier.bias"].float()
    if weight.shape[0] != split.num_classes:
        raise CheckpointError(f"{ctx.parent['run_id']}: classifier weight has shape "
                              f"{tuple(weight.shape)} ({weight.shape[0]} classes); {split.name} "
                              f"has {split.num_classes} classes")
    _, test_feat = ctx.features(split)
    with torch.no_grad():
        logits = test_feat @ weight.T + bias
    save_logits(ctx.run_dir, logits, split.y_test)
    report = report_from_logits(logits, split.y_test, int(ctx.cfg["calibration"]["n_bins"]))
    metrics = {**accuracy(logits, split.y_test),
               **{k: report["metrics"][k] for k in ("ece", "aece", "mce", "nll")}}
    return {"metrics": metrics, "bins": report["bins"], "selection": "the checkpoint's",
            "correct": pack(logits.argmax(1).eq(split.y_test).cpu())}
