"""The learning-curve monitor: kNN-1 (and a linear probe) of the query encoder during pretraining.

As solo-learn's and the official ActCLR code's online kNN: after an epoch, the frozen features of
the training and test clips (eval mode, running BN, no augmentation) give the retrieval
protocol's kNN-1, and every ``linear_every`` epochs the linear protocol's head on them. It
reads the model and leaves it as it was: the RNG state is forked, no gradient is taken and BN
statistics are not touched (eval mode), so a run's losses are the same with and without it.
Opt-in (``skelbench run --monitor N``); its settings live in the config's ``run`` section,
outside the hash, as they change what is recorded, not what is trained.
"""
from __future__ import annotations

import torch

from ..metrics import retrieval
from .features import pooled
from .linear import train_linear


def monitor(split, cfg: dict, seed: int, every: int = 1, linear_every: int = 0):
    """A callback ``(method, epoch) -> {name: value or None}`` for ``train.pretrain``."""
    spec = cfg["retrieval"]

    def measure(method, epoch: int) -> dict:
        if epoch % every:
            return {}
        encoder = method.encoder
        was_training = encoder.training
        devices = [split.x_train.device] if split.x_train.device.type == "cuda" else []
        try:
            with torch.random.fork_rng(devices=devices):
                encoder.eval()
                train_f, test_f = (pooled(encoder, x, method.stream)          # not frozen:
                                   for x in (split.x_train, split.x_test))   # it trains on
                out = {"monitor_knn1": round(retrieval(
                    train_f, split.y_train, test_f, split.y_test, split.num_classes,
                    k=int(spec["k"]), temperature=float(spec["temperature"]))["knn1"], 3)}
                if linear_every:
                    top1 = None
                    if epoch % linear_every == 0:
                        generator = torch.Generator(device=train_f.device).manual_seed(seed)
                        with torch.enable_grad():
                            top1 = train_linear(train_f, split.y_train, test_f, split.y_test,
                                                split.num_classes, cfg["linear"],
                                                generator)["metrics"]["top1"]
                        top1 = round(top1, 3)
                    out["monitor_linear_top1"] = top1
        finally:
            encoder.train(was_training)
        return out

    return measure
