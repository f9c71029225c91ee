"""Finetuning: the pretrained encoder and a new linear head trained end to end on the labels
(ActCLR's settings: SGD nesterov lr 0.1, wd 1e-4, no augmentation). Semi-supervised: the same
on a class-balanced 1 % or 10 % of the training labels, drawn from a recorded seed."""
from __future__ import annotations

import dataclasses

import torch
from torch import nn
from torch.nn import functional as F

from ..augment import to_stream
from ..train import pretrain
from .base import protocol
from .linear import accuracy, save_logits


class Finetuned(nn.Module):
    """The pretrained encoder and a new linear head, trained end to end with cross-entropy on
    clean clips by the shared training loop (which takes any module with ``training_step``)."""

    pretrains = True

    def __init__(self, encoder: nn.Module, num_classes: int, stream: str):
        super().__init__()
        self.encoder, self.stream = encoder, stream
        self.classifier = nn.Linear(encoder.out_dim, num_classes)

    @property
    def layout(self):
        return self.encoder.layout

    def to_input(self, x: torch.Tensor) -> torch.Tensor:
        return to_stream(x, self.stream, self.layout)

    def training_step(self, x, y, epoch, generator) -> dict:
        logits = self.classifier(self.encoder(self.to_input(x)))
        with torch.no_grad():
            acc = (logits.argmax(1) == y).float().mean()
        return {"loss": F.cross_entropy(logits, y), "train_top1": acc}

    forward = training_step         # the step is the forward pass, so DDP can wrap it

    def on_step_end(self) -> None:
        pass

    @torch.no_grad()
    def predict(self, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """Test logits (float32) in eval mode."""
        self.eval()
        return torch.cat([self.classifier(self.encoder(self.to_input(x[i:i + batch_size]))).float()
                          for i in range(0, len(x), batch_size)])


def class_balanced_subset(labels: torch.Tensor, fraction: float, seed: int) -> torch.Tensor:
    """Indices of round(fraction * n_c) samples of every class c (at least one), as AimCLR's
    semi-supervised feeder draws them."""
    generator = torch.Generator().manual_seed(seed)
    labels = labels.cpu()
    picked = []
    for c in torch.unique(labels):
        members = torch.nonzero(labels == c).flatten()
        take = max(1, round(fraction * len(members)))
        picked.append(members[torch.randperm(len(members), generator=generator)[:take]])
    return torch.cat(picked).sort().values


def finetune_on(ctx, index: torch.Tensor | None = None, schedule: dict | None = None) -> dict:
    split = ctx.eval_split()
    x, y = split.x_train, split.y_train
    if index is not None:
        x, y = x[index.to(x.device)], y[index.to(y.device)]
    method = Finetuned(ctx.encoder(), split.num_classes, ctx.cfg["data"]["stream"]).to(ctx.device)
    spec = {**ctx.cfg["finetune"], **(schedule or {})}
    spec["batch_size"] = min(int(spec["batch_size"]), len(x))
    throughput = pretrain(method, dataclasses.replace(split, x_train=x, y_train=y), spec,
                          seed=ctx.seed, checkpoint=ctx.run_dir / "checkpoint.pt",
                          device=ctx.device, progress=ctx.progress, label="finetune")
    logits = method.predict(split.x_test)
    save_logits(ctx.run_dir, logits, split.y_test)
    return {"metrics": accuracy(logits, split.y_test), "selection": "last",
            "history": throughput.pop("history"), "throughput": throughput}


@protocol("finetune", "finetune")
def finetune(ctx) -> dict:
    """Whole network + linear head trained on all training labels; last-epoch top-1/top-5."""
    return finetune_on(ctx)


@protocol("transfer-finetune", "transfer", "finetune")
def transfer_finetune(ctx) -> dict:
    """Finetuning on the transfer target split, starting from the source pretraining."""
    return finetune_on(ctx)


def _semi(fraction: float):
    def run(ctx) -> dict:
        seed = ctx.cfg["semi"]["subset_seed"]
        seed = ctx.seed if seed is None else int(seed)
        index = class_balanced_subset(ctx.eval_split().y_train, fraction, seed)
        out = finetune_on(ctx, index, ctx.cfg["semi"]["schedule"])
        return {**out, "subset": {"fraction": fraction, "seed": seed, "n": len(index)}}
    run.__doc__ = (f"Finetuning on a class-balanced {fraction:.0%} of the training labels "
                   "(subset seed recorded).")
    return run


for _percent in (1, 10):
    protocol(f"semi-{_percent}", "finetune", "semi")(_semi(_percent / 100))
