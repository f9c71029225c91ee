"""Continuity: how the frozen encoder maps a transition between two clips, the property
TranCLR's paper claims for its embedding ("a continuous, smooth manifold").

Fixed, seeded pairs (X_i, X_j) of test clips, ``continuity.pairs`` of the same class and as
many of different classes, the same for every method and run (``continuity.pair_seed``), go
through ATAC's two transitions: global interpolation A = lam X_i + (1 - lam) X_j at each lam of
``continuity.grid``, and local substitution, here nested so that it forms a path: the joints of
1, 2, 3 and 4 body parts (in a seeded order per pair) taken from X_i over the whole clip, lam_L
the substituted share of the joints (ATAC's mask mean; its training windows are shorter).
Per transition and pair kind the record holds the mean linearity error, the monotonicity of
cos(f(A), f(X_i)) along the path, the error of lam recovered by projection
(``skelbench.metrics.continuity``), the mean similarity curve, and for different-class pairs
where the linear run's head switches from class j to class i and how confident it is there.
"""
from __future__ import annotations

import numpy as np
import torch

from ..metrics import continuity as measure, label_path
from .base import protocol
from .features import extract

def pairs(labels: np.ndarray, n: int, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``n`` same-class and ``n`` different-class (i, j) index pairs of the test clips."""
    rng = np.random.default_rng(seed)
    out = {}
    for kind in ("same", "diff"):
        first, second = [], []
        while len(first) < n:
            i = int(rng.integers(len(labels)))
            match = labels == labels[i] if kind == "same" else labels != labels[i]
            match[i] = False
            if match.any():
                first.append(i)
                second.append(int(rng.choice(np.flatnonzero(match))))
        out[kind] = (np.array(first), np.array(second))
    return out


def global_path(xi: torch.Tensor, xj: torch.Tensor, grid: list[float]):
    """Anchors (P * L, ...) of global interpolation and their coefficients (P, L)."""
    lam = torch.tensor(grid, dtype=xi.dtype, device=xi.device)
    view = (1, -1) + (1,) * (xi.dim() - 1)
    anchors = lam.view(view) * xi[:, None] + (1 - lam.view(view)) * xj[:, None]
    return anchors.flatten(0, 1), lam.expand(len(xi), -1).cpu().numpy()


def local_path(xi: torch.Tensor, xj: torch.Tensor, seed: int, layout):
    """Anchors (P * 4, ...) substituting X_i's first 1..4 of the layout's body parts (seeded
    order per pair) into X_j, and lam_L (P, 4): the substituted share of the joints."""
    rng = np.random.default_rng(seed)
    parts = [list(j) for j in layout.body_parts.values()]
    n, v = len(xi), xi.shape[3]
    masks = np.zeros((n, len(parts) - 1, v), bool)
    for p in range(n):
        chosen = np.zeros(v, bool)
        for k, part in enumerate(rng.permutation(len(parts))[:-1]):
            chosen[parts[part]] = True
            masks[p, k] = chosen
    mask = torch.from_numpy(masks).to(xi.device)[:, :, None, None, :, None]   # (P, L, 1, 1, V, 1)
    anchors = torch.where(mask, xi[:, None], xj[:, None])
    return anchors.flatten(0, 1), masks.mean(axis=2)


def summarise(res: dict, prefix: str) -> tuple[dict, dict]:
    """Mean metrics over the defined pairs, and the distribution of the linearity error."""
    defined = ~res["undefined"]
    lin = res["linearity"][defined]
    if not defined.any():               # the encoder maps every pair's ends to one point
        return {f"undefined_{prefix}": int(len(defined))}, {}
    metrics = {f"linearity_{prefix}": float(lin.mean()),
               f"monotonic_{prefix}": float(res["monotone"][defined].mean()),
               f"lambda_error_{prefix}": float(res["lambda_error"][defined].mean()),
               f"undefined_{prefix}": int((~defined).sum())}
    quantiles = {f"p{q}": float(np.percentile(lin, q)) for q in (10, 25, 50, 75, 90)}
    return metrics, quantiles


@protocol("continuity", "features", "linear", "continuity")
def continuity(ctx) -> dict:
    """Linearity error, monotonicity and lam recovery of the frozen embedding along global
    and local transitions between test clips; where the linear head switches class."""
    split = ctx.eval_split()
    spec = ctx.cfg["continuity"]
    stream = ctx.cfg["data"]["stream"]
    encoder = ctx.frozen_encoder(split)
    linear = ctx.requires("linear", files=("head.npz",))
    with np.load(ctx.run_path(linear) / "head.npz") as f:
        weight, bias = f["weight"].astype(np.float64), f["bias"].astype(np.float64)
    labels = split.y_test.cpu().numpy()
    metrics, distribution, curves, paths = {}, {}, {}, {}
    for kind, (i, j) in pairs(labels, int(spec["pairs"]), int(spec["pair_seed"])).items():
        xi, xj = split.x_test[torch.from_numpy(i)], split.x_test[torch.from_numpy(j)]
        f_i = extract(encoder, xi, stream).double().cpu().numpy()
        f_j = extract(encoder, xj, stream).double().cpu().numpy()
        for name, (anchors, lam) in (("global", global_path(xi, xj, spec["grid"])),
                                     ("local", local_path(xi, xj, int(spec["pair_seed"]), encoder.layout))):
            f_a = extract(encoder, anchors, stream).double().cpu().numpy().reshape(len(i), -1, f_i.shape[1])
            res = measure(f_i, f_j, f_a, lam)
            found, spread = summarise(res, f"{name}_{kind}")
            metrics.update(found)
            distribution[f"linearity_{name}_{kind}"] = spread
            curves.setdefault(name, {})[kind] = {
                "lambda": [0.0] + lam.mean(axis=0).tolist() + [1.0],
                "similarity": res["similarity"].mean(axis=0).tolist()}
            if kind == "diff":
                path = np.concatenate([f_j[:, None], f_a, f_i[:, None]], axis=1) @ weight.T + bias
                probs = np.exp(path - path.max(axis=2, keepdims=True))
                probs /= probs.sum(axis=2, keepdims=True)
                switch = label_path(probs, labels[i], labels[j], lam)
                paths[name] = {"pairs": switch["pairs"]}
                if switch["pairs"]:
                    metrics[f"switch_lambda_{name}"] = float(switch["switch_lambda"].mean())
                    metrics[f"switch_confidence_{name}"] = float(switch["switch_confidence"].mean())
                    metrics[f"third_class_{name}"] = float(switch["third_class"].mean())
    return {"metrics": metrics, "distribution": distribution, "curves": curves,
            "label_paths": paths, "pairs": {"n": int(spec["pairs"]), "seed": int(spec["pair_seed"])},
            "source_run_id": linear["run_id"]}
