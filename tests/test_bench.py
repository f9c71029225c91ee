"""`skelbench bench` on the tiny card: timings measured, augmentation timed and then unwrapped."""
import json

import torch
from click.testing import CliRunner

from skelbench import augment
from skelbench.bench import timed_augment
from skelbench.cli import main
from skelbench.skeleton import NTU25


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
        augment.extreme(x, torch.Generator().manual_seed(0), layout=NTU25)   # flip, rotate, noise, ... inside
    assert len(syncs) == 2 and totals[0] > 0                # one outer call: timed once
    assert not hasattr(augment.extreme, "__wrapped__")


def test_pipeline_only_times_views_without_a_model(project, monkeypatch):
    from skelbench import config as C
    from skelbench.bench import bench
    from skelbench.methods.skeletonclr import SkeletonCLR
    calls = []
    monkeypatch.setattr(SkeletonCLR, "training_step", lambda *a, **k: calls.append(1))
    cfg = C.resolve("skeletonclr", "synth-xsub")
    r = bench(cfg, torch.device("cpu"), steps=2, warmup=1, batch_size=8, frames=20,
              pipeline_only=True, train_size=1000, epochs=10)
    assert not calls                                        # the model never ran
    assert r["mode"] == "pipeline-only" and r["frames"] == 20 and r["step_ms"] > 0
    assert abs(r["projected_h"] - r["step_ms"] / 1e3 * (1000 // 8) * 10 / 3600) <= 1e-3
    one = bench(cfg, torch.device("cpu"), steps=1, warmup=0, batch_size=8, pipeline_only=True,
                bodies=1)
    three = bench(cfg, torch.device("cpu"), steps=1, warmup=0, batch_size=8, pipeline_only=True,
                  bodies=3)
    assert (r["bodies"], one["bodies"], three["bodies"]) == (2, 1, 3)   # the data's, fewer, more


def test_views_are_what_the_training_step_draws(project):
    """``views`` makes the same tensors from the same generator as the augmentations called
    directly, in the order ``training_step`` uses them."""
    from skelbench import config as C
    from skelbench.methods import build_method
    cfg = C.resolve("skeletonclr", "synth-xsub")
    method = build_method(cfg, 4, NTU25)
    x = torch.randn(3, 3, 12, 25, 2)
    a, b = method.views(x, 0, torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)
    first = augment.shear(augment.temporal_crop(x, g, 6), g, 0.5)
    second = augment.shear(augment.temporal_crop(x, g, 6), g, 0.5)
    assert torch.equal(a, first) and torch.equal(b, second)


def test_resample_frames_keeps_constant_signals():
    from skelbench.bench import resample_frames
    x = torch.ones(2, 3, 16, 25, 2) * torch.arange(3.0).view(1, 3, 1, 1, 1)
    y = resample_frames(x, 50)
    assert y.shape == (2, 3, 50, 25, 2) and torch.allclose(y, x[:, :, :1].expand_as(y))


def test_speed_settings_auto_per_device_and_out_of_the_hash(project):
    from skelbench import config as C
    from skelbench import speed
    cpu = speed.effective({}, torch.device("cpu"))
    assert cpu == {"cudnn_benchmark": False, "tf32": False, "fused_optimizer": False, "compile": False}
    cuda = speed.effective({"tf32": False}, torch.device("cuda"))
    assert cuda == {"cudnn_benchmark": True, "tf32": False, "fused_optimizer": True, "compile": False}
    a = C.resolve("skeletonclr", "synth-xsub")
    b = C.resolve("skeletonclr", "synth-xsub", overrides=["speed.compile=true"])
    assert b["speed"]["compile"] is True
    off = C.resolve("skeletonclr", "synth-xsub", overrides=["speed.tf32=false"])
    assert speed.effective(off["speed"], torch.device("cuda"))["tf32"] is False
    assert C.config_hash(C.pretrain_section(a)) == C.config_hash(C.pretrain_section(b))
    import pytest
    with pytest.raises(C.ConfigError, match="speed.fast"):
        speed.effective({"fast": True}, torch.device("cpu"))


def test_amp_check_compares_two_measured_curves(project):
    from skelbench import config as C
    from skelbench.bench import amp_agreement
    cfg = C.resolve("skeletonclr", "synth-xsub")
    r = amp_agreement(cfg, torch.device("cpu"), steps=4, batch_size=8, window=2)
    assert len(r["loss_fp32"]) == len(r["loss_bf16"]) == 4
    assert r["loss_fp32"] != r["loss_bf16"]                # bf16 really ran
    assert 0 <= r["mean_rel_gap"] <= r["max_rel_gap"] < 0.5


def test_compiled_encoder_keeps_its_state_dict_keys(project):
    from skelbench import config as C
    from skelbench import speed
    from skelbench.methods import build_method
    cfg = C.resolve("skeletonclr", "synth-xsub")
    method = build_method(cfg, 4, NTU25)
    keys = list(method.state_dict())
    speed.compile_encoders(method, {"compile": True})
    assert list(method.state_dict()) == keys
