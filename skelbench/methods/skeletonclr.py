"""SkeletonCLR (Li et al., CVPR 2021, the single-view part of CrosSCLR).

MoCo v2 on skeletons: two views made by temporal crop (mirror padding) and shear, the query from
view 1 and the key from view 2 (no symmetrisation), InfoNCE against a 32768-key queue.
"""
from __future__ import annotations

import torch

from .. import augment
from ..losses import info_nce
from ..registry import METHODS
from .base import MoCo


@METHODS.register("skeletonclr")
class SkeletonCLR(MoCo):
    def __init__(self, encoder, num_classes, stream="joint", queue_size=32768, momentum=0.999,
                 temperature=0.07, feature_dim=128, crop_ratio=6, shear=0.5, faithful=True):
        # faithful: the key encoder starts as its own random network, as the official processor
        # leaves it (``model.apply(weights_init)`` after the copy); false: a copy of the query side.
        super().__init__(encoder, num_classes, stream, queue_size, momentum, temperature,
                         feature_dim, independent_key=faithful)
        self.crop_ratio, self.shear = crop_ratio, shear

    def view(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        x = augment.temporal_crop(x, generator, self.crop_ratio)
        return augment.shear(x, generator, self.shear)

    def views(self, x, epoch, generator):
        return self.view(x, generator), self.view(x, generator)

    def training_step(self, x, y, epoch, generator):
        x_q, x_k = self.views(x, epoch, generator)
        q = self.embed(x_q)
        self.momentum_update()  # before computing keys, as the original
        k = self.embed_key(x_k)
        loss = info_nce(q, k, self.queue, self.temperature)
        self.defer_enqueue(k)
        return {"loss": loss}
