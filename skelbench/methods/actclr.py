"""ActCLR (Lin, Zhang, Liu, CVPR 2023): actionlet-dependent contrastive learning, phase 2.

The recipe's ``init`` names phase 1: an AimCLR pretraining of the same dataset, stream and
backbone, reused or trained by the runner and linked as ``parent_run_id``; its query encoder
initialises both encoders here (the queue starts afresh).

Per step, four views: strong X_s, normal X_n, and weak X_p, X_k (crop + shear), converted to the
encoder's stream as they are drawn (the official processor's ``view_gen``), so the transfer,
swaps and mixing below work on stream data. The actionlet of an input is a Grad-CAM-like map on
the final feature map: the gradient of 1 - cos(z, a) with a the key embedding of the batch-mean
sequence (the static anchor), channel-weighted, ReLU, scaled by 1e8 and clipped, averaged per
body part; it and the key pooling run in float32 under autocast, as the official fp32 code.
Three branches, each a query against a teacher by the relational KL over the memory (top-8192,
near-duplicates dropped, squared student similarities):
1. A_n X_n + (1 - A_n) X_s against the key;
2. A_p X_t + (1 - A_p) swap(X_t) against the key, X_t = X_p with the partner's bone lengths;
3. swap(X_p) against the keys of the two sources mixed by the actionlet energy each keeps, per
   person on the feature grid (T / 4 cells), averaged over persons.
Keys pool half globally, half over their actionlet (semantic-aware pooling). The augmentation
curriculum thins the normal/strong sets by epoch and ends all augmentation after the last stage.

``released`` lists behaviours of the official code that the paper does not describe, each a
switch (docs/methods.md, with the files and lines). Two versions of that code exist: the source
saved with the pretraining behind the published numbers (2023-12-25, ``RUN``: the ``actclr``
recipe) and the repository's final commit (7c63e60, ``FINAL``: ``actclr-final``);
``actclr-described`` turns every switch off.
- ``inert_actionlet`` (final): the anchor cosine normalises over a singleton axis, so its
  gradient is round-off and the actionlet map ~0;
- ``swap_schedule`` (both): branch 2's swap ranges shrink (1-2 parts x 1-3 cells) from the
  second curriculum stage on (the code's ``epoch < 200`` on its 1-based epochs);
- ``independent_partners`` (both): the transfer and the two swaps each draw their own partner;
- ``batch_swap_draws`` (both): a swap's parts, window, mode and mixup coefficient are drawn once
  per batch;
- ``branch3_transferred`` (both): branch 3 swaps the transferred clip (the joint transfer edits
  its input in place; the final commit's motion and bone transfers return a new clip);
- ``partial_transfer`` (run): bones move only part of the way to the partner's, by the ratio's
  power 100 / (e + 400) at 1-based epoch e of the 350;
- ``person_axis_lengths`` (run): a bone's "length" is its norm over the bodies, per coordinate,
  not over the coordinates;
- ``stream_transfer`` (final): motion takes the partner's statistics and bone the partner's bone
  norms instead of the joint rebuild, which the run applies to every stream;
- ``feature_axis_mix`` (run, off in every recipe): branch 3's weights scale the keys' feature
  axis (``k * c`` with c of shape (N,)), which runs only where the batch equals the feature
  dimension (128 = 128 in the run).
"""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import torch
from torch.nn import functional as F

from .. import augment
from ..losses import relational_kl
from ..registry import METHODS
from ..skeleton import Layout
from .base import MoCo

NORMAL = ("flip", "rotate", "noise", "blur", "axis_mask")
STRONG = NORMAL + ("speed", "bone_rescale")
BOTH = ("swap_schedule", "independent_partners", "batch_swap_draws", "branch3_transferred")
RUN = BOTH + ("partial_transfer", "person_axis_lengths")
FINAL = ("inert_actionlet",) + BOTH + ("stream_transfer",)
RELEASED = tuple(dict.fromkeys(RUN + FINAL + ("feature_axis_mix",)))


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
    static ``anchor`` (1, D), averaged per body part; in float32 whatever the autocast (in bf16
    the 1e8 gain turns rounding into the map). ``inert``: the final commit's cosine, whose
    embeddings are (N, D, 1, 1) and normalised over the last, singleton, axis."""
    with torch.autocast(fmap.device.type, enabled=False), torch.enable_grad():
        leaf = fmap.detach().float().requires_grad_(True)
        anchor = anchor.float()
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


def bone_transfer(x: torch.Tensor, partner: torch.Tensor, layout: Layout, power: float = 1.0,
                  person_axis: bool = False) -> torch.Tensor:
    """Each bone scaled by (|partner's bone| / |own bone|) ** ``power``, the skeleton rebuilt from
    the centre outwards; |b| = sqrt(sum b^2 + 1e-5) over the coordinates, or (``person_axis``,
    the run's) over the bodies, per coordinate. ``power`` 1: the bone takes the partner's
    length and keeps its direction."""
    parent = list(layout.bone_parent)
    bones, theirs = x - x[:, :, :, parent], partner - partner[:, :, :, parent]
    dim = -1 if person_axis else 1
    ratio = ((theirs.square().sum(dim, keepdim=True) + 1e-5).sqrt()
             / (bones.square().sum(dim, keepdim=True) + 1e-5).sqrt())
    scaled = bones * ratio ** power
    out = x.clone()
    for v in layout.root_outward[1:]:
        out[:, :, :, v] = out[:, :, :, parent[v]] + scaled[:, :, :, v]
    return out


def stream_transfer(x: torch.Tensor, partner: torch.Tensor, stream: str,
                    layout: Layout) -> torch.Tensor:
    """The final commit's transfer per stream: joints take the partner's bone lengths; motion is
    standardised (mean over joints, std over time) and takes the partner's statistics; bones
    take the partner's bone norms."""
    if stream == "motion":
        return ((x - x.mean(dim=3, keepdim=True)) / (x.std(dim=2, keepdim=True) + 1e-3)
                * partner.std(dim=2, keepdim=True) + partner.mean(dim=3, keepdim=True))
    if stream == "bone":
        return (x / (x.square().sum(1, keepdim=True) + 1e-5).sqrt()
                * (partner.square().sum(1, keepdim=True) + 1e-5).sqrt())
    return bone_transfer(x, partner, layout)


class Swap(NamedTuple):
    """A swap's result. ``share`` (N, 1, T, V, 1): the partner's share of each joint and frame.
    On the feature grid of T' = ceil(T / stride) cells, (N, T', V): ``taken``, the cells that no
    longer hold this sample's own data, and ``given``, the partner's cells it is credited with:
    the window for a plain swap, the chosen parts over the whole clip for a speed swap (its
    source is the partner's first frames), the mixup coefficient everywhere for mixup."""
    mixed: torch.Tensor
    share: torch.Tensor
    taken: torch.Tensor
    given: torch.Tensor


def swap(x, partner, generator, parts=(2, 3), cells=(3, 5), stride: int = 4,
         per_batch: bool = False, *, layout: Layout) -> Swap:
    """SkeleMix-style mixing with a partner: with p 0.5 the partner's chosen parts over a window of
    W = C_t * stride frames (stride-aligned) replace this sample's; with p 0.25 the partner's
    first min(2 W, T) frames, resized to W by nearest neighbour, are pasted there; with p 0.25
    mixup (1 - l) x + l x_j. Drawn per sample, or once for the batch (``per_batch``, the
    official code's)."""
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
        ct, width, start, chosen, mode, lam = (a.expand(n, *a.shape[1:])
                                               for a in (ct, width, start, chosen, mode, lam))
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
    mixup = mode <= 0.25
    share = torch.where(mixup[:, None, None], lam[:, None, None].expand(n, t, v), region.to(x.dtype))
    share = share[:, None, :, :, None]
    mixed = torch.where(mixup.view(n, 1, 1, 1, 1), (1 - share) * x + share * partner,
                        torch.where(share > 0, pasted, x))
    # The same draw on the feature grid (the code's masks).
    cell = torch.arange(-(-t // stride), device=dev)[None]
    first = start // stride
    in_window = (cell >= first[:, None]) & (cell < (first + ct)[:, None])             # (n, T')
    taken = (in_window[:, :, None] & chosen[:, None]).to(x.dtype)                    # (n, T', V)
    given = torch.where(speed[:, None, None], chosen[:, None].to(x.dtype).expand_as(taken), taken)
    fill = lam[:, None, None].expand_as(taken)
    return Swap(mixed, share, torch.where(mixup[:, None, None], fill, taken),
                torch.where(mixup[:, None, None], fill, given))


def energy_weights(energy: torch.Tensor, partner: torch.Tensor, taken: torch.Tensor,
                   given: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Branch 3's (own, partner) weights (N,), summing to 1: per person, the share of this
    sample's actionlet energy (N, M, 1, T', V) that the swap left in place and the share of the
    partner's it brought in, averaged over persons (the denominators' 1e-5 as coded)."""
    taken, given = taken[:, None, None], given[:, None, None]
    theirs = energy[partner]
    p = ((theirs * given).sum(dim=(-2, -1)) / (theirs + 1e-5).sum(dim=(-2, -1))).mean(dim=(1, 2))
    c = ((energy * (1 - taken)).sum(dim=(-2, -1)) / (energy.sum(dim=(-2, -1)) + 1e-5)).mean(dim=(1, 2))
    return c / (p + c), p / (p + c)


def mixed_key(k: torch.Tensor, partner: torch.Tensor, own: torch.Tensor, other: torch.Tensor,
              feature_axis: bool = False) -> torch.Tensor:
    """Branch 3's teacher: l2(own_i k_i + other_i k_j(i)). ``feature_axis``: the run's
    ``k * c + k[j] * p`` with (N,) weights, which broadcast over the feature axis (column d
    weighted by sample d's weights) and so run only where N equals the feature dimension."""
    if feature_axis:
        if len(k) != k.shape[1]:
            raise ValueError(f"released: feature_axis_mix weighs the keys' feature axis by the "
                             f"batch's weights (the run's k * c), which needs the batch "
                             f"({len(k)}) to equal the feature dimension ({k.shape[1]})")
        own, other = own[None], other[None]
    else:
        own, other = own[:, None], other[:, None]
    return F.normalize(own * k + other * k[partner], dim=1)


@METHODS.register("actclr")
class ActCLR(MoCo):
    def __init__(self, encoder, num_classes, stream="joint", queue_size=65536, momentum=0.999,
                 temperature=0.07, feature_dim=128, crop_ratio=6, shear=0.5, noise_normal=0.01,
                 noise_strong=0.05, curriculum=(100, 200, 300), topk=8192, tau_t=0.04, tau_s=0.1,
                 dedup=0.95, energy_temperature=0.1, faithful=True, released=RUN):
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

    def to_input(self, x):
        return x            # the views are stream data already (views())

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

    def views(self, x, epoch, generator):
        """Key, partner, normal and strong views, augmented as joints and then converted to the
        encoder's stream; the actionlet-dependent mixing needs the model."""
        normal, strong, weak_on = self.stage_sets(epoch, generator)
        x_k, x_p = self.weak(x, generator, weak_on), self.weak(x, generator, weak_on)
        x_n = self.augmented(self.weak(x, generator, weak_on), normal, self.noise_normal, generator)
        x_s = self.augmented(self.weak(x, generator, weak_on), strong, self.noise_strong, generator)
        return tuple(augment.to_stream(v, self.stream, self.layout) for v in (x_k, x_p, x_n, x_s))

    # --- embeddings ----------------------------------------------------------------------------
    def _query_head(self, fmap, persons):
        return self.projector(self.encoder.pool(fmap, persons))

    def _key_head(self, fmap, persons):
        return self.key_projector(self.key_encoder.pool(fmap, persons))

    @property
    def inert(self) -> bool:
        return "inert_actionlet" in self.released

    def key(self, x, anchor):
        """Semantic-aware pooling: half global, half actionlet-weighted; in float32."""
        persons = x.shape[-1]
        with torch.no_grad():
            fmap = self.key_encoder.forward_features(x).float()      # once, for both uses
        act = actionlet_map(fmap, self._key_head, anchor, persons, inert=self.inert,
                            layout=self.layout)
        with torch.no_grad(), torch.autocast(fmap.device.type, enabled=False):
            weighted = (fmap * act).sum(dim=(2, 3)) / (act.sum(dim=(2, 3)) + 1e-5)   # as the code
            weighted = weighted.view(-1, persons, weighted.shape[1]).mean(dim=1)
            k_global = self._key_head(fmap, persons)
            k_local = self.key_projector(weighted)
            return F.normalize(0.5 * k_global + 0.5 * k_local, dim=1)

    def query_actionlet(self, x, anchor):
        with torch.no_grad():
            fmap = self.encoder.forward_features(x)
        return actionlet_map(fmap, self._query_head, anchor, x.shape[-1], inert=self.inert,
                             layout=self.layout)

    # --- the official schedule and draws -------------------------------------------------------
    def official_epoch(self, epoch: int) -> float:
        """The code's 1-based epoch on its 350-epoch schedule, the card's curriculum scaling it."""
        return (epoch + 1) * 200 / self.curriculum[1]

    def partner(self, n: int, generator, device) -> torch.Tensor:
        """j = (i + r) mod N with one shift r in [1, N-2] for the batch, as the official code."""
        shift = int(torch.randint(1, max(n - 1, 2), (1,), generator=generator, device=device))
        return (torch.arange(n, device=device) + shift) % n

    def swap_ranges(self, epoch: int) -> dict:
        """Branch 2's swap ranges: the official code's narrower ones from the second curriculum
        stage on (``epoch < 200`` on 1-based epochs: from 0-based epoch 199 of 350)."""
        late = "swap_schedule" in self.released and self.official_epoch(epoch) >= 200
        return {"parts": (1, 2), "cells": (1, 3)} if late else {}

    def transfer(self, x, partner, epoch):
        """Branch 2's X_t: the partner's bone lengths (``released`` picks the code's version)."""
        if "stream_transfer" in self.released:
            return stream_transfer(x, partner, self.stream, self.layout)
        power = 100 / (self.official_epoch(epoch) + 400) if "partial_transfer" in self.released else 1.0
        return bone_transfer(x, partner, self.layout, power, "person_axis_lengths" in self.released)

    def loss(self, q, teacher):
        return relational_kl(q, teacher, self.queue, self.topk, self.tau_t, self.tau_s, self.dedup)

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
        cells_p = self.query_actionlet(x_p, anchor)                      # (N*M, 1, T', V)
        a_p = upsample(cells_p, t, persons)
        x_t = self.transfer(x_p, x_p[j], epoch)
        j2 = self.partner(n, generator, x.device) if independent else j
        x_sw = swap(x_t, x_t[j2], generator, per_batch=batch_draws, layout=self.layout,
                    **self.swap_ranges(epoch)).mixed
        l2 = self.loss(self.embed(a_p * x_t + (1 - a_p) * x_sw), k)
        # Branch 3: a swap against the two keys, weighted by the actionlet energy each keeps.
        j3 = self.partner(n, generator, x.device) if independent else j
        in_place = "stream_transfer" not in self.released or self.stream == "joint"
        source = x_t if "branch3_transferred" in self.released and in_place else x_p
        mix = swap(source, source[j3], generator, per_batch=batch_draws, layout=self.layout)
        energy = torch.exp(cells_p / self.energy_temperature)
        energy = energy.view(n, persons, *energy.shape[1:])             # (N, M, 1, T', V)
        own, other = energy_weights(energy, j3, mix.taken, mix.given)
        teacher = mixed_key(k, j3, own, other, "feature_axis_mix" in self.released)
        l3 = self.loss(self.embed(mix.mixed), teacher)
        self.defer_enqueue(k)
        return {"loss": l1 + l2 + l3, "loss_1": l1.detach(), "loss_2": l2.detach(), "loss_3": l3.detach()}
