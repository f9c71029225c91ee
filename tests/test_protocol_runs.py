"""Every protocol end to end on the tiny card: dependencies, reuse, records, compare, plots."""
import csv
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from skelbench.cli import main
from skelbench.protocols.finetune import class_balanced_subset

from .test_end_to_end import records


def invoke(*args, ok=True):
    res = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert (res.exit_code == 0) == ok, res.output
    return res.output


def test_frozen_protocols_pretrain_once_and_calibration_reads_the_linear_logits(project):
    invoke("run", "--dataset", "synth-xsub", "--method", "random-init", "--protocol", "linear,retrieval,calibration")
    assert len(records(project, "pretrain")) == 1
    (lin,), (ret,), (cal,) = (records(project, k) for k in ("linear", "retrieval", "calibration"))
    assert {"knn1", "knn20", "map"} <= set(ret["metrics"])
    # Calibration is computed from the linear run's saved test logits, and says so.
    assert cal["source_run_id"] == lin["run_id"] and cal["parent_run_id"] == lin["parent_run_id"]
    assert cal["metrics"]["top1"] == pytest.approx(lin["metrics"]["top1"])
    bins = cal["bins"]
    assert bins["n_bins"] == 15 and sum(bins["count"]) == len(
        np.load(project / "results" / "runs" / lin["run_id"] / "logits.npz")["labels"])
    ece = sum(abs(a - c) for a, c in zip(bins["sum_correct"], bins["sum_conf"])) / sum(bins["count"])
    assert cal["metrics"]["ece"] == pytest.approx(100 * ece)

    # Asking for calibration alone again finds everything done; the plan says so too.
    out = invoke("run", "--dataset", "synth-xsub", "--method", "random-init", "--protocol", "calibration")
    assert "already done" in out and len(records(project)) == 4
    plan = invoke("run", "--dataset", "synth-xsub", "--method", "random-init,skeletonclr", "--protocol", "linear,calibration",
                  "--dry-run")
    states = [(line[:7].strip(), line[8:26].strip()) for line in plan.splitlines()
              if not line.startswith("#")]
    # each pretraining listed before its protocols: random-init's done, SkeletonCLR's to do
    assert states == [("done", "pretrain"), ("done", "linear"), ("done", "calibration"),
                      ("to do", "pretrain"), ("to do", "linear"), ("to do", "calibration")]
    assert "4 runs, 2 to do; 2 pretrainings: 1 done, 1 to do" in plan
    # The synth data is built; a real dataset's is not, and the plan says how to prepare it.
    shutil.copy(Path(__file__).parents[1] / "datasets" / "ntu60.yaml", project / "datasets")
    plan = invoke("run", "--dataset", "ntu60-xsub", "--method", "skeletonclr", "--dry-run")
    assert "# ntu60: not prepared: run `skelbench data prepare ntu60 --raw PATH` first" in plan


def test_three_streams_form_an_ensemble_row(project):
    invoke("run", "--dataset", "synth-xsub", "--method", "random-init", "--stream", "joint,motion,bone",
           "--protocol", "linear,calibration")
    out = invoke("compare", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    ens = {r["metric"]: float(r["mean"]) for r in rows if r["stream"] == "J+M+B"}
    assert set(ens) == {"top1", "ece", "aece"}
    # The equal-weight ensemble by hand from the three runs' logits.
    probs, labels = 0, None
    for rec in records(project, "linear"):
        with np.load(project / "results" / "runs" / rec["run_id"] / "logits.npz") as f:
            probs = probs + torch.softmax(torch.from_numpy(f["logits"]).double(), 1).numpy() / 3
            labels = f["labels"]
    assert ens["top1"] == pytest.approx(100 * (probs.argmax(1) == labels).mean())
    assert invoke("compare", "--ensemble", "none", "--format", "csv").count("J+M+B") == 0


def test_finetune_semi_and_transfer_records(project):
    invoke("run", "--dataset", "synth-xsub", "--method", "random-init",
           "--protocol", "finetune,semi-10,transfer-linear,transfer-finetune")
    (semi,) = records(project, "semi-10")
    assert semi["subset"]["seed"] == 0 and semi["subset"]["fraction"] == 0.1
    assert semi["config"]["semi"]["schedule"] == {"batch_size": 8}
    (tl,), (tf,) = records(project, "transfer-linear"), records(project, "transfer-finetune")
    for rec in (tl, tf):
        assert rec["split"] == "synth-xsub" and rec["target"] == "synthb-xsub"
        logits = np.load(project / "results" / "runs" / rec["run_id"] / "logits.npz")["logits"]
        assert logits.shape[1] == 4                  # the target's class set
    (ft,) = records(project, "finetune")
    assert ft["throughput"]["epochs_run"] == 1 and {"top1", "top5"} <= set(ft["metrics"])
    out = invoke("compare", "--format", "md")
    assert "**Transfer**" in out and "synth-xsub→synthb-xsub" in out and "**Finetuning**" in out


def test_transfer_needs_a_target(project):
    res = CliRunner().invoke(main, ["run", "--dataset", "synth-xsub", "--method", "random-init", "--protocol",
                                    "transfer-linear", "--set", "transfer.target=null"])
    assert res.exit_code != 0 and "transfer needs a target split" in res.output


def test_class_balanced_subset():
    labels = torch.tensor([0] * 50 + [1] * 20 + [2] * 3)
    index = class_balanced_subset(labels, 0.1, seed=0)
    assert torch.bincount(labels[index]).tolist() == [5, 2, 1]      # at least one per class
    assert torch.equal(index, class_balanced_subset(labels, 0.1, seed=0))
    assert not torch.equal(index, class_balanced_subset(labels, 0.1, seed=1))


def test_compare_paper_rows_latex_and_leaderboard(project):
    (project / "results").mkdir()
    (project / "results" / "reference.yaml").write_text(
        "rows:\n  - {method: skeletonclr, protocol: linear, metric: top1_best,\n"
        "     values: {ntu60-xsub: 68.3}, source: CrosSCLR README}\n")
    invoke("run", "--dataset", "synth-xsub", "--method", "random-init", "--protocol", "linear")
    # The committed files are written from the reference suites' records unless a folder is
    # named: here there is no suite, so nothing to write from.
    assert "no finished results" in invoke("compare", "--write", ok=False)
    assert not (project / "results" / "LEADERBOARD.md").exists()
    out = invoke("compare", "--paper", "--format", "latex", "--write", "--results-dir",
                 str(project / "results"))
    assert r"\begin{tabular}" in out and "skeletonclr (paper) & stgcn & 68.3" in out
    assert r"top1\_best$^\dagger$" in out and "% skeletonclr (paper) joint linear: CrosSCLR README" in out
    board = (project / "results" / "LEADERBOARD.md").read_text()
    assert "## Frozen encoder" in board and "random-init" in board
    page = (project / "results" / "leaderboard.html").read_text()
    assert "<table" in page and "random-init" in page and "skeletonclr (paper)" in page
    assert 'class="paper"' in page and "--results-dir" in page     # the command that made it
    as_json = json.loads(invoke("compare", "--format", "json"))
    assert as_json[0]["method"] == "random-init" and as_json[0]["metric"] == "top1"


def test_reliability_png(project):
    invoke("run", "--dataset", "synth-xsub", "--method", "random-init", "--protocol", "calibration", "--seeds", "0,1")
    assert "no finished calibration records" in invoke("plot", "reliability", ok=False)
    out = invoke("plot", "reliability", "--results-dir", str(project / "results"))
    path = project / "results" / "reliability-synth-xsub.png"
    assert str(path) in out and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
