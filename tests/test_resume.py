"""A pretraining killed hard (SIGKILL) mid-epoch resumes to the same weights and linear top-1 as
an uninterrupted run of the same seed. Each run is its own process, one thread each (CPU kernels
are then deterministic)."""
import json
import os
import signal
import subprocess
import sys

import pytest
import torch

from skelbench.train import encoder_state

SCRIPT = r"""
import os, signal, sys
from pathlib import Path
import torch
torch.set_num_threads(1)
from skelbench import config as C
from skelbench.api import Runner
from skelbench.registry import METHODS
import skelbench.data, skelbench.methods, skelbench.protocols
method, results, kill = sys.argv[1], Path(sys.argv[2]), sys.argv[3] == "kill"
cls = METHODS.get(C.load_recipe(method)["class"])
if kill:   # die hard at the second step of the second epoch
    original, calls = cls.training_step, []
    def step(self, x, y, epoch, generator):
        if epoch == 1:
            calls.append(1)
            if len(calls) == 2:
                os.kill(os.getpid(), signal.SIGKILL)
        return original(self, x, y, epoch, generator)
    cls.training_step = step
cfg = C.resolve(method, "synth-xsub", overrides=["pretrain.epochs=3"])
Runner(results, torch.device("cpu"), log=print).run(cfg, 0, ["linear"])
"""


def run(method, results, kill=False):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", SCRIPT, method, str(results), "kill" if kill else "-"],
                          env=env, capture_output=True, text=True, timeout=300)


def records(results):
    return {r["kind"]: r for r in (json.loads(p.read_text()) for p in results.glob("runs/*/record.json"))}


@pytest.mark.parametrize("method", ["skeletonclr", "tranclr-scratch"])
def test_sigkilled_pretraining_resumes_to_the_uninterrupted_result(project, method):
    whole, killed = project / "whole", project / "killed"
    assert run(method, whole).returncode == 0
    dead = run(method, killed, kill=True)
    assert dead.returncode == -signal.SIGKILL, dead.stderr
    (record,) = records(killed).values()
    assert record["status"] == "running"                  # what a hard death leaves behind
    # As Ctrl-C leaves it: failed, with the interruption as its error and its running time, and
    # (here) a day before the resumption.
    path = killed / "runs" / record["run_id"] / "record.json"
    path.write_text(json.dumps({**record, "status": "failed", "error": "KeyboardInterrupt: ",
                                "created_at": "2000-01-01T00:00:00.000+00:00", "duration_s": 5.0}))
    resumed = run(method, killed)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming pretraining {record['run_id']}" in resumed.stdout
    a, b = records(whole), records(killed)
    assert b["pretrain"]["run_id"] == record["run_id"] and b["pretrain"]["status"] == "done"
    assert b["pretrain"]["error"] is None and b["pretrain"]["resumed_after"] == "KeyboardInterrupt: "
    assert b["pretrain"]["throughput"]["epochs_run"] == 2       # epochs 2 and 3 after the kill
    assert 5.0 < b["pretrain"]["duration_s"] < 5.0 + 300       # running time, not the idle day
    wa = encoder_state(whole / "runs" / a["pretrain"]["run_id"] / "checkpoint.pt")
    wb = encoder_state(killed / "runs" / b["pretrain"]["run_id"] / "checkpoint.pt")
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    assert a["pretrain"]["history"] == b["pretrain"]["history"]
    assert a["linear"]["metrics"]["top1"] == b["linear"]["metrics"]["top1"]


def test_sigterm_ends_a_run_as_ctrl_c_does_and_it_resumes(project, tmp_path):
    # A run started in the background: the shell ignores SIGINT there, and a cluster sends
    # SIGTERM. Either way the record says interrupted and the same command resumes.
    cmd = [sys.executable, "-m", "skelbench", "run", "--method", "skeletonclr", "--dataset",
           "synth-xsub", "--threads", "1", "--set", "pretrain.epochs=40"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    runs = project / "results" / "runs"
    for line in proc.stdout:                 # wait for the first finished epoch
        if line.startswith("pretrain epoch 1/"):
            break
    proc.send_signal(signal.SIGTERM)
    rest = proc.stdout.read()
    assert proc.wait(timeout=60) == 130, rest
    assert "interrupted" in rest and "resumes it" in rest
    pre = records(runs.parent)["pretrain"]
    assert pre["status"] == "failed" and pre["error"] == "KeyboardInterrupt: SIGTERM"
    from skelbench.results import find_resumable
    assert find_resumable(runs.parent, pre["config_hash"], 0)["run_id"] == pre["run_id"]
