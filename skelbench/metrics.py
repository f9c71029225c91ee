"""Calibration and retrieval metrics.

Calibration is top-label: confidence c = max_k p_k, correct = [argmax p == y]. Bins are
right-closed, (lo, hi], with 0 in the first bin, so c = 1.0 lands in the last bin and never in a
phantom extra one. Equal-mass bins (AECE, Mukhoti et al. 2020) are cut at the sizes
``np.array_split`` gives on the sorted confidences and turned into value edges, so tied
confidences share a bin and the result does not depend on sample order. Empty bins are skipped.
Everything is computed in float64; results are fractions in [0, 1].
"""
from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F


def _numpy(a) -> np.ndarray:
    return a.detach().cpu().double().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def top_label(probs, labels) -> tuple[np.ndarray, np.ndarray]:
    """(confidence, correct) as float64 arrays from probabilities (N, K) and labels (N,)."""
    p, y = _numpy(probs).astype(np.float64), _numpy(labels).astype(np.int64)
    if p.ndim != 2 or y.shape != (p.shape[0],):
        raise ValueError(f"expected probs (N, K) and labels (N,), got {p.shape} and {y.shape}")
    return p.max(axis=1), (p.argmax(axis=1) == y).astype(np.float64)


def calibration_bins(conf: np.ndarray, correct: np.ndarray, n_bins: int = 15,
                     scheme: str = "width") -> dict:
    """Per-bin ``count``, ``sum_conf`` and ``sum_correct`` (sums, so bins merge across seeds)."""
    conf, correct = np.asarray(conf, np.float64), np.asarray(correct, np.float64)
    if scheme == "width":
        idx = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    elif scheme == "mass":
        s, n = np.sort(conf), len(conf)
        q, r = divmod(n, n_bins)
        cuts = [b * q + min(b, r) for b in range(1, n_bins)]
        edges = s[[c for c in cuts if 0 < c < n]]
        idx = np.searchsorted(edges, conf, side="right")
    else:
        raise ValueError(f"scheme must be 'width' or 'mass', got {scheme!r}")
    return {"count": np.bincount(idx, minlength=n_bins).astype(np.int64),
            "sum_conf": np.bincount(idx, conf, minlength=n_bins),
            "sum_correct": np.bincount(idx, correct, minlength=n_bins)}


def _gaps(bins: dict) -> tuple[np.ndarray, np.ndarray]:
    """|accuracy - confidence| and weight of each non-empty bin."""
    count = bins["count"]
    full = count > 0
    gap = np.abs(bins["sum_correct"][full] - bins["sum_conf"][full]) / count[full]
    return gap, count[full] / count.sum()


def ece(probs, labels, n_bins: int = 15) -> float:
    """Expected calibration error over equal-width bins (Guo et al. 2017)."""
    gap, weight = _gaps(calibration_bins(*top_label(probs, labels), n_bins, "width"))
    return float((gap * weight).sum())


def aece(probs, labels, n_bins: int = 15) -> float:
    """Adaptive ECE: the same sum over equal-mass bins (top-label AdaECE)."""
    gap, weight = _gaps(calibration_bins(*top_label(probs, labels), n_bins, "mass"))
    return float((gap * weight).sum())


def mce(probs, labels, n_bins: int = 15) -> float:
    """Maximum calibration error over the non-empty equal-width bins."""
    gap, _ = _gaps(calibration_bins(*top_label(probs, labels), n_bins, "width"))
    return float(gap.max())


def calibration_report(logits: torch.Tensor, labels: torch.Tensor, n_bins: int = 15) -> dict:
    """Every calibration figure of a head's test logits, plus the equal-width bins for plots."""
    logits, labels = logits.detach().cpu().double(), labels.detach().cpu().long()
    probs = F.softmax(logits, dim=1)
    conf, correct = top_label(probs, labels)
    bins = calibration_bins(conf, correct, n_bins, "width")
    onehot = F.one_hot(labels, probs.shape[1]).double()
    return {
        "ece": ece(probs, labels, n_bins), "aece": aece(probs, labels, n_bins),
        "mce": mce(probs, labels, n_bins),
        "nll": F.cross_entropy(logits, labels).item(),
        "brier": ((probs - onehot) ** 2).sum(dim=1).mean().item(),
        "accuracy": float(correct.mean()), "confidence": float(conf.mean()),
        "bins": {"n_bins": n_bins, **{k: v.tolist() for k, v in bins.items()}},
    }


# --- retrieval ---------------------------------------------------------------------------------
@torch.no_grad()
def retrieval(gallery: torch.Tensor, gallery_y: torch.Tensor, query: torch.Tensor,
              query_y: torch.Tensor, num_classes: int, k: int = 20, temperature: float = 0.1,
              chunk: int = 1024) -> dict:
    """kNN on L2-normalised features: 1-NN top-1 (cosine), weighted k-NN top-1 (votes
    exp(sim / temperature) over the k nearest), and mean average precision over the gallery.

    Queries are processed ``chunk`` at a time, so memory is one (chunk, gallery) similarity
    matrix whatever the test set. Percentages.
    """
    g = F.normalize(gallery.float(), dim=1)
    gy = gallery_y.to(g.device)
    name, k = f"knn{k}", min(k, len(g))
    n_rel = torch.bincount(gy, minlength=num_classes)
    hits1 = hitsk = ap_sum = 0.0
    for i in range(0, len(query), chunk):
        q = F.normalize(query[i:i + chunk].float().to(g.device), dim=1)
        qy = query_y[i:i + chunk].to(g.device)
        sim = q @ g.T                                                   # (c, G)
        top_sim, top_idx = sim.topk(k, dim=1)
        hits1 += (gy[top_idx[:, 0]] == qy).sum().item()
        votes = torch.zeros(len(q), num_classes, device=g.device, dtype=torch.float64)
        votes.scatter_add_(1, gy[top_idx], (top_sim.double() / temperature).exp())
        hitsk += (votes.argmax(dim=1) == qy).sum().item()
        # AP: mean over the relevant items of precision at their rank in the full ranking.
        order = sim.argsort(dim=1, descending=True)
        rel = (gy[order] == qy[:, None]).double()
        precision = rel.cumsum(dim=1) / torch.arange(1, rel.shape[1] + 1, device=g.device)
        ap_sum += ((precision * rel).sum(dim=1) / n_rel[qy].clamp(min=1)).sum().item()
    n = len(query)
    return {"knn1": 100 * hits1 / n, name: 100 * hitsk / n, "map": 100 * ap_sum / n}
