"""Why does a frozen encoder score what it scores? For pretrainings (run ids or unique
beginnings), on the evaluation split of their config: the linear protocol's own head (SGD, the
recipe's schedule) beside a converged logistic regression (L-BFGS on standardised features,
weight decay 1e-4), the features' norm and effective rank, and the share of variance in the
first principal component. A converged probe far above the protocol's head points at the head's
optimisation; both low with a low effective rank points at the representation.

    python tools/probe_features.py RUN_ID [RUN_ID ...] [--results-dir DIR] [--bn precise]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from torch.nn import functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from skelbench import config as C  # noqa: E402
from skelbench import data, methods, protocols  # noqa: E402,F401  (register)
from skelbench.api import Runner  # noqa: E402
from skelbench.protocols.linear import train_linear  # noqa: E402
from skelbench.results import find_record  # noqa: E402


def converged_probe(xtr, ytr, xte, yte, num_classes, wd=1e-4) -> tuple[float, float]:
    mu, sd = xtr.mean(0), xtr.std(0) + 1e-6
    xtr, xte = (xtr - mu) / sd, (xte - mu) / sd
    w = torch.zeros(xtr.shape[1], num_classes, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(num_classes, dtype=torch.float64, requires_grad=True)
    xtr, xte = xtr.double(), xte.double()
    opt = torch.optim.LBFGS([w, b], max_iter=1000, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(xtr @ w + b, ytr) + wd * (w ** 2).sum()
        loss.backward()
        return loss
    opt.step(closure)
    with torch.no_grad():
        return (100 * ((xtr @ w + b).argmax(1) == ytr).double().mean().item(),
                100 * ((xte @ w + b).argmax(1) == yte).double().mean().item())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--results-dir", type=Path, default=C.default_results_dir())
    ap.add_argument("--bn", choices=["running", "precise"], default="running")
    args = ap.parse_args()
    runner = Runner(results_dir=args.results_dir, device=torch.device("cpu"), log=lambda _: None)
    for run in args.runs:
        path, rec = find_record(args.results_dir, run)
        if rec["kind"] != "pretrain":
            raise SystemExit(f"{rec['run_id']} is a {rec['kind']} run: give its pretraining")
        runner.results_dir = path.parent.parent.parent
        cfg = C.resolve(rec["method"], rec["split"], backbone=rec["backbone"],
                        stream=rec["stream"], overrides=[f"features.bn={args.bn}"])
        split = runner.split(cfg)
        xtr, xte = runner.features(rec, cfg, split)
        torch.manual_seed(rec["seed"])          # the head's init, as the protocol seeds it
        g = torch.Generator().manual_seed(rec["seed"])
        head = train_linear(xtr, split.y_train, xte, split.y_test, split.num_classes,
                            cfg["linear"], g)["metrics"]
        probe_train, probe_test = converged_probe(xtr, split.y_train, xte, split.y_test,
                                                  split.num_classes)
        centred = xtr - xtr.mean(0)
        s = torch.linalg.svdvals(centred.double())
        p = s ** 2 / (s ** 2).sum()
        print(json.dumps({
            "run": rec["run_id"], "method": rec["method"], "seed": rec["seed"], "bn": args.bn,
            "protocol_head": {"train_top1": round(head["train_top1"], 2),
                              "top1": round(head["top1"], 2)},
            "converged_probe": {"train_top1": round(probe_train, 2), "top1": round(probe_test, 2)},
            "feature_norm": round(xtr.norm(dim=1).mean().item(), 3),
            "effective_rank": round(torch.exp(-(p * p.clamp(min=1e-300).log()).sum()).item(), 2),
            "pc1_share": round(p[0].item(), 3), "dim": xtr.shape[1]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
