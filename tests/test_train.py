"""The shared loop: non-finite loss, checkpoints and resume, on the tiny synth card."""
import json

import pytest
import torch

from skelbench import config as C
from skelbench.api import Runner
from skelbench.methods.skeletonclr import SkeletonCLR
from skelbench.train import NonFiniteLoss

from .conftest import load_all


def runner(project):
    load_all()
    return Runner(project / "results", torch.device("cpu"), log=lambda m: None)


def pretrain_records(project):
    return [json.loads(p.read_text()) for p in (project / "results").glob("runs/*/record.json")]


def test_non_finite_loss_stops_the_run_naming_epoch_and_step(project, monkeypatch):
    original = SkeletonCLR.training_step

    def poisoned(self, x, y, epoch, generator):
        out = original(self, x, y, epoch, generator)
        return {"loss": out["loss"] * float("nan")}

    monkeypatch.setattr(SkeletonCLR, "training_step", poisoned)
    cfg = C.resolve("skeletonclr", "synth-xsub")
    with pytest.raises(NonFiniteLoss, match="at epoch 1, step 1"):
        runner(project).pretrain(cfg, seed=0)
    (record,) = pretrain_records(project)
    assert record["status"] == "failed" and "epoch 1, step 1" in record["error"]


def test_interrupted_pretraining_resumes_from_its_last_checkpoint(project, monkeypatch):
    cfg = C.resolve("skeletonclr", "synth-xsub", overrides=["pretrain.epochs=3"])
    original = SkeletonCLR.training_step

    def dies_in_epoch_3(self, x, y, epoch, generator):
        if epoch == 2:
            raise KeyboardInterrupt
        return original(self, x, y, epoch, generator)

    monkeypatch.setattr(SkeletonCLR, "training_step", dies_in_epoch_3)
    with pytest.raises(KeyboardInterrupt):
        runner(project).pretrain(cfg, seed=0)
    (failed,) = pretrain_records(project)
    assert failed["status"] == "failed"

    monkeypatch.setattr(SkeletonCLR, "training_step", original)
    done = runner(project).pretrain(cfg, seed=0)
    assert done["run_id"] == failed["run_id"] and done["status"] == "done"
    assert done["throughput"]["epochs_run"] == 1           # only epoch 3 was left
    assert len(done["history"]["loss"]) == 3               # the history survives the resume
    assert len(done["history"]["key_std"]) == 3
    # ... and a second call reuses the finished pretraining.
    again = runner(project).pretrain(cfg, seed=0)
    assert again["run_id"] == done["run_id"] and len(pretrain_records(project)) == 1


def test_frames_is_a_card_setting(project):
    cfg = C.resolve("skeletonclr", "synth-xsub", overrides=["data.frames=20"])
    with pytest.raises(C.ConfigError, match="dataset-card setting"):
        runner(project).pretrain(cfg, seed=0)


def test_the_record_keeps_every_scalar_of_the_step_per_epoch(project):
    cfg = C.resolve("tranclr", "synth-xsub", overrides=["pretrain.epochs=2"])
    history = runner(project).pretrain(cfg, seed=0)["history"]
    assert set(history) == {"loss", "loss_intra", "loss_inter", "loss_cross", "key_std"}
    assert all(len(v) == 2 for v in history.values())
    for a, b in zip(history["loss"], zip(history["loss_intra"], history["loss_inter"],
                                         history["loss_cross"])):
        assert a == pytest.approx(sum(b), abs=1e-4)        # the terms add up to the loss
    assert all(0 < s < 1 for s in history["key_std"])


def test_a_collapsed_embedding_is_reported(project, monkeypatch):
    point = torch.nn.functional.normalize(torch.ones(1, 128), dim=1)
    monkeypatch.setattr(SkeletonCLR, "embed_key", lambda self, x: point.expand(len(x), -1))
    messages = []
    cfg = C.resolve("skeletonclr", "synth-xsub", overrides=["pretrain.epochs=1"])
    Runner(project / "results", torch.device("cpu"), log=messages.append).pretrain(cfg, seed=0)
    assert any("key_std 0.0000" in m and "has collapsed" in m for m in messages), messages
