"""Batched skeleton augmentations and input streams.

Every augmentation is a pure function ``f(x, generator, **params) -> x`` over a batch
(N, C, T, V, M) on any device. Random parameters are drawn per sample from ``generator``
(a ``torch.Generator`` on the batch's device), so the same generator state gives the same
output and different samples of one batch get different parameters. No per-sample Python loop.
"""
from __future__ import annotations

import torch

from . import skeleton


def _uniform(generator: torch.Generator, shape, low: float, high: float, device) -> torch.Tensor:
    return torch.rand(shape, generator=generator, device=device) * (high - low) + low


def temporal_crop(x: torch.Tensor, generator: torch.Generator, ratio: int = 6) -> torch.Tensor:
    """Random temporal shift with mirror padding (SkeletonCLR's ``temperal_crop``).

    Pads p = T // ratio time-reversed frames at both ends, then takes a length-T window
    starting uniformly in [0, 2p], independently per sample.
    """
    n, c, t, v, m = x.shape
    p = t // ratio
    if p == 0:
        return x
    padded = torch.cat([x[:, :, :p].flip(2), x, x[:, :, t - p:].flip(2)], dim=2)
    start = torch.randint(0, 2 * p + 1, (n,), generator=generator, device=x.device)
    index = start[:, None] + torch.arange(t, device=x.device)[None, :]
    index = index.view(n, 1, t, 1, 1).expand(n, c, t, v, m)
    return padded.gather(2, index)


def shear(x: torch.Tensor, generator: torch.Generator, amplitude: float = 0.5) -> torch.Tensor:
    """x' = S x with S = I + off-diagonal entries ~ U(-a, a), one S per sample."""
    n = x.shape[0]
    s = _uniform(generator, (n, 3, 3), -amplitude, amplitude, x.device)
    s = s * (1 - torch.eye(3, device=x.device)) + torch.eye(3, device=x.device)
    return torch.einsum("nij,njtvm->nitvm", s.to(x.dtype), x)


# --- input streams -----------------------------------------------------------------------------
def motion(x: torch.Tensor) -> torch.Tensor:
    """m[t] = x[t+1] - x[t]; the last frame is zero."""
    out = torch.zeros_like(x)
    out[:, :, :-1] = x[:, :, 1:] - x[:, :, :-1]
    return out


_PARENT = torch.tensor(skeleton.BONE_PARENT)


def bone(x: torch.Tensor) -> torch.Tensor:
    """bone[v] = x[v] - x[parent(v)]; the centre joint is its own parent (zero bone)."""
    return x - x[:, :, :, _PARENT.to(x.device)]


STREAMS = {"joint": lambda x: x, "motion": motion, "bone": bone}


def to_stream(x: torch.Tensor, stream: str) -> torch.Tensor:
    try:
        return STREAMS[stream](x)
    except KeyError:
        raise ValueError(f"unknown stream {stream!r}; choose one of {', '.join(STREAMS)}") from None
