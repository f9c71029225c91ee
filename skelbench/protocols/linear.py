"""Linear evaluation: a linear head on frozen, pooled encoder features.

The features are extracted once; the head is trained with the recipe's schedule (papers: SGD
lr 3.0, momentum 0.9, wd 0, batch 128, 100 epochs, x0.1 at 80). The headline numbers are the
last epoch's. The best test top-1 over epochs, which the original repositories report, is kept
as ``top1_best`` and marked as selected on the test set.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .. import dist
from ..train import build_optimizer, build_scheduler
from ..stats import pack
from .base import protocol


def topk_correct(logits: torch.Tensor, labels: torch.Tensor, k: int) -> torch.Tensor:
    k = min(k, logits.shape[1])
    return (logits.topk(k, dim=1).indices == labels[:, None]).any(dim=1)


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> dict:
    return {"top1": topk_correct(logits, labels, 1).float().mean().item() * 100,
            "top5": topk_correct(logits, labels, 5).float().mean().item() * 100}


def save_arrays(run_dir, name: str, **arrays: torch.Tensor) -> None:
    """``name`` (.npz) beside the record, written whole or not at all; rank 0 under torchrun."""
    if not dist.is_main():
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".npz", dir=run_dir)
    os.close(fd)
    try:
        np.savez_compressed(tmp, **{k: v.detach().cpu().numpy() for k, v in arrays.items()})
        os.replace(tmp, Path(run_dir) / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_logits(run_dir, logits: torch.Tensor, labels: torch.Tensor) -> None:
    """Test logits beside the record: calibration and the stream ensembles read them."""
    save_arrays(run_dir, "logits.npz", logits=logits.float(), labels=labels)


def train_linear(train_feat, train_y, test_feat, test_y, num_classes: int, spec: dict,
                 generator: torch.Generator) -> dict:
    """Train the head; return metrics, per-epoch test top-1 and the last epoch's test logits."""
    device = train_feat.device
    head = nn.Linear(train_feat.shape[1], num_classes).to(device)
    nn.init.normal_(head.weight, 0.0, 0.02)
    nn.init.zeros_(head.bias)
    optimizer = build_optimizer(head.parameters(), spec)
    batch, n = int(spec["batch_size"]), len(train_feat)
    scheduler = build_scheduler(optimizer, spec, -(-n // batch))
    history = []
    for _ in range(int(spec["epochs"])):
        order = torch.randperm(n, generator=generator, device=device)
        for i in range(0, n, batch):
            idx = order[i:i + batch]
            loss = F.cross_entropy(head(train_feat[idx]), train_y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
        with torch.no_grad():
            history.append(topk_correct(head(test_feat), test_y, 1).float().mean().item() * 100)
    with torch.no_grad():
        logits = head(test_feat)
        train_top1 = topk_correct(head(train_feat), train_y, 1).float().mean().item() * 100
    best_epoch = max(range(len(history)), key=history.__getitem__)
    metrics = {
        **accuracy(logits, test_y),
        "train_top1": train_top1,
        "top1_best": history[best_epoch],    # selected on the test set: for paper comparison only
        "best_epoch": best_epoch + 1,
    }
    return {"metrics": metrics, "history": history, "logits": logits, "head": head}


@protocol("linear", "features", "linear")
def linear(ctx) -> dict:
    """Linear head on frozen features; top-1/top-5 of the last epoch (best-on-test kept apart)."""
    split = ctx.eval_split()
    train_feat, test_feat = ctx.features(split)
    generator = torch.Generator(device=ctx.device).manual_seed(ctx.seed)
    out = train_linear(train_feat, split.y_train, test_feat, split.y_test, split.num_classes,
                       ctx.cfg["linear"], generator)
    save_logits(ctx.run_dir, out["logits"], split.y_test)
    # the head itself, for protocols that follow its predictions (continuity's label path)
    save_arrays(ctx.run_dir, "head.npz", weight=out["head"].weight, bias=out["head"].bias)
    return {"metrics": out["metrics"], "history": {"test_top1": out["history"]},
            "selection": "last", "correct": pack(out["logits"].argmax(1).eq(split.y_test).cpu())}


@protocol("transfer-linear", "transfer", "features", "linear")
def transfer_linear(ctx) -> dict:
    """Linear evaluation on the transfer target split with the source-pretrained, frozen encoder."""
    return linear(ctx)   # the context's evaluation split is the target
