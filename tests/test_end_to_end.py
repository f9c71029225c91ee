"""The CLI end to end on the tiny synth card: run, records, reuse, compare."""
import json

import torch
from click.testing import CliRunner

from skelbench.cli import main


def records(project, kind=None):
    out = [json.loads(p.read_text()) for p in sorted((project / "results").glob("runs/*/record.json"))]
    return [r for r in out if kind is None or r["kind"] == kind]


def test_run_writes_records_and_reuses_the_pretraining(project):
    runner = CliRunner()
    res = runner.invoke(main, ["run", "--dataset", "synth-xsub", "--method", "skeletonclr", "--protocol", "linear",
                               "--seeds", "0,1"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "top1" in res.output
    pre, lin = records(project, "pretrain"), records(project, "linear")
    assert len(pre) == 2 and len(lin) == 2
    rec = lin[0]
    assert rec["status"] == "done" and rec["parent_run_id"] in {p["run_id"] for p in pre}
    assert {"top1", "top5", "top1_best", "best_epoch"} <= set(rec["metrics"])
    assert rec["selection"] == "last" and rec["config"]["linear"]["lr"] == 3.0
    assert rec["config_hash"] == lin[1]["config_hash"] and rec["seed"] != lin[1]["seed"]
    # The CPU's vector ISA is part of what a record says ran it (kernels, hence numbers, differ).
    assert torch.backends.cpu.get_cpu_capability() in pre[0]["hardware"]["device"]
    run_dir = project / "results" / "runs" / rec["run_id"]
    assert (run_dir / "logits.npz").is_file()
    assert (project / "results" / "runs" / rec["parent_run_id"] / "checkpoint.pt").is_file()

    # A changed linear schedule reuses the pretraining: no new pretrain record.
    res = runner.invoke(main, ["run", "--dataset", "synth-xsub", "--method", "skeletonclr", "--seeds", "0", "--set",
                               "linear.epochs=2"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "reusing pretraining" in res.output
    assert len(records(project, "pretrain")) == 2 and len(records(project, "linear")) == 3

    res = runner.invoke(main, ["compare", "--format", "md"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    # The card's settings are the table (two seeds); the run with --set is a variant, shown
    # with --all under its override, never mixed into the canonical cell.
    assert "| skeletonclr " in res.output and "(2)" in res.output
    assert "linear.epochs=2" not in res.output and "1 record(s) of runs with --set" in res.output
    res = runner.invoke(main, ["compare", "--format", "md", "--all"], catch_exceptions=False)
    assert "skeletonclr [linear.epochs=2]" in res.output and "(1)" in res.output


def test_random_init_and_list(project):
    runner = CliRunner()
    res = runner.invoke(main, ["run", "--dataset", "synth-xsub", "--method", "random-init"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    pre = records(project, "pretrain")[0]
    assert pre["throughput"]["epochs_run"] == 0
    res = runner.invoke(main, ["list", "methods"])
    assert "skeletonclr" in res.output and "random-init" in res.output and "supervised" in res.output
    res = runner.invoke(main, ["list", "datasets"])
    assert "synth-xsub" in res.output and "synth-xview" in res.output
    res = runner.invoke(main, ["list", "backbones"])
    assert "stgcn" in res.output and "stgcn-tiny" in res.output and "stgcn-full" in res.output


def test_the_default_run_is_tranclr_linear(project):
    res = CliRunner().invoke(main, ["run", "--dataset", "synth-xsub", "--dry-run"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    plan = [line.split() for line in res.output.splitlines() if line.startswith("to do")]
    # AimCLR's phase 1, TranCLR's phase 2, then its linear run
    assert [(row[2], row[3]) for row in plan] == [("pretrain", "aimclr"), ("pretrain", "tranclr"),
                                                  ("linear", "tranclr")]


def test_user_errors_are_one_line(project):
    res = CliRunner().invoke(main, ["run", "--dataset", "synth-xsub", "--method", "skeletonclrr"])
    assert res.exit_code != 0 and "did you mean skeletonclr" in res.output
    assert "Traceback" not in res.output


def test_plugin_method_runs_end_to_end(project, tmp_path):
    plugin = tmp_path / "floor_plugin.py"
    plugin.write_text(
        "from skelbench.registry import METHODS\n"
        "from skelbench.methods.baselines import RandomInit\n"
        "@METHODS.register('e2e-floor')\n"
        "class Floor(RandomInit):\n"
        "    '''An outside method.'''\n")
    recipe = (project / "methods" / "random-init.yaml").read_text()
    (project / "methods" / "e2e-floor.yaml").write_text(recipe.replace("class: random-init", "class: e2e-floor"))
    res = CliRunner().invoke(main, ["run", "--dataset", "synth-xsub", "--plugin", str(plugin), "--method", "e2e-floor"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert records(project, "linear")[0]["method"] == "e2e-floor"
