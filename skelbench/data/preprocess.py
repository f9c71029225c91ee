"""The preprocessing the skeleton SSL papers use (CrosSCLR/AimCLR ``preprocess_ntu.py``).

Per sample, from raw camera-space joints (T, M, V, 3) of a skeleton layout (the joints named
are NTU's; a layout names its own, e.g. Kinect v1's hip_center and shoulder_center):
1. valid length = frames where body 0's ``length_joint`` (spine base) is non-zero, before centring;
2. centre every frame of every body on its own ``center`` joint (spine shoulder, NTU's 21);
3. resize the valid frames linearly in time to the card's frame count (OpenCV INTER_LINEAR,
   i.e. pixel-centre alignment);
4. ``rotate``: per body and frame, turn about the vertical axis so the ``shoulders`` line (right
   minus left, y dropped) lies along x; the angle's sign is chosen once per body from the sum of
   the shoulder vector's z over frames, as the original.
Output (3, frames, V, M) float32, the layout every method reads.
"""
from __future__ import annotations

import numpy as np

from ..skeleton import Layout


def valid_length(x: np.ndarray, layout: Layout) -> int:
    """x (T, M, V, 3): the number of frames where body 0's ``length_joint`` is non-zero."""
    return int((x[:, 0, layout.index(layout.length_joint)] != 0).any(-1).sum())


def resize_time(x: np.ndarray, length: int, frames: int) -> np.ndarray:
    """Linear resize of x[:length] (T, ...) to ``frames`` along axis 0 (align_corners=False)."""
    if length <= 0:
        raise ValueError("empty sequence")
    pos = np.clip((np.arange(frames) + 0.5) * length / frames - 0.5, 0, length - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, length - 1)
    w = (pos - lo).reshape((-1,) + (1,) * (x.ndim - 1))
    return x[lo] * (1 - w) + x[hi] * w


def align_shoulders(x: np.ndarray, layout: Layout) -> np.ndarray:
    """x (T, M, V, 3) -> rotated about y per body and frame (step 4 above)."""
    left, right = (layout.index(j) for j in layout.shoulders)
    v = x[:, :, right] - x[:, :, left]                                       # (T, M, 3)
    norm = np.sqrt(v[..., 0] ** 2 + v[..., 2] ** 2)
    theta = np.arccos(np.clip(v[..., 0] / (norm + 1e-4), -1, 1))           # (T, 2)
    theta = np.where(v[..., 2].sum(axis=0) >= 0, -theta, theta)
    c, s = np.cos(theta)[:, :, None], np.sin(theta)[:, :, None]
    out = x.copy()
    out[..., 0] = c * x[..., 0] - s * x[..., 2]
    out[..., 2] = s * x[..., 0] + c * x[..., 2]
    return out


def ssl_preprocess(x: np.ndarray, frames: int, rotate: bool = True, *,
                   layout: Layout) -> tuple[np.ndarray, int]:
    """Raw joints (T, M, V, 3) -> ((3, frames, V, M) float32, valid length)."""
    x = np.asarray(x, dtype=np.float64)
    length = valid_length(x, layout)
    present = x.any(axis=(2, 3), keepdims=True)                            # (T, M, 1, 1)
    x = (x - x[:, :, layout.center_index][:, :, None]) * present
    x = resize_time(x, length, frames)
    if rotate:
        x = align_shoulders(x, layout)
    return np.ascontiguousarray(x.transpose(3, 0, 2, 1), dtype=np.float32), length
