"""Two CPU ranks (gloo) through torchrun: one queue on both ranks, a record with world_size 2,
and linear metrics equal to a single process's on the same checkpoint."""
import json
import os
import subprocess
import sys

import torch

from skelbench import config as C
from skelbench.api import Runner

from .conftest import load_all

DUMP = r"""
import os
import torch
import torch.distributed as dist
import skelbench.api as api

original = api.pretrain

def pretrain(method, *args, **kwargs):
    out = original(method, *args, **kwargs)
    if hasattr(method, "queue"):
        torch.save({"queue": method.queue, "ptr": method.queue_ptr},
                   os.path.join(os.environ["DUMP_DIR"], f"queue-rank{dist.get_rank()}.pt"))
    return out

api.pretrain = pretrain
"""


def torchrun(project, results, *args):
    env = {**os.environ, "DUMP_DIR": str(project), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "skelbench", "run", "--dataset", "synth-xsub", "--results-dir", str(results), "--device", "cpu", *args],
        env=env, capture_output=True, text=True, timeout=300)


def test_two_ranks_share_one_queue_and_match_single_process_linear(project):
    plugin = project / "dump.py"
    plugin.write_text(DUMP)
    results = project / "results"
    out = torchrun(project, results, "--method", "skeletonclr", "--plugin", str(plugin),
                   "--set", "pretrain.epochs=2")
    assert out.returncode == 0, out.stderr[-3000:]
    q0, q1 = (torch.load(project / f"queue-rank{r}.pt") for r in (0, 1))
    assert torch.equal(q0["queue"], q1["queue"]) and int(q0["ptr"]) == int(q1["ptr"])
    # 2 epochs x 4 global steps x 32 keys: the queue of 64 was written over, not left random.
    assert int(q0["ptr"]) == (2 * 4 * 32) % 64
    recs = {r["kind"]: r for r in (json.loads(p.read_text()) for p in results.glob("runs/*/record.json"))}
    assert set(recs) == {"pretrain", "linear"}               # rank 1 wrote nothing of its own
    assert recs["pretrain"]["world_size"] == 2 and recs["linear"]["world_size"] == 2
    assert "within each rank" in recs["pretrain"]["batch_pairing"]
    assert out.stderr.count("linear: top1") == 1             # printed by rank 0 only

    # The same checkpoint, evaluated by one process (one thread, as each rank ran).
    linear_dir = results / "runs" / recs["linear"]["run_id"]
    for f in linear_dir.iterdir():
        f.unlink()
    linear_dir.rmdir()
    load_all()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cfg = C.resolve("skeletonclr", "synth-xsub", overrides=["pretrain.epochs=2"])
        single = Runner(results, torch.device("cpu"), log=lambda m: None).evaluate(cfg, 0, "linear")
    finally:
        torch.set_num_threads(threads)
    assert single["parent_run_id"] == recs["pretrain"]["run_id"] and single["world_size"] == 1
    assert single["metrics"] == recs["linear"]["metrics"]


def test_global_batch_must_divide_over_ranks(project):
    out = torchrun(project, project / "results", "--method", "skeletonclr",
                   "--set", "pretrain.batch_size=31")
    assert out.returncode != 0
    assert "batch_size 31 is not divisible by the world size 2" in out.stderr
    assert not list((project / "results").glob("runs/*/checkpoint.pt"))
