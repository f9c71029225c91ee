"""Figures from records (matplotlib): reliability diagrams from the per-bin sums of calibration
records, and a run's per-epoch curves."""
from __future__ import annotations

import math
import os
import tempfile
import textwrap
from pathlib import Path

import numpy as np

from .results import _umask


def merge_bins(records: list[dict]) -> dict:
    """Sum the equal-width bins of several calibration records (seeds) of one method."""
    n_bins = {r["bins"]["n_bins"] for r in records}
    if len(n_bins) != 1:
        raise ValueError(f"calibration records with different bin counts {sorted(n_bins)}")
    return {"n_bins": n_bins.pop(), **{key: np.sum([r["bins"][key] for r in records], axis=0)
                                       for key in ("count", "sum_conf", "sum_correct")}}


def reliability_png(panels: dict[str, dict], out: Path, title: str = "") -> Path:
    """One panel per entry of ``panels`` (label -> merged bins): accuracy per confidence bin,
    the gap to the diagonal, and the share of samples per bin. Written atomically as PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(len(panels), 4)
    rows = math.ceil(len(panels) / cols)
    # Labels of pretraining variants run long: wrapped, and each panel row made taller to fit.
    lines = max(len(textwrap.wrap(label, 40)) for label in panels)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, (3.2 + 0.15 * lines) * rows),
                             squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax, (label, bins) in zip(axes.flat, panels.items()):
        m = bins["n_bins"]
        count = np.asarray(bins["count"], float)
        full = count > 0
        acc = np.divide(bins["sum_correct"], count, out=np.zeros(m), where=full)
        conf = np.divide(bins["sum_conf"], count, out=np.zeros(m), where=full)
        left = np.arange(m) / m
        ax.bar(left[full], acc[full], width=1 / m, align="edge", color="#4c72b0",
               edgecolor="white", label="accuracy")
        ax.bar(left[full], (conf - acc)[full], bottom=acc[full], width=1 / m, align="edge",
               color="#dd5555", alpha=0.45, edgecolor="#aa2222", label="gap to confidence")
        ax.bar(left, count / count.sum() * 0.25, width=1 / m, align="edge", color="0.6",
               alpha=0.6, label="share of samples (×0.25)")
        ax.plot([0, 1], [0, 1], "k--", lw=1)
        ece = np.abs(bins["sum_correct"] - bins["sum_conf"]).sum() / count.sum()
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence", ylabel="accuracy",
               title=f"{textwrap.fill(label, 40)}\nECE {100 * ece:.2f} (n={int(count.sum())})")
        ax.title.set_fontsize(9)
    axes.flat[0].legend(loc="upper left", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, out)


def history_png(history: dict, out: Path, title: str = "") -> Path:
    """One panel per per-epoch series of a run (loss first), written atomically as PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted((k for k, v in history.items() if v), key=lambda k: (k != "loss", k))
    if not keys:
        raise ValueError("the run has no per-epoch history to plot")
    fig, axes = plt.subplots(1, len(keys), figsize=(3.6 * len(keys), 3.0), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        values = np.array([np.nan if v is None else v for v in history[key]], float)
        shown = ~np.isnan(values)           # a monitor measured only on some epochs
        ax.plot(np.arange(1, len(values) + 1)[shown], values[shown], marker=".", lw=1)
        ax.set(xlabel="epoch", title=key)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, out)


def curve_png(curves: dict[str, dict], lines: dict[str, dict], out: Path, title: str = "") -> Path:
    """Learning curves against optimiser steps: panels kNN-1 and linear top-1. ``curves``:
    label -> {"steps": [...], "knn1": [...], "linear_top1": [...] (None where not measured)};
    ``lines``: label -> {"knn1": value, "linear_top1": value}, drawn across as references."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = (("knn1", "kNN-1 top-1 (%)"), ("linear_top1", "linear top-1 (%)"))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (key, name) in zip(axes, panels):
        for c, (label, curve) in enumerate(curves.items()):
            values = np.array([np.nan if v is None else v for v in curve.get(key) or []], float)
            steps = np.asarray(curve["steps"][:len(values)])
            shown = ~np.isnan(values)
            if shown.any():
                ax.plot(steps[shown], values[shown], lw=1 if shown.mean() > 0.5 else 1.5,
                        marker="" if shown.mean() > 0.5 else "o", ms=3,
                        color=colours[c % len(colours)], label=label)
        for c, (label, values) in enumerate(lines.items()):
            if values.get(key) is not None:
                ax.axhline(values[key], ls="--", lw=1, color=colours[(len(curves) + c) % len(colours)],
                           label=f"{label} ({values[key]:.1f})")
        ax.set(xlabel="pretraining steps", title=name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, out)


def continuity_png(curves: dict[str, list[dict]], out: Path, title: str = "") -> Path:
    """Panels global / local x same / different class: per method (label -> its seeds'
    ``curves``), the mean similarity to X_i along lambda, averaged over seeds."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # One y-range for all panels, fitted to the curves: pooled ReLU features share a large
    # common direction, so the similarities sit close to 1.
    fig, axes = plt.subplots(2, 2, figsize=(9.5, 7.0), sharey=True)
    for row, transition in enumerate(("global", "local")):
        for col, kind in enumerate(("same", "diff")):
            ax = axes[row, col]
            for label, seeds in curves.items():
                runs = [c[transition][kind] for c in seeds if kind in c.get(transition, {})]
                if runs:
                    lam = np.mean([r["lambda"] for r in runs], axis=0)
                    sim = np.mean([r["similarity"] for r in runs], axis=0)
                    ax.plot(lam, sim, marker=".", lw=1.2, label=label)
            what = "same class" if kind == "same" else "different classes"
            ax.set(title=f"{transition} transition, {what}", xlim=(0, 1),
                   xlabel="λ (share of X_i)" if row else "", ylabel="cos(f(A), f(X_i))" if not col else "")
            ax.title.set_fontsize(9)
            ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7, loc="lower right")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, out)


def _save(fig, out: Path) -> Path:
    import matplotlib.pyplot as plt
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=".png", dir=out.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=120)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, out)
    finally:
        plt.close(fig)
        Path(tmp).unlink(missing_ok=True)
    return out
