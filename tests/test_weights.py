"""Released weights: the official checkpoints classify real NTU clips through this project's own
reader, preprocessing and their imported classifier; bad or mismatched checkpoints get one-line
errors; a run on released weights is recorded and shown apart from rows trained here."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from skelbench.backbones.stgcn import STGCN
from skelbench.errors import CheckpointError, ConfigError
from skelbench.skeleton import KINECT_V1_20, NTU25
from skelbench.weights import read_weights

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(os.environ.get("SKELBENCH_FIXTURES", REPO.parent / "shared" / "fixtures"))
CHECKPOINTS = FIXTURES / "checkpoints"
needs_checkpoints = pytest.mark.skipif(not CHECKPOINTS.is_dir(),
                                       reason=f"released checkpoints not found at {CHECKPOINTS}")
RELEASED = {"actclr-ntu60-xview-joint-linear-87.14.pt": "actclr",
            "aimclr-ntu60-xview-joint-linear-77.76.pt": "aimclr"}


def ntu_clips() -> torch.Tensor:
    from skelbench.data import ntu
    from skelbench.data.preprocess import ssl_preprocess
    clips = []
    for name in ("S001C001P001R001A001", "S001C001P001R001A004"):     # drink water, brush hair
        raw = ntu.read_skeleton(FIXTURES / "ntu" / f"{name}.skeleton")
        clips.append(ssl_preprocess(ntu.select_bodies(raw, "order"), 50, True, layout=NTU25)[0])
    return torch.from_numpy(np.stack(clips))


@needs_checkpoints
@pytest.mark.parametrize("name", list(RELEASED))
def test_a_released_checkpoint_classifies_the_fixture_clips(name):
    encoder = STGCN(width=16, hidden_dim=256)
    released = read_weights(CHECKPOINTS / name, encoder, "ntu25")
    assert released.format == "official" and released.layout == "ntu25"
    assert released.describe()["loaded"] == ["encoder", "classifier"]
    assert released.classifier[0].shape == (60, 256)          # the 1x1 convolution, as a Linear
    encoder.load_state_dict(released.encoder)
    encoder.eval()
    with torch.no_grad():
        logits = encoder(ntu_clips()) @ released.classifier[0].T + released.classifier[1]
    assert logits.argmax(1).tolist() == [0, 3]                  # drink water, brushing hair


def official_like(encoder: STGCN, **extra) -> dict:
    """An official processor's state dict for ``encoder``'s weights."""
    state = {"encoder_q.A": torch.from_numpy(__import__("skelbench.backbones.graph", fromlist=["x"])
                                             .spatial_partition(encoder.layout))}
    for k, v in encoder.state_dict().items():
        if k.startswith("blocks.") and k.endswith(".edge_importance"):
            state[f"encoder_q.edge_importance.{k.split('.')[1]}"] = v
        elif k.startswith("blocks."):
            state["encoder_q.st_gcn_networks." + k[len("blocks."):]] = v
        else:
            state[f"encoder_q.{k}"] = v
    return {**state, **extra}


def test_official_names_map_onto_the_backbone_with_a_linear_or_conv_head(tmp_path):
    source = STGCN(width=4, hidden_dim=16)
    head = torch.randn(7, 16)
    for weight in (head, head[:, :, None, None]):
        torch.save(official_like(source, **{"encoder_q.fc.weight": weight,
                                            "encoder_q.fc.bias": torch.zeros(7),
                                            "encoder_k.data_bn.weight": torch.ones(75),
                                            "queue": torch.zeros(8, 4)}), tmp_path / "c.pt")
        released = read_weights(tmp_path / "c.pt", STGCN(width=4, hidden_dim=16), NTU25)
        assert torch.equal(released.classifier[0], head)
        assert released.left == ["key side", "queue"]
        target = STGCN(width=4, hidden_dim=16)
        target.load_state_dict(released.encoder)
        assert all(torch.equal(a, b) for a, b in zip(target.state_dict().values(),
                                                     source.state_dict().values()))


def test_bad_checkpoints_get_one_line_errors(tmp_path):
    encoder = STGCN(width=4, hidden_dim=16)
    (tmp_path / "text.pt").write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match=r"text\.pt: (refused|truncated or corrupt)"):
        read_weights(tmp_path / "text.pt", encoder, NTU25)
    torch.save(official_like(encoder, **{"encoder_q.mystery.weight": torch.ones(2),
                                         "encoder_q.other": torch.ones(1)}), tmp_path / "u.pt")
    with pytest.raises(CheckpointError, match=r"unexpected tensor\(s\) encoder_q.mystery.weight, "
                                              r"encoder_q.other"):
        read_weights(tmp_path / "u.pt", encoder, NTU25)
    torch.save(official_like(STGCN(width=8, hidden_dim=16)), tmp_path / "w.pt")
    with pytest.raises(CheckpointError, match=r"tensor blocks.0.gcn.conv.weight has shape "
                                              r"\(24, 3, 1, 1\) in the checkpoint, \(12, 3, 1, 1\)"):
        read_weights(tmp_path / "w.pt", encoder, NTU25)
    with pytest.raises(ConfigError, match="ntu25.*kinect-v1-20"):
        read_weights(tmp_path / "w.pt", STGCN(width=4, hidden_dim=16, layout=KINECT_V1_20),
                     KINECT_V1_20)
    torch.save({"encoder_q.fc.weight": torch.ones(3, 16, 2, 2), "encoder_q.fc.bias": torch.ones(3),
                **official_like(encoder)}, tmp_path / "h.pt")
    with pytest.raises(CheckpointError, match=r"encoder_q.fc.weight has shape \(3, 16, 2, 2\)"):
        read_weights(tmp_path / "h.pt", encoder, NTU25)
    torch.save({"method": {"encoder.data_bn.weight": torch.ones(75), "mystery": torch.ones(1)},
                "layout": "ntu25"}, tmp_path / "own.pt")
    with pytest.raises(CheckpointError, match="unexpected tensor.*mystery"):
        read_weights(tmp_path / "own.pt", encoder, NTU25)


def test_a_run_on_released_weights_is_recorded_and_shown_apart(project, tmp_path):
    """An own checkpoint (a supervised run, with its classifier) evaluated as released weights:
    the record names the file and its checksum, released-head scores the checkpoint's own
    classifier, and compare labels the row apart from the trained one."""
    from skelbench import config as C
    from skelbench.api import Runner
    from skelbench.leaderboard import load_records
    from skelbench.weights import sha256_file

    from .conftest import load_all
    load_all()
    trained = tmp_path / "trained"
    runner = Runner(trained, torch.device("cpu"), log=lambda *a: None)
    cfg = C.resolve("supervised", "synth-xsub")
    parent = runner.pretrain(cfg, 0)
    path = trained / "runs" / parent["run_id"] / "checkpoint.pt"
    released_cfg = C.with_weights(cfg, sha256_file(path), path.name, path)
    assert C.config_hash(C.pretrain_section(released_cfg)) != parent["config_hash"]
    # Nothing is trained: the recipe's training settings are not part of the row's config.
    assert not {"args", "pretrain", "init"} & set(released_cfg)
    other = C.resolve("supervised", "synth-xsub", overrides=["pretrain.lr=0.5"])
    assert (C.config_hash(C.with_weights(other, sha256_file(path), path.name))
            == C.config_hash(C.with_weights(cfg, sha256_file(path), path.name)))
    results = tmp_path / "released"
    out = Runner(results, torch.device("cpu"), log=lambda *a: None).run(
        released_cfg, 0, ["linear", "released-head"])
    pre = Runner(results, torch.device("cpu"), log=lambda *a: None).pretrain(released_cfg, 0)
    assert pre["released"]["sha256"] == sha256_file(path)
    assert pre["released"]["loaded"] == ["encoder", "classifier"] and pre["epochs"] == 0
    head = out[1]["metrics"]
    assert 0 <= head["top1"] <= 100 and "ece" in head
    frame, _ = load_records(results)
    assert set(frame["method"]) == {"supervised (released weights)"}
    # A checkpoint that is not where the config says, nor under SKELBENCH_WEIGHTS: named.
    moved = C.with_weights(cfg, sha256_file(path), path.name)
    with pytest.raises(CheckpointError, match="SKELBENCH_WEIGHTS is not set"):
        Runner(tmp_path / "other", torch.device("cpu"), log=lambda *a: None).pretrain(moved, 0)
