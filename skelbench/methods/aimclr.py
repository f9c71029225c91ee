"""AimCLR (Guo et al., AAAI 2022): extreme augmentations, an attention-guided drop, and
distributional divergence minimisation, on the MoCo base.

Three views per sample: query and key with SkeletonCLR's crop + shear, and an extreme view with
the extreme set on top. The extreme view is encoded twice from one feature map: pooled as is,
and after EADM (energy-based attention-guided drop). D3M: the extreme and dropped-extreme
similarity distributions over [key, queue] follow the query's (detached) one by cross-entropy.
From ``mining_epoch`` on, InfoNCE becomes nearest-neighbour mining (NNM): the top-``topk`` queue
entries of the query, extreme and dropped views are extra positives.
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

from .. import augment
from ..losses import info_nce, moco_logits, multi_positive_nce, soft_cross_entropy
from ..registry import METHODS
from .base import MoCo


def simam_attention(features: torch.Tensor, lam: float = 1e-4) -> torch.Tensor:
    """SimAM energy attention of a (N, C, T, V) map: sigmoid(d / (4 (var + lam)) + 0.5) with d the
    squared deviation from the (T, V) mean and var its unbiased mean."""
    d = (features - features.mean(dim=(2, 3), keepdim=True)) ** 2
    var = d.sum(dim=(2, 3), keepdim=True) / (features.shape[2] * features.shape[3] - 1)
    return torch.sigmoid(d / (4 * (var + lam)) + 0.5)


def attention_drop(features: torch.Tensor, threshold: float = 0.7) -> torch.Tensor:
    """EADM: drop the joints whose mean attention reaches ``threshold``, then every element whose
    attention does; each drop rescales by (elements / kept) over the whole batch. Deterministic."""
    att = simam_attention(features)
    joints = (att.mean(dim=(1, 2), keepdim=True) < threshold).to(features.dtype)   # (N, 1, 1, V)
    joints = joints.expand_as(features)
    features = features * joints * (joints.numel() / joints.sum().clamp(min=1))
    elements = (att < threshold).to(features.dtype)
    return features * elements * (elements.numel() / elements.sum().clamp(min=1))


@METHODS.register("aimclr")
class AimCLR(MoCo):
    def __init__(self, encoder, num_classes, stream="joint", queue_size=32768, momentum=0.999,
                 temperature=0.07, feature_dim=128, crop_ratio=6, shear=0.5,
                 extreme=("flip", "rotate", "noise", "blur", "axis_mask"), noise_std=0.01,
                 drop_threshold=0.7, mining_epoch=150, topk=1, faithful=True):
        # faithful: also the key encoder as its own random network (SkeletonCLR's comment).
        super().__init__(encoder, num_classes, stream, queue_size, momentum, temperature,
                         feature_dim, independent_key=faithful)
        self.crop_ratio, self.shear = crop_ratio, shear
        self.extreme, self.noise_std, self.faithful = tuple(extreme), noise_std, faithful
        self.drop_threshold, self.mining_epoch, self.topk = drop_threshold, mining_epoch, topk

    def view(self, x, generator):
        return augment.shear(augment.temporal_crop(x, generator, self.crop_ratio), generator, self.shear)

    def extreme_view(self, x, generator):
        return augment.extreme(self.view(x, generator), generator, self.extreme, self.noise_std,
                               self.faithful, layout=self.layout)

    def project(self, pooled):
        return F.normalize(self.projector(pooled), dim=1)

    def views(self, x, epoch, generator):
        return self.view(x, generator), self.view(x, generator), self.extreme_view(x, generator)

    def training_step(self, x, y, epoch, generator):
        x_q, x_k, x_e = self.views(x, epoch, generator)
        q = self.embed(x_q)
        fmap = self.encoder.forward_features(self.to_input(x_e))
        persons = x.shape[-1]
        q_e = self.project(self.encoder.pool(fmap, persons))
        q_ed = self.project(self.encoder.pool(attention_drop(fmap, self.drop_threshold), persons))
        self.momentum_update()
        k = self.embed_key(x_k)
        logits = moco_logits(q, k, self.queue, self.temperature)
        target = logits.detach().softmax(dim=1)
        l_e = soft_cross_entropy(moco_logits(q_e, k, self.queue, self.temperature), target)
        l_ed = soft_cross_entropy(moco_logits(q_ed, k, self.queue, self.temperature), target)
        if epoch < self.mining_epoch:
            l_main = info_nce(q, k, self.queue, self.temperature)
        else:
            l_main = multi_positive_nce(logits, self.mined_positives(logits, q_e, q_ed))
        self.defer_enqueue(k)
        return {"loss": l_main + (l_e + l_ed) / 2, "loss_main": l_main.detach(),
                "loss_d3m": ((l_e + l_ed) / 2).detach()}

    @torch.no_grad()
    def mined_positives(self, logits, q_e, q_ed) -> torch.Tensor:
        """(N, 1+K) mask: the key, and each view's top-k queue neighbours (duplicates count once)."""
        mask = torch.zeros_like(logits, dtype=torch.bool)
        mask[:, 0] = True
        for sims in (logits[:, 1:], q_e @ self.queue.t(), q_ed @ self.queue.t()):
            mask.scatter_(1, 1 + sims.topk(self.topk, dim=1).indices, True)
        return mask
