"""One GPU session, run once on the device machine: the embedded regime probe (baselines on
candidate backbones and schedules) and the GPU figures (`skelbench bench`). Each step is a
`skelbench` command; its output and records land under $OUT. Steps run in order while the time
budget lasts, so a cut-off run still returns what finished."""
import json
import os
import subprocess
import sys
import time

OUT = os.environ.get("OUT", "/tmp/out")
BUDGET = float(sys.argv[1]) if len(sys.argv) > 1 else 540
START = time.time()
SB = [sys.executable, "-m", "skelbench"]
R = ["--results-dir", f"{OUT}/regime"]


def step(name, args, reserve=0):
    left = BUDGET - (time.time() - START) - reserve
    if left < 20:
        print(f"## skip {name}: {left:.0f} s left", flush=True)
        return
    t = time.time()
    with open(f"{OUT}/{name}.log", "w") as log:
        try:
            rc = subprocess.run(SB + args, stdout=log, stderr=subprocess.STDOUT, timeout=left).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    print(f"## {name}: rc {rc}, {time.time() - t:.0f} s", flush=True)


fp32 = ["--set", "pretrain.amp=false"]
e100 = ["--set", "pretrain.epochs=100", "--set", "pretrain.lr_steps=[84]"]
# --- the regime probe (issue: embedded benchmark) ---------------------------------------------
A = 200   # seconds kept for the GPU figures
step("raw", ["run", "--method", "raw-1nn", "--protocol", "retrieval,linear"] + R, A)
step("rand", ["run", "--method", "random-init", "--protocol", "linear,retrieval", "--seeds",
              "0,1,2,3,4", "--backbone", "stgcn-tiny,stgcn"] + R, A)
step("tiny40", ["run", "--method", "supervised,skeletonclr", "--protocol", "linear,retrieval",
                "--seeds", "0,1,2"] + fp32 + R, A)
step("tiny40p", ["run", "--method", "random-init,supervised,skeletonclr", "--protocol", "linear",
                 "--seeds", "0,1,2", "--set", "features.bn=precise"] + fp32 + R, A)
step("w16", ["run", "--method", "supervised,skeletonclr", "--protocol", "linear", "--seeds", "0,1",
             "--backbone", "stgcn", "--set", "backbone.dropout=0.0"] + fp32 + R, A)
step("tiny100", ["run", "--method", "supervised,skeletonclr", "--protocol", "linear", "--seeds",
                 "0,1"] + fp32 + e100 + R, A)
# --- GPU figures (issue: step times against the official code's) -----------------------------
B = ["--backbone", "stgcn", "--batch", "128", "--frames", "50", "--train-size", "40091", "--json"]
step("bench", ["bench", "--method", "skeletonclr,aimclr,actclr,tranclr,supervised"] + B)
step("bench_compile", ["bench", "--method", "skeletonclr,aimclr", "--set", "speed.compile=true"] + B)
step("amp_check", ["bench", "--method", "skeletonclr", "--amp-check", "--steps", "300"] + B)
LINEAR = r"""
import json, time, torch
from skelbench.protocols.linear import train_linear
from skelbench.config import load_recipe
dev = torch.device("cuda")
g = torch.Generator(device=dev).manual_seed(0)
spec = load_recipe("skeletonclr")["linear"]
tr, te = torch.randn(40091, 256, device=dev), torch.randn(16487, 256, device=dev)
ytr, yte = torch.randint(0, 60, (40091,), device=dev), torch.randint(0, 60, (16487,), device=dev)
torch.cuda.synchronize(); t = time.time()
train_linear(tr, ytr, te, yte, 60, spec, g)
torch.cuda.synchronize()
print(json.dumps({"linear_protocol_s": time.time() - t, "train": list(tr.shape), "test": list(te.shape),
                  "epochs": spec["epochs"], "batch_size": spec["batch_size"]}))
"""
t = time.time()
with open(f"{OUT}/linear_time.log", "w") as log:
    subprocess.run([sys.executable, "-c", LINEAR], stdout=log, stderr=subprocess.STDOUT)
print(f"## linear_time: {time.time() - t:.0f} s", flush=True)
print("## done", f"{time.time() - START:.0f} s", flush=True)
