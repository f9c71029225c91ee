"""Paired comparisons over test clips (numpy only, so `compare` stays light).

A linear (or released-head) record keeps which test clips its head got right, as bits in the
split's test order (``correct``: {n, bits}, hex); two rows of the same split then compare clip
by clip. The paired bootstrap resamples the clips with replacement and reads the 2.5th and
97.5th percentiles of the difference in top-1 (percentile interval, Efron & Tibshirani 1993).
"""
from __future__ import annotations

import numpy as np


def pack(correct) -> dict:
    """Booleans (N,) -> {"n": N, "bits": hex string, padded to whole bytes}."""
    correct = np.asarray(correct, bool)
    return {"n": int(len(correct)), "bits": np.packbits(correct).tobytes().hex()}


def unpack(packed: dict) -> np.ndarray:
    """The inverse of ``pack``."""
    n = int(packed["n"])
    bits = np.unpackbits(np.frombuffer(bytes.fromhex(packed["bits"]), np.uint8))
    if len(bits) < n or bits[n:].any():
        raise ValueError(f"a correctness string of {len(bits)} bits does not hold {n} clips")
    return bits[:n].astype(bool)


def paired_bootstrap(a, b, n_boot: int = 10000, seed: int = 0, level: float = 0.95) -> dict:
    """Top-1 of ``a`` minus top-1 of ``b`` (percentage points) and its paired bootstrap interval.

    ``a``, ``b``: (N,) per-clip correctness in [0, 1] of two rows on the same N test clips (a
    mean over seeds where a row has several)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape or a.ndim != 1 or not len(a):
        raise ValueError(f"paired rows need the same test clips, got {a.shape} and {b.shape}")
    diff = a - b
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    for start in range(0, n_boot, 1000):          # (1000, N) resamples at a time
        idx = rng.integers(0, len(diff), (min(1000, n_boot - start), len(diff)))
        means[start:start + len(idx)] = diff[idx].mean(axis=1)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(means, [tail, 100 - tail])
    return {"diff": 100 * diff.mean(), "low": 100 * low, "high": 100 * high, "n": len(diff),
            "n_boot": n_boot, "seed": seed, "level": level}


def crossing(steps, values, line: float, window: int = 10) -> tuple[int | None, int | None]:
    """Where a learning curve passes a reference ``line``, on its running mean over ``window``
    measurements (the trailing one; fewer at the start): the first step at which the mean is
    above the line, and the step from which it stays above to the end (None where never)."""
    v = np.array([np.nan if x is None else x for x in values], float)
    keep = ~np.isnan(v)
    v, s = v[keep], np.asarray(steps)[keep]
    if not len(v):
        return None, None
    mean = np.array([v[max(0, i - window + 1):i + 1].mean() for i in range(len(v))])
    above = mean > line
    first = int(s[np.argmax(above)]) if above.any() else None
    below = np.flatnonzero(~above)
    stays = (int(s[0]) if not len(below) else
             int(s[below[-1] + 1]) if below[-1] + 1 < len(s) else None)
    return first, stays
