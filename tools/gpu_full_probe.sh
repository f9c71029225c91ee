#!/bin/sh
# One row of the embedded suite at the papers' schedule (`run --suite ... --full`) on a GPU:
# SkeletonCLR seed 0, 300 epochs of ST-GCN-16, linear; its records come back under $OUT.
set -e
mkdir -p results/probe
python3 - <<'PY'
import yaml
suite = yaml.safe_load(open("results/embedded/suite.yaml"))
suite["rows"] = [{"method": "skeletonclr", "seeds": [0], "protocols": ["linear"]}]
suite["variants"] = {"running": []}
yaml.safe_dump(suite, open("results/probe/suite.yaml", "w"))
PY
python3 -m skelbench run --suite probe --full --results-dir "$OUT/probe-full" 2>&1 | tail -5
find "$OUT" -name '*.pt' -delete
find "$OUT" -name 'logits.npz' -delete
python3 - <<'PY'
import glob, json, os
for p in sorted(glob.glob(os.environ["OUT"] + "/probe-full/runs/*/record.json")):
    r = json.load(open(p))
    print(r["kind"], r["method"], r["backbone"], r["status"], r.get("duration_s"), r.get("metrics"),
          (r.get("throughput") or {}).get("step_ms"), r["config"]["pretrain"]["epochs"])
PY
