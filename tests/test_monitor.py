"""The learning-curve monitor records kNN-1 (and linear top-1) per epoch and leaves training as
it was: the same losses and weights with and without it."""
import json

import torch

from skelbench import config as C
from skelbench.api import Runner
from skelbench.results import find_record
from skelbench.train import encoder_state

from .conftest import load_all


def pretrain(results, monitor):
    load_all()
    cfg = C.resolve("aimclr", "synth-xsub", overrides=["pretrain.epochs=3"])
    if monitor:
        cfg["run"]["monitor"] = {"every": 1, "linear_every": 2}
    return Runner(results, torch.device("cpu"), log=lambda *a: None).pretrain(cfg, 0)


def test_the_monitor_records_a_curve_and_changes_no_loss(project, tmp_path):
    torch.set_num_threads(1)
    plain, watched = pretrain(tmp_path / "a", False), pretrain(tmp_path / "b", True)
    assert watched["history"]["loss"] == plain["history"]["loss"]
    assert watched["history"]["key_std"] == plain["history"]["key_std"]
    knn = watched["history"]["monitor_knn1"]
    linear = watched["history"]["monitor_linear_top1"]
    assert len(knn) == 3 and all(0 <= v <= 100 for v in knn)
    assert linear[0] is None and linear[2] is None and 0 <= linear[1] <= 100
    assert "monitor_knn1" not in plain["history"]
    assert watched["config_hash"] == plain["config_hash"]           # recorded, not trained
    a = encoder_state(tmp_path / "a" / "runs" / plain["run_id"] / "checkpoint.pt")
    b = encoder_state(tmp_path / "b" / "runs" / watched["run_id"] / "checkpoint.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)
    csv = (tmp_path / "b" / "runs" / watched["run_id"] / "metrics.csv").read_text().splitlines()
    assert csv[0].endswith("monitor_knn1,monitor_linear_top1") and csv[1].endswith(",")
    path, record = find_record(tmp_path / "b", watched["run_id"])
    assert json.loads(path.read_text())["throughput"]["steps_per_epoch"] > 0


def test_plot_curve_draws_the_curve_and_says_where_it_passes_a_line(project, tmp_path):
    from click.testing import CliRunner

    from skelbench.cli import main
    torch.set_num_threads(1)
    watched = pretrain(tmp_path, True)
    load_all()
    cfg = C.resolve("aimclr", "synth-xsub", overrides=["pretrain.epochs=3"])
    line = Runner(tmp_path, torch.device("cpu"), log=lambda *a: None).evaluate(cfg, 0, "retrieval")
    out = tmp_path / "curve.png"
    res = CliRunner().invoke(main, ["plot", "curve", watched["run_id"], "--baseline", line["run_id"],
                                    "--out", str(out), "--results-dir", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert out.stat().st_size > 1000
    assert f"aimclr: 10-measurement mean kNN-1 vs aimclr's {line['metrics']['knn1']:.2f}" in res.output
    bad = CliRunner().invoke(main, ["plot", "curve", line["run_id"], "--out", str(out),
                                    "--results-dir", str(tmp_path)])
    assert bad.exit_code != 0 and "not a pretraining run with --monitor" in bad.output
