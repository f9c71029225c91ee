"""`skelbench bench` on the tiny card: timings measured, augmentation timed and then unwrapped."""
import json

import torch
from click.testing import CliRunner

from skelbench import augment
from skelbench.bench import timed_augment
from skelbench.cli import main


def test_bench_reports_a_measured_step(project):
    crop = augment.temporal_crop
    res = CliRunner().invoke(main, ["bench", "--method", "skeletonclr", "--steps", "2",
                                    "--warmup", "1", "--batch", "8", "--json"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    r = json.loads(res.output.splitlines()[-1])
    assert r["batch_size"] == 8 and r["step_ms"] > 0 and 0 < r["pipeline_share"] < 1
    assert r["augment_ms"] > 0 and r["device"] == "cpu" and r["settings"]["threads"] >= 1
    assert augment.temporal_crop is crop                    # the wrappers are gone


def test_nested_augmentations_are_timed_once(monkeypatch):
    import skelbench.bench as bench
    syncs = []
    monkeypatch.setattr(bench, "_sync", lambda device: syncs.append(device))
    totals = [0.0]
    with timed_augment(torch.device("cpu"), totals):
        x = torch.randn(4, 3, 12, 25, 2)
        augment.extreme(x, torch.Generator().manual_seed(0))   # flip, rotate, noise, ... inside
    assert len(syncs) == 2 and totals[0] > 0                # one outer call: timed once
    assert not hasattr(augment.extreme, "__wrapped__")
