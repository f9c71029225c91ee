"""TranCLR (CVPR 2026): transitional anchors between samples, aligned by soft distillation.

ATAC builds an anchor A between two sequences with a coefficient lambda, the fraction of the
first: globally A = lambda X_i + (1 - lambda) X_j, or locally by writing a time-resized window of
2-3 body parts of X_i into X_j (lambda = the mask's mean over (T, V)); each pair picks one with
probability 0.5. MGMC aligns the query embedding of anchors with lambda-interpolations of momentum
keys at three levels (intra: two views of one sample; inter: a sample and a partner; cross:
anchors of a pair and of its reverse-order pair), each by soft alignment against the top-K
neighbours of the target in a memory of real samples' keys. No InfoNCE unless ``infonce``.

Choices the paper leaves open (recipe values, docs/methods.md): the two views are
SkeletonCLR's crop + shear; the inter partner is one random shift r in [1, N-1] per batch,
j = (i + r) mod N; the cross level builds A(1) from the first views and A(2) from the second.
"""
from __future__ import annotations

import torch

from .. import augment
from ..losses import info_nce, soft_alignment
from ..registry import METHODS
from .base import MoCo

def local_substitution(xi, xj, generator, num_parts=(2, 3), window=(16, 24), kappa=(0.5, 2.0), *,
                       layout):
    """Write a window of X_i's chosen parts, W' frames long and resized linearly to W frames, into
    X_j at a random W-frame window. Returns (anchor, mask (N, T, V), lambda = mask mean)."""
    n, c, t, v, m = xj.shape
    dev = xj.device
    w = torch.randint(window[0], window[1] + 1, (n,), generator=generator, device=dev).clamp(max=t)
    k = torch.rand(n, generator=generator, device=dev) * (kappa[1] - kappa[0]) + kappa[0]
    w_src = (k * w).round().long().clamp(1, t)
    t0 = (torch.rand(n, generator=generator, device=dev) * (t - w + 1)).long()
    s0 = (torch.rand(n, generator=generator, device=dev) * (t - w_src + 1)).long()
    frame = torch.arange(t, device=dev)[None]
    inside = (frame >= t0[:, None]) & (frame < (t0 + w)[:, None])            # (n, T)
    # Target frame t0 + u reads source position s0 + u (W' - 1) / (W - 1) (ends aligned).
    u = (frame - t0[:, None]).clamp(min=0).float()
    pos = s0[:, None] + u * (w_src - 1)[:, None] / (w - 1).clamp(min=1)[:, None]
    pos = pos.clamp(max=t - 1)
    lo = pos.floor().long()
    hi = (lo + 1).clamp(max=t - 1)
    frac = (pos - lo).view(n, 1, t, 1, 1).to(xi.dtype)

    def take(idx):
        return xi.gather(2, idx.view(n, 1, t, 1, 1).expand(n, c, t, v, m))

    resized = take(lo) * (1 - frac) + take(hi) * frac
    mask = inside[:, :, None] & augment.part_mask(generator, n, num_parts, dev, layout)[:, None, :]   # (n, T, V)
    anchor = torch.where(mask[:, None, :, :, None], resized, xj)
    return anchor, mask, mask.float().mean(dim=(1, 2))


def atac(xi, xj, generator, mode: str = "both", *, layout, **local):
    """(anchor, lambda per sample): global interpolation or local substitution, chosen per pair
    with probability 0.5 (``mode`` both), or always one of them (global / local)."""
    n = xi.shape[0]
    lam_g = torch.rand(n, generator=generator, device=xi.device)
    glob = lam_g.view(n, 1, 1, 1, 1).to(xi.dtype) * xi + (1 - lam_g.view(n, 1, 1, 1, 1).to(xi.dtype)) * xj
    if mode == "global":
        return glob, lam_g
    loc, _, lam_l = local_substitution(xi, xj, generator, layout=layout, **local)
    if mode == "local":
        return loc, lam_l
    use_global = torch.rand(n, generator=generator, device=xi.device) < 0.5
    return (torch.where(use_global.view(n, 1, 1, 1, 1), glob, loc),
            torch.where(use_global, lam_g, lam_l))


def cross_weight(lam1: torch.Tensor, lam2: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    """lambda_cross = k_h / (k_h + k_c): k_h = min(l1, l2) + min(1-l1, 1-l2) (same-source overlap),
    k_c = min(l1, mu) + min(1-l1, 1-mu) with mu the fraction of X_i in the reverse pair's anchor."""
    k_h = torch.minimum(lam1, lam2) + torch.minimum(1 - lam1, 1 - lam2)
    k_c = torch.minimum(lam1, mu) + torch.minimum(1 - lam1, 1 - mu)
    return k_h / (k_h + k_c).clamp(min=1e-12)


def mix(lam: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return lam[:, None] * a + (1 - lam[:, None]) * b


@METHODS.register("tranclr")
class TranCLR(MoCo):
    def __init__(self, encoder, num_classes, stream="joint", queue_size=65536, momentum=0.999,
                 temperature=0.07, feature_dim=128, crop_ratio=6, shear=0.5, anchors="both",
                 levels=("intra", "inter", "cross"), num_parts=(2, 3), window=(16, 24),
                 kappa=(0.5, 2.0), topk=8192, tau_q=0.1, tau_k=0.05, infonce=False):
        super().__init__(encoder, num_classes, stream, queue_size, momentum, temperature, feature_dim)
        if anchors not in ("both", "global", "local"):
            raise ValueError(f"anchors must be both, global or local, not {anchors!r}")
        unknown = set(levels) - {"intra", "inter", "cross"}
        if unknown or not levels:
            raise ValueError(f"levels must be a non-empty subset of intra, inter, cross; got {levels}")
        self.crop_ratio, self.shear, self.anchors, self.levels = crop_ratio, shear, anchors, tuple(levels)
        self.local = {"num_parts": tuple(num_parts), "window": tuple(window), "kappa": tuple(kappa)}
        self.topk, self.tau_q, self.tau_k, self.infonce = topk, tau_q, tau_k, infonce

    def view(self, x, generator):
        return augment.shear(augment.temporal_crop(x, generator, self.crop_ratio), generator, self.shear)

    def anchor(self, xi, xj, generator):
        return atac(xi, xj, generator, self.anchors, layout=self.layout, **self.local)

    def align(self, query_input, target):
        return soft_alignment(self.embed(query_input), target, self.queue, self.topk, self.tau_q,
                              self.tau_k)

    def views(self, x, epoch, generator):
        return self.view(x, generator), self.view(x, generator)        # X-hat, X-tilde

    def training_step(self, x, y, epoch, generator):
        n = x.shape[0]
        x1, x2 = self.views(x, epoch, generator)
        self.momentum_update()
        k1, k2 = self.embed_key(x1), self.embed_key(x2)
        out, total = {}, 0.0
        if "intra" in self.levels:
            a, lam = self.anchor(x1, x2, generator)
            out["loss_intra"] = self.align(a, mix(lam, k1, k2))
        if "inter" in self.levels:
            shift = int(torch.randint(1, max(n, 2), (1,), generator=generator, device=x.device))
            j = (torch.arange(n, device=x.device) + shift) % n
            a, lam = self.anchor(x2, x2[j], generator)
            out["loss_inter"] = self.align(a, mix(lam, k2, k2[j]))
        if "cross" in self.levels:
            rev = torch.arange(n - 1, -1, -1, device=x.device)
            a1, lam1 = self.anchor(x1, x1[rev], generator)
            a2, lam2 = self.anchor(x2, x2[rev], generator)
            weight = cross_weight(lam1, lam2, 1 - lam2[rev])
            k_a2 = self.embed_key(a2)
            out["loss_cross"] = self.align(a1, mix(weight, k_a2, k_a2[rev]))
        if self.infonce:
            out["loss_nce"] = info_nce(self.embed(x1), k2, self.queue, self.temperature)
        for value in out.values():
            total = total + value
        self.defer_enqueue(k2)                     # the memory holds keys of real samples
        return {"loss": total, **{k: v.detach() for k, v in out.items()}}
