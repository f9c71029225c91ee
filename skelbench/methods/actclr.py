"""ActCLR (Lin, Zhang, Liu, CVPR 2023): actionlet-dependent contrastive learning, phase 2.

The recipe's ``init`` names phase 1: an AimCLR pretraining of the same dataset, stream and
backbone, reused or trained by the runner and linked as ``parent_run_id``; its query encoder
initialises both encoders here (the queue starts afresh).

Per step, four views: strong X_s, normal X_n, and weak X_p, X_k (crop + shear). The actionlet of
an input is a Grad-CAM-like map on the final feature map: the gradient of 1 - cos(z, a) with a the
key embedding of the batch-mean sequence (the static anchor), channel-weighted, ReLU, scaled by
1e8 and clipped, averaged per body part. Three branches, each a query against a teacher by the
relational KL over the memory (top-8192, near-duplicates dropped, squared student similarities):
1. A_n X_n + (1 - A_n) X_s against the key;
2. A_p X_t + (1 - A_p) swap(X_t) against the key, X_t = X_p with the partner's bone lengths;
3. swap(X_p) against the keys of the two sources mixed by their actionlet energy in the result.
Keys pool half globally, half over their actionlet (semantic-aware pooling). The augmentation
curriculum thins the normal/strong sets by epoch and ends all augmentation after the last stage.
``released`` lists the behaviours of the released code that the paper does not describe, each a
switch (all on in the ``actclr`` recipe, all off in ``actclr-described``; docs/methods.md):
- ``inert_actionlet``: the anchor cosine normalises over a singleton axis, so its gradient is
  round-off and the actionlet map ~0: branch 1 sees the strong view, branch 2 the swapped one,
  the key's actionlet half is the projector of ~0, and branch 3's weights are area fractions;
- ``swap_schedule``: branch 2's swap ranges shrink (1-2 parts x 1-3 cells) from the second
  curriculum stage on (epoch 200 of the official 350);
- ``independent_partners``: the bone transfer and the two swaps each draw their own partner shift;
- ``batch_swap_draws``: a swap's parts, window, mode and mixup coefficient are drawn once per batch;
- ``branch3_transferred``: branch 3 swaps the bone-transferred clip (the official transfer
  edits its input in place).
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

from functools import lru_cache

from .. import augment
from ..skeleton import Layout
from ..losses import relational_kl
from ..registry import METHODS
from .base import MoCo

NORMAL = ("flip", "rotate", "noise", "blur", "axis_mask")
STRONG = NORMAL + ("speed", "bone_rescale")
RELEASED = ("inert_actionlet", "swap_schedule", "independent_partners", "batch_swap_draws",
            "branch3_transferred")


@lru_cache
def part_average(layout: Layout) -> torch.Tensor:
    """(V, V): x @ P replaces each joint's value by the mean over its body part."""
    avg = torch.zeros(layout.num_joints, layout.num_joints)
    for joints in layout.body_parts.values():
        idx = torch.tensor(joints)
        avg[idx[:, None], idx[None, :]] = 1.0 / len(joints)
    return avg


def actionlet_map(fmap: torch.Tensor, head, anchor: torch.Tensor, persons: int,
                  gain: float = 1e8, inert: bool = False, *, layout: Layout) -> torch.Tensor:
    """(N*M, 1, T', V) in [0, 1]: where ``fmap`` moves the embedding ``head(fmap)`` away from the
    static ``anchor`` (1, D), averaged per body part. ``inert``: the released code's cosine, whose
    embeddings are (N, D, 1, 1) and normalised over the last, singleton, axis."""
    leaf = fmap.detach().requires_grad_(True)
    with torch.enable_grad():
        z = head(leaf, persons)
        if inert:
            similarity = (F.normalize(z[..., None], dim=-1)
                          * F.normalize(anchor[..., None], dim=-1)).sum(-1).mean()
        else:
            similarity = F.cosine_similarity(z, anchor.expand_as(z), dim=1).mean()
        (grad,) = torch.autograd.grad(1 - similarity, leaf)
    weights = grad.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * leaf.detach()).mean(dim=1, keepdim=True)) * gain
    return (cam @ part_average(layout).to(cam)).clamp(0, 1)


def upsample(mask: torch.Tensor, frames: int, persons: int) -> torch.Tensor:
    """(N*M, 1, T', V) -> (N, 1, T, V, M), linear in time (corners aligned)."""
    up = F.interpolate(mask, size=(frames, mask.shape[-1]), mode="bilinear", align_corners=True)
    nm, _, t, v = up.shape
    return up.view(nm // persons, persons, 1, t, v).permute(0, 2, 3, 4, 1)


def bone_transfer(x: torch.Tensor, partner: torch.Tensor, layout: Layout) -> torch.Tensor:
    """Each bone keeps its direction and takes the length of the same bone in ``partner``;
    skeletons rebuilt from the centre outwards."""
    parent = list(layout.bone_parent)
    bones, other = x - x[:, :, :, parent], partner - partner[:, :, :, parent]
    length = other.norm(dim=1, keepdim=True)
    direction = bones / bones.norm(dim=1, keepdim=True).clamp(min=1e-8)
    out = x.clone()
    for v in layout.root_outward[1:]:
        out[:, :, :, v] = out[:, :, :, parent[v]] + direction[:, :, :, v] * length[:, :, :, v]
    return out


def swap(x, partner, generator, parts=(2, 3), cells=(3, 5), stride: int = 4,
         per_batch: bool = False, *, layout: Layout):
    """SkeleMix-style mixing with a partner: with p 0.5 the partner's chosen parts over a window of
    W = C_t * stride frames (stride-aligned) replace this sample's; with p 0.25 the partner's
    first min(2 W, T) frames, resized to W by nearest neighbour, are pasted there; with p 0.25
    mixup (1 - l) x + l x_j. Drawn per sample, or once for the batch (``per_batch``, the released
    code). Returns (mixed, share (N, 1, T, V, 1): the partner's share of each joint and frame)."""
    n, c, t, v, m = x.shape
    dev = x.device
    k = 1 if per_batch else n
    ct = torch.randint(cells[0], cells[1] + 1, (k,), generator=generator, device=dev)
    width = (ct * stride).clamp(max=t)
    start = (torch.rand(k, generator=generator, device=dev) * ((t - width) // stride + 1)).long() * stride
    chosen = augment.part_mask(generator, k, parts, dev, layout)                              # (k, V)
    mode = torch.rand(k, generator=generator, device=dev)
    lam = torch.rand(k, generator=generator, device=dev).to(x.dtype)
    if per_batch:
        width, start, chosen, mode, lam = (a.expand(n, *a.shape[1:])
                                           for a in (width, start, chosen, mode, lam))
    frame = torch.arange(t, device=dev)[None]
    window = (frame >= start[:, None]) & (frame < (start + width)[:, None])          # (n, T)
    region = window[:, :, None] & chosen[:, None]                                     # (n, T, V)
    # Source frame of the partner: the same frame, or for the speed variant the nearest of the
    # first min(2 W, T) frames resized to the W of the window.
    speed = (mode <= 0.5) & (mode > 0.25)
    head = (2 * width).clamp(max=t)
    sped = ((frame - start[:, None]).clamp(min=0) * head[:, None]) // width[:, None]
    src = torch.where(speed[:, None], sped, frame).clamp(0, t - 1)
    pasted = partner.gather(2, src.view(n, 1, t, 1, 1).expand(n, c, t, v, m))
    share = region.to(x.dtype)
    mixup = mode <= 0.25
    share = torch.where(mixup[:, None, None], lam[:, None, None].expand_as(share), share)
    share = share[:, None, :, :, None]
    mixed = torch.where(mixup.view(n, 1, 1, 1, 1), (1 - share) * x + share * partner,
                        torch.where(share > 0, pasted, x))
    return mixed, share


@METHODS.register("actclr")
class ActCLR(MoCo):
    def __init__(self, encoder, num_classes, stream="joint", queue_size=65536, momentum=0.999,
                 temperature=0.07, feature_dim=128, crop_ratio=6, shear=0.5, noise_normal=0.01,
                 noise_strong=0.05, curriculum=(100, 200, 300), topk=8192, tau_t=0.04, tau_s=0.1,
                 dedup=0.95, energy_temperature=0.1, faithful=True, released=RELEASED):
        super().__init__(encoder, num_classes, stream, queue_size, momentum, temperature, feature_dim)
        unknown = set(released) - set(RELEASED)
        if unknown:
            raise ValueError(f"released: unknown behaviour(s) {sorted(unknown)}; known: "
                             f"{', '.join(RELEASED)}")
        self.released = frozenset(released)
        self.crop_ratio, self.shear = crop_ratio, shear
        self.noise_normal, self.noise_strong, self.curriculum = noise_normal, noise_strong, tuple(curriculum)
        self.topk, self.tau_t, self.tau_s, self.dedup = topk, tau_t, tau_s, dedup
        self.energy_temperature, self.faithful = energy_temperature, faithful
        self._sets: tuple = (None, NORMAL, STRONG)

    # --- views ---------------------------------------------------------------------------------
    def stage_sets(self, epoch: int, generator) -> tuple[tuple, tuple, bool]:
        """(normal set, strong set, weak views on?) for ``epoch``, drawn once per epoch:
        all / 3 of 5 and 5 of 7 / 1 of 5 and 3 of 7 / no augmentation at all."""
        if self._sets[0] != epoch:
            stage = sum(epoch >= e for e in self.curriculum)
            keep = [(5, 7), (3, 5), (1, 3), (0, 0)][stage]

            def pick(names, k):
                order = torch.randperm(len(names), generator=generator, device=generator.device)
                return tuple(names[i] for i in sorted(order[:k].tolist()))

            self._sets = (epoch, pick(NORMAL, keep[0]), pick(STRONG, keep[1]))
        return self._sets[1], self._sets[2], epoch < self.curriculum[-1]

    def weak(self, x, generator, on: bool):
        if not on:
            return x
        return augment.shear(augment.temporal_crop(x, generator, self.crop_ratio), generator, self.shear)

    def augmented(self, x, names, noise, generator):
        extreme = tuple(n for n in names if n in NORMAL)
        x = augment.extreme(x, generator, extreme, noise, self.faithful, layout=self.layout)
        if "speed" in names:
            x = augment.speed(x, generator)
        if "bone_rescale" in names:
            x = augment.bone_rescale(x, generator, layout=self.layout)
        return x

    # --- embeddings ----------------------------------------------------------------------------
    def _query_head(self, fmap, persons):
        return self.projector(self.encoder.pool(fmap, persons))

    def _key_head(self, fmap, persons):
        return self.key_projector(self.key_encoder.pool(fmap, persons))

    def key(self, x, anchor):
        """Semantic-aware pooling: half global, half actionlet-weighted."""
        persons = x.shape[-1]
        with torch.no_grad():
            fmap = self.key_encoder.forward_features(self.to_input(x))
        act = actionlet_map(fmap, self._key_head, anchor, persons, inert=self.inert,
                            layout=self.layout)
        with torch.no_grad():
            weighted = (fmap * act).sum(dim=(2, 3)) / (act.sum(dim=(2, 3)) + 1e-5)   # as the code
            weighted = weighted.view(-1, persons, weighted.shape[1]).mean(dim=1)
            k_global = self._key_head(fmap, persons)
            k_local = self.key_projector(weighted)
            return F.normalize(0.5 * k_global + 0.5 * k_local, dim=1)

    def query_actionlet(self, x, anchor):
        with torch.no_grad():
            fmap = self.encoder.forward_features(self.to_input(x))
        return actionlet_map(fmap, self._query_head, anchor, x.shape[-1], inert=self.inert,
                             layout=self.layout)

    @property
    def inert(self) -> bool:
        return "inert_actionlet" in self.released

    def partner(self, n: int, generator, device) -> torch.Tensor:
        """j = (i + r) mod N with one shift r in [1, N-2] for the batch, as the official code."""
        shift = int(torch.randint(1, max(n - 1, 2), (1,), generator=generator, device=device))
        return (torch.arange(n, device=device) + shift) % n

    def swap_ranges(self, epoch: int) -> dict:
        """Branch 2's swap ranges: the released code's narrower ones from the second curriculum
        stage (epoch 200 of 350) on."""
        late = "swap_schedule" in self.released and epoch >= self.curriculum[1]
        return {"parts": (1, 2), "cells": (1, 3)} if late else {}

    def loss(self, q, teacher):
        return relational_kl(q, teacher, self.queue, self.topk, self.tau_t, self.tau_s, self.dedup)

    def views(self, x, epoch, generator):
        """Key, partner, normal and strong views; the actionlet-dependent mixing needs the model."""
        normal, strong, weak_on = self.stage_sets(epoch, generator)
        x_k, x_p = self.weak(x, generator, weak_on), self.weak(x, generator, weak_on)
        x_n = self.augmented(self.weak(x, generator, weak_on), normal, self.noise_normal, generator)
        x_s = self.augmented(self.weak(x, generator, weak_on), strong, self.noise_strong, generator)
        return x_k, x_p, x_n, x_s

    def training_step(self, x, y, epoch, generator):
        n, _, t, _, persons = x.shape
        x_k, x_p, x_n, x_s = self.views(x, epoch, generator)
        self.momentum_update()
        with torch.no_grad():
            anchor = self.embed_key(x_k.mean(dim=0, keepdim=True))       # the static anchor
        k = self.key(x_k, anchor)
        independent = "independent_partners" in self.released
        batch_draws = "batch_swap_draws" in self.released
        j = self.partner(n, generator, x.device)
        # Branch 1: the actionlet keeps the normal view, the rest takes the strong one.
        a_n = upsample(self.query_actionlet(x_n, anchor), t, persons)
        l1 = self.loss(self.embed(a_n * x_n + (1 - a_n) * x_s), k)
        # Branch 2: the partner's bone lengths; outside the actionlet, a swap with a partner.
        a_p = upsample(self.query_actionlet(x_p, anchor), t, persons)
        x_t = bone_transfer(x_p, x_p[j], self.layout)
        j2 = self.partner(n, generator, x.device) if independent else j
        x_sw, _ = swap(x_t, x_t[j2], generator, per_batch=batch_draws, layout=self.layout,
                       **self.swap_ranges(epoch))
        l2 = self.loss(self.embed(a_p * x_t + (1 - a_p) * x_sw), k)
        # Branch 3: a swap against the two keys, weighted by the actionlet energy each keeps.
        j3 = self.partner(n, generator, x.device) if independent else j
        source = x_t if "branch3_transferred" in self.released else x_p
        x_mix, share = swap(source, source[j3], generator, per_batch=batch_draws, layout=self.layout)
        energy = torch.exp(a_p / self.energy_temperature)                    # (N, 1, T, V, M)
        own = ((1 - share) * energy).sum(dim=(1, 2, 3, 4)) / energy.sum(dim=(1, 2, 3, 4))
        other = (share * energy[j3]).sum(dim=(1, 2, 3, 4)) / energy[j3].sum(dim=(1, 2, 3, 4))
        weight = own / (own + other).clamp(min=1e-8)
        l3 = self.loss(self.embed(x_mix), F.normalize(weight[:, None] * k + (1 - weight[:, None]) * k[j3], dim=1))
        self.defer_enqueue(k)
        return {"loss": l1 + l2 + l3, "loss_1": l1.detach(), "loss_2": l2.detach(), "loss_3": l3.detach()}
