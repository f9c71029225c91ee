"""The two bounds every table carries: an untrained encoder and a label-supervised one."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .. import augment
from ..registry import METHODS
from .base import Method


@METHODS.register("random-init")
class RandomInit(Method):
    """The encoder as initialised (seeded), never trained: the floor."""

    pretrains = False


@METHODS.register("raw-coordinates")
class RawCoordinates(RandomInit):
    """No encoder: the preprocessed joint coordinates themselves (backbone ``raw``, whatever the
    card or --backbone say). With the retrieval protocol: the 1-NN baseline a trained encoder
    must beat."""

    backbone = "raw"


@METHODS.register("supervised")
class Supervised(Method):
    """Encoder + linear classifier trained with cross-entropy on the training labels: the
    ceiling. Views get the same crop + shear as SkeletonCLR's, so only the labels differ."""

    def __init__(self, encoder, num_classes, stream="joint", crop_ratio=6, shear=0.5):
        super().__init__(encoder, num_classes, stream)
        self.crop_ratio, self.shear = crop_ratio, shear
        self.classifier = nn.Linear(encoder.out_dim, num_classes)

    def views(self, x, epoch, generator):
        if self.crop_ratio:
            x = augment.temporal_crop(x, generator, self.crop_ratio)
        if self.shear:
            x = augment.shear(x, generator, self.shear)
        return (x,)

    def training_step(self, x, y, epoch, generator):
        x, = self.views(x, epoch, generator)
        logits = self.classifier(self.encoder(self.to_input(x)))
        loss = F.cross_entropy(logits, y)
        with torch.no_grad():
            acc = (logits.argmax(1) == y).float().mean()
        return {"loss": loss, "train_top1": acc}

    @torch.no_grad()
    def predict(self, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """Test logits (float32) in eval mode."""
        self.eval()
        return torch.cat([self.classifier(self.encoder(self.to_input(x[i:i + batch_size]))).float()
                          for i in range(0, len(x), batch_size)])
