"""Hostile inputs end to end: each is refused with its documented message, and nothing that was
already in results/ changes."""
import json

import numpy as np
import pytest
import torch

from skelbench import config as C
from skelbench.api import Runner
from skelbench.data import load_split
from skelbench.train import CheckpointError

from .conftest import load_all


def runner(project):
    load_all()
    return Runner(project / "results", torch.device("cpu"), log=lambda m: None)


def snapshot(results):
    return {p: p.read_bytes() for p in results.rglob("*") if p.is_file()}


def unharmed(before, results, *, except_for=()):
    for path, data in before.items():
        if path not in except_for:
            assert path.read_bytes() == data, f"{path} changed"


def finished_pretraining(project):
    cfg = C.resolve("skeletonclr", "synth-xsub")
    record = runner(project).pretrain(cfg, seed=0)
    return cfg, project / "results" / "runs" / record["run_id"] / "checkpoint.pt"


def test_truncated_checkpoint_is_named_and_nothing_else_changes(project):
    cfg, ckpt = finished_pretraining(project)
    ckpt.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])
    before = snapshot(project / "results")
    with pytest.raises(CheckpointError, match=rf"{ckpt}: truncated or corrupt .*delete its run folder"):
        runner(project).evaluate(cfg, 0, "linear")
    unharmed(before, project / "results")


def test_checkpoint_carrying_pickled_objects_is_refused_unexecuted(project, tmp_path):
    cfg, ckpt = finished_pretraining(project)
    marker = tmp_path / "executed"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    state = torch.load(ckpt, weights_only=True)
    state["extra"] = Payload()
    torch.save(state, ckpt)
    before = snapshot(project / "results")
    with pytest.raises(CheckpointError, match=r"refused: it holds objects other than tensors .*it names (builtins|io).open"):
        runner(project).evaluate(cfg, 0, "linear")
    assert not marker.exists()                               # the payload never ran
    unharmed(before, project / "results")


def test_nan_in_a_prepared_split_is_found_at_load_time_by_sample(project):
    load_all()
    load_split("synth-xsub", "synth")                        # prepares the embedded data
    path = project / "datasets" / "prepared" / "synth" / "data.npy"
    data = np.load(path, mmap_mode="r+")
    data[3, 1, 2, 4, 0] = np.nan
    data.flush()
    del data
    import pandas as pd
    name = pd.read_csv(path.parent / "meta.csv")["name"][3]
    with pytest.raises(C.ConfigError, match=rf"data.npy: sample {name} \(and 0 more\) has NaN or inf.*prepare"):
        load_split("synth-xsub", "synth")


def test_half_written_record_is_reported_and_the_run_goes_on(project):
    cfg, _ = finished_pretraining(project)
    broken = project / "results" / "runs" / "20990101-000000-pretrain-x" / "record.json"
    broken.parent.mkdir(parents=True)
    broken.write_text('{"kind": "pretrain", "status": "do')
    before = snapshot(project / "results")
    record = runner(project).evaluate(cfg, 0, "linear")      # the finished pretraining is reused
    assert record["status"] == "done"
    unharmed(before, project / "results")
    from skelbench.leaderboard import load_records
    _, notices = load_records(project / "results")
    assert any("unreadable record" in n and "20990101-000000-pretrain-x" in n for n in notices)


def test_wrong_type_in_set_names_key_and_type(project):
    load_all()
    with pytest.raises(C.ConfigError, match=r"pretrain.lr.*expected float"):
        C.resolve("skeletonclr", "synth-xsub", overrides=["pretrain.lr=fast"])
    assert json.dumps(C.resolve("skeletonclr", "synth-xsub", overrides=["pretrain.lr=1"])["pretrain"]["lr"]) == "1.0"


def _cli(*args):
    from click.testing import CliRunner

    from skelbench.cli import main
    return CliRunner().invoke(main, list(args))


def test_wrong_device_stream_metric_and_method_get_one_line_each(project):
    res = _cli("run", "--method", "random-init", "--dataset", "synth-xsub", "--device", "gpu")
    assert res.exit_code == 1 and "--device gpu: not a device" in res.output
    assert "Traceback" not in res.output and len(res.output.splitlines()) == 1
    res = _cli("run", "--stream", "joints", "--dry-run")
    assert res.exit_code == 1 and "unknown stream 'joints'; did you mean joint?" in res.output
    assert _cli("run", "--method", "random-init", "--dataset", "synth-xsub").exit_code == 0
    res = _cli("compare", "--metric", "top7")
    assert res.exit_code == 1 and "no results have metric 'top7'; recorded metrics:" in res.output
    res = _cli("compare", "--method", "nosuch")
    assert "no finished results for --method nosuch; there are results for: random-init" in res.output


def test_short_amp_check_and_plot_into_a_folder(project):
    res = _cli("bench", "--method", "skeletonclr", "--amp-check", "--steps", "3", "--device", "cpu")
    assert res.exit_code == 0, res.output
    assert _cli("run", "--method", "random-init", "--dataset", "synth-xsub", "--protocol",
                "calibration").exit_code == 0
    folder = project / "figures"
    folder.mkdir()
    res = _cli("plot", "reliability", "--out", str(folder))
    assert res.exit_code == 0, res.output
    assert (folder / "reliability-synth-xsub.png").is_file()


def test_prepare_names_a_wrong_raw_path_a_garbage_npz_and_leaves_no_empty_partial(project, tmp_path):
    import shutil
    from pathlib import Path
    shutil.copy(Path(__file__).parents[1] / "datasets" / "ntu60.yaml", project / "datasets")
    out = tmp_path / "prepared"
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    res = _cli("data", "prepare", "ntu60", "--raw", str(text), "--out", str(out))
    assert res.exit_code == 1 and "is a file but not an .npz" in res.output
    garbage = tmp_path / "NTU60_CS.npz"
    garbage.write_bytes(b"not a zip at all" * 10)
    res = _cli("data", "prepare", "ntu60", "--raw", str(garbage), "--out", str(out))
    assert res.exit_code == 1 and str(garbage) in res.output and "not a readable .npz" in res.output
    empty = tmp_path / "raw"
    empty.mkdir()
    res = _cli("data", "prepare", "ntu60", "--raw", str(empty), "--out", str(out))
    assert res.exit_code == 1 and "no usable sample" in res.output
    assert out.is_dir() and not list(out.iterdir())     # no leftover .ntu60.partial


def test_a_split_without_test_clips_is_named_before_training(project):
    import yaml
    card_path = project / "datasets" / "synth.yaml"
    card = yaml.safe_load(card_path.read_text())
    card["splits"]["synth-all"] = {"by": "subject", "train": [1, 2, 3, 4]}    # every subject
    card_path.write_text(yaml.safe_dump(card))
    info = _cli("data", "info", "synth-all")
    assert info.exit_code == 0
    assert "warning: synth-all: no test clips" in info.output
    assert ["id", "class", "train", "test"] in [line.split() for line in info.output.splitlines()]
    res = _cli("run", "--method", "skeletonclr", "--dataset", "synth-all")
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert "synth-all: no test clips in the prepared synth data" in res.output
    assert "splits.synth-all" in res.output
    records = list((project / "results").glob("runs/*/record.json"))
    assert not records                       # refused before a pretraining record was started
