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


# --- temperature scaling -----------------------------------------------------------------------
def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The temperature T that minimises the NLL of softmax(logits / T) (Guo et al. 2017): one
    scalar, fitted by a golden-section search over log T in [0.01, 100] (the NLL is unimodal in
    it), float64. A head worse than uniform on these logits ends at the upper bound."""
    z, y = logits.detach().cpu().double(), labels.detach().cpu().long()

    def nll(log_t: float) -> float:
        return F.cross_entropy(z / np.exp(log_t), y).item()
    lo, hi = np.log(0.01), np.log(100.0)
    golden = (np.sqrt(5) - 1) / 2
    a, b = hi - golden * (hi - lo), lo + golden * (hi - lo)
    fa, fb = nll(a), nll(b)
    for _ in range(80):                 # golden-section search: the bracket shrinks to ~1e-16
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - golden * (hi - lo)
            fa = nll(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + golden * (hi - lo)
            fb = nll(b)
    return float(np.exp((lo + hi) / 2))


# --- continuity of the embedding along transitions -------------------------------------------
def continuity(f_i: np.ndarray, f_j: np.ndarray, f_a: np.ndarray, lam: np.ndarray,
               eps: float = 1e-8) -> dict:
    """How an encoder maps transitions X_j -> X_i: anchors A_{p,l} at coefficients ``lam``
    (P, L), increasing along l, with f_i, f_j (P, D) the endpoints' pooled features and f_a
    (P, L, D) the anchors'. Per pair and coefficient (float64):

    - ``linearity``: ||f(A) - (lam f(X_i) + (1 - lam) f(X_j))|| / ||f(X_i) - f(X_j)||, on the
      pooled features as the encoder gives them (a per-sample L2 normalisation would make even a
      linear encoder non-linear; the ratio is already invariant to the features' scale);
    - ``lambda_hat``: lam recovered by projecting f(A) on the segment f(X_j) -> f(X_i), clipped
      to [0, 1];
    - ``similarity``: cos(f(A), f(X_i)), with the endpoints (lam 0 and 1) at both ends;
    - ``monotone``: whether that similarity is non-decreasing along the path.

    Pairs whose endpoints the encoder maps to the same point (||f(X_i) - f(X_j)|| <= eps times
    the features' scale) have no defined linearity or lambda: they are NaN and counted in
    ``undefined``, never divided by zero.
    """
    f_i, f_j, f_a = (np.asarray(a, np.float64) for a in (f_i, f_j, f_a))
    lam = np.broadcast_to(np.asarray(lam, np.float64), f_a.shape[:2])
    d = f_i - f_j                                                        # (P, D)
    scale = max(np.abs(np.concatenate([f_i, f_j])).max(), 1.0)
    dist = np.linalg.norm(d, axis=1)                                     # (P,)
    undefined = dist <= eps * scale
    safe = np.where(undefined, 1.0, dist)
    target = lam[..., None] * f_i[:, None] + (1 - lam[..., None]) * f_j[:, None]
    linearity = np.linalg.norm(f_a - target, axis=2) / safe[:, None]
    lam_hat = np.clip(((f_a - f_j[:, None]) * d[:, None]).sum(2) / safe[:, None] ** 2, 0, 1)
    linearity[undefined], lam_hat[undefined] = np.nan, np.nan

    def cos(a, b):
        na, nb = np.linalg.norm(a, axis=-1), np.linalg.norm(b, axis=-1)
        return (a * b).sum(-1) / np.maximum(na * nb, 1e-300)
    path = np.concatenate([f_j[:, None], f_a, f_i[:, None]], axis=1)    # (P, L + 2, D)
    similarity = cos(path, f_i[:, None])
    monotone = (np.diff(similarity, axis=1) >= -1e-9).all(axis=1)
    return {"linearity": linearity, "lambda_hat": lam_hat, "lambda_error": np.abs(lam_hat - lam),
            "similarity": similarity, "monotone": monotone, "undefined": undefined}


def label_path(probs: np.ndarray, class_i: np.ndarray, class_j: np.ndarray,
               lam: np.ndarray) -> dict:
    """Along different-class paths X_j -> X_i, the linear head's predictions ``probs``
    (P, L + 2, K) with the endpoints first and last: for the pairs whose endpoints it classifies
    correctly, the first coefficient at which it predicts class i (``switch_lambda``), its
    confidence there, and the share of paths on which it predicts a third class somewhere."""
    probs = np.asarray(probs, np.float64)
    pred = probs.argmax(2)
    ok = (pred[:, 0] == class_j) & (pred[:, -1] == class_i)
    path_lam = np.concatenate([np.zeros((len(pred), 1)), np.asarray(lam, np.float64),
                               np.ones((len(pred), 1))], axis=1)
    first = (pred == class_i[:, None]).argmax(1)                          # index of the switch
    rows = np.arange(len(pred))
    third = ((pred != class_i[:, None]) & (pred != class_j[:, None])).any(1)
    return {"pairs": int(ok.sum()),
            "switch_lambda": path_lam[rows, first][ok],
            "switch_confidence": probs[rows, first].max(1)[ok],
            "third_class": third[ok]}
