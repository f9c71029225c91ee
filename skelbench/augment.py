"""Batched skeleton augmentations and input streams.

Every augmentation is a pure function ``f(x, generator, **params) -> x`` over a batch
(N, C, T, V, M) on any device. Random parameters are drawn per sample from ``generator``
(a ``torch.Generator`` on the batch's device), so the same generator state gives the same
output and different samples of one batch get different parameters. No per-sample Python loop.
"""
from __future__ import annotations

import torch

from .skeleton import Layout


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


# --- AimCLR's extreme set (applied in this order: flip, rotate, noise, blur, axis mask) -----------
# ``faithful=True`` keeps the official code's quirks: rotation angles are non-negative only and
# the blur kernel is not normalised (a gain of up to ~5x at sigma 2).
def _chosen(generator, n: int, p: float, device) -> torch.Tensor:
    """(n, 1, 1, 1, 1) bool: which samples get an augmentation applied with probability p."""
    return (torch.rand(n, generator=generator, device=device) < p).view(n, 1, 1, 1, 1)


def flip(x: torch.Tensor, generator: torch.Generator, p: float = 0.5, *,
         layout: Layout) -> torch.Tensor:
    """Left/right flip by the layout's joint permutation, with probability p per sample."""
    perm = torch.as_tensor(layout.flip, device=x.device)
    return torch.where(_chosen(generator, x.shape[0], p, x.device), x[:, :, :, perm], x)


def rotation_matrices(angles: torch.Tensor) -> torch.Tensor:
    """angles (n, 3) in degrees about x, y, z -> R = Rz Ry Rx (x applied first), (n, 3, 3)."""
    r = torch.deg2rad(angles)
    c, s = torch.cos(r), torch.sin(r)
    one, zero = torch.ones_like(c[:, 0]), torch.zeros_like(c[:, 0])

    def mat(rows):
        return torch.stack([torch.stack(row, -1) for row in rows], -2)

    rx = mat([[one, zero, zero], [zero, c[:, 0], s[:, 0]], [zero, -s[:, 0], c[:, 0]]])
    ry = mat([[c[:, 1], zero, -s[:, 1]], [zero, one, zero], [s[:, 1], zero, c[:, 1]]])
    rz = mat([[c[:, 2], s[:, 2], zero], [-s[:, 2], c[:, 2], zero], [zero, zero, one]])
    return rz @ ry @ rx


def rotate(x: torch.Tensor, generator: torch.Generator, main: float = 30.0, minor: float = 1.0,
           faithful: bool = True) -> torch.Tensor:
    """A main axis drawn from {x, y, z} turns by U(0, main) degrees, the other two by U(0, minor)
    (U(-a, a) each when not ``faithful``)."""
    n = x.shape[0]
    low = 0.0 if faithful else -1.0
    angles = _uniform(generator, (n, 3), low * minor, minor, x.device)
    axis = torch.randint(0, 3, (n,), generator=generator, device=x.device)
    big = _uniform(generator, (n,), low * main, main, x.device)
    angles = torch.where(torch.arange(3, device=x.device) == axis[:, None], big[:, None], angles)
    return torch.einsum("nij,njtvm->nitvm", rotation_matrices(angles).to(x.dtype), x)


def gaussian_noise(x: torch.Tensor, generator: torch.Generator, std: float = 0.01,
                   p: float = 0.5) -> torch.Tensor:
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype) * std
    return x + noise * _chosen(generator, x.shape[0], p, x.device)


def gaussian_blur(x: torch.Tensor, generator: torch.Generator, p: float = 0.5, size: int = 15,
                  sigma: tuple = (0.1, 2.0), faithful: bool = True) -> torch.Tensor:
    """Blur along time with a per-sample Gaussian kernel, zero padding at the ends."""
    n, c, t, v, m = x.shape
    sig = _uniform(generator, (n, 1), *sigma, x.device)
    offsets = torch.arange(size, device=x.device) - size // 2
    kernel = torch.exp(-offsets[None] ** 2 / (2 * sig ** 2))                      # (n, size)
    if not faithful:
        kernel = kernel / kernel.sum(dim=1, keepdim=True)
    rows = x.permute(0, 1, 3, 4, 2).reshape(1, n * c * v * m, t)
    weight = kernel.repeat_interleave(c * v * m, dim=0)[:, None].to(x.dtype)
    out = torch.nn.functional.conv1d(rows, weight, padding=size // 2, groups=n * c * v * m)
    out = out.view(n, c, v, m, t).permute(0, 1, 4, 2, 3)
    return torch.where(_chosen(generator, n, p, x.device), out, x)


def axis_mask(x: torch.Tensor, generator: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """Zero one coordinate channel (x, y or z) of every joint and frame."""
    n = x.shape[0]
    axis = torch.randint(0, 3, (n,), generator=generator, device=x.device)
    keep = torch.arange(x.shape[1], device=x.device)[None] != axis[:, None]            # (n, C)
    keep = keep.view(n, -1, 1, 1, 1) | ~_chosen(generator, n, p, x.device)
    return x * keep


def temporal_flip(x: torch.Tensor, generator: torch.Generator, p: float = 0.5) -> torch.Tensor:
    return torch.where(_chosen(generator, x.shape[0], p, x.device), x.flip(2), x)


EXTREME = {"flip": flip, "rotate": rotate, "noise": gaussian_noise, "blur": gaussian_blur,
           "axis_mask": axis_mask, "temporal_flip": temporal_flip}


def extreme(x: torch.Tensor, generator: torch.Generator, names=("flip", "rotate", "noise", "blur",
            "axis_mask"), noise_std: float = 0.01, faithful: bool = True, *,
            layout: Layout) -> torch.Tensor:
    """AimCLR's extreme augmentations in the given order (its default '12345')."""
    for name in names:
        if name == "flip":
            x = flip(x, generator, layout=layout)
        elif name == "noise":
            x = gaussian_noise(x, generator, std=noise_std)
        elif name in ("rotate", "blur"):
            x = EXTREME[name](x, generator, faithful=faithful)
        else:
            x = EXTREME[name](x, generator)
    return x


def part_mask(generator, n: int, num_parts, device, layout: Layout) -> torch.Tensor:
    """(n, V) bool: the joints of S ~ U{num_parts} of the layout's body parts, drawn per sample."""
    parts = tuple(layout.body_parts.values())
    s = torch.randint(num_parts[0], num_parts[1] + 1, (n, 1), generator=generator, device=device)
    rank = torch.rand(n, len(parts), generator=generator, device=device).argsort(1).argsort(1)
    chosen = rank < s                                                        # (n, parts)
    member = torch.zeros(len(parts), layout.num_joints, dtype=torch.bool, device=device)
    for p, joints in enumerate(parts):
        member[p, list(joints)] = True
    return (chosen.float() @ member.float()) > 0


# --- ActCLR's strong additions ----------------------------------------------------------------
def speed(x: torch.Tensor, generator: torch.Generator, p: float = 0.5,
          rate: tuple = (0.5, 1.5)) -> torch.Tensor:
    """Resize the clip linearly to floor(T r) frames, r ~ U(rate), into a T-frame zero buffer
    (cut when longer), with probability p per sample."""
    n, c, t, v, m = x.shape
    r = _uniform(generator, (n,), *rate, x.device)
    length = (t * r).floor().clamp(min=1)
    frame = torch.arange(t, device=x.device)[None].float()
    pos = ((frame + 0.5) * t / length[:, None] - 0.5).clamp(0, t - 1)            # (n, T)
    lo = pos.floor().long()
    hi = (lo + 1).clamp(max=t - 1)
    w = (pos - lo).view(n, 1, t, 1, 1).to(x.dtype)

    def take(idx):
        return x.gather(2, idx.view(n, 1, t, 1, 1).expand(n, c, t, v, m))

    out = (take(lo) * (1 - w) + take(hi) * w) * (frame < length[:, None]).view(n, 1, t, 1, 1)
    return torch.where(_chosen(generator, n, p, x.device), out, x)


def bone_rescale(x: torch.Tensor, generator: torch.Generator, scale: float = 0.5, *,
                 layout: Layout) -> torch.Tensor:
    """Rebuild each skeleton from the centre outwards with every bone multiplied by its own
    factor U(0, scale), one per sample and bone (ActCLR's '9': shrinks bones to 0-50 %)."""
    n = x.shape[0]
    factor = _uniform(generator, (n, 1, 1, layout.num_joints, 1), 0.0, scale, x.device).to(x.dtype)
    out = x.clone()
    for v in layout.root_outward[1:]:     # a loop over joints, not samples
        parent = layout.bone_parent[v]
        out[:, :, :, v] = out[:, :, :, parent] + factor[:, :, :, v] * (x[:, :, :, v] - x[:, :, :, parent])
    return out


# --- input streams -----------------------------------------------------------------------------
def motion(x: torch.Tensor, layout: Layout | None = None) -> torch.Tensor:
    """m[t] = x[t+1] - x[t]; the last frame is zero."""
    out = torch.zeros_like(x)
    out[:, :, :-1] = x[:, :, 1:] - x[:, :, :-1]
    return out


def bone(x: torch.Tensor, layout: Layout) -> torch.Tensor:
    """bone[v] = x[v] - x[parent(v)] in the layout; the centre is its own parent (zero bone)."""
    return x - x[:, :, :, torch.as_tensor(layout.bone_parent, device=x.device)]


STREAMS = {"joint": lambda x, layout: x, "motion": motion, "bone": bone}


def to_stream(x: torch.Tensor, stream: str, layout: Layout) -> torch.Tensor:
    """Joints (N, C, T, V, M) of ``layout`` -> the ``stream`` the encoder reads."""
    try:
        fn = STREAMS[stream]
    except KeyError:
        raise ValueError(f"unknown stream {stream!r}; choose one of {', '.join(STREAMS)}") from None
    return fn(x, layout)
