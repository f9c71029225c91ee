"""Shared fixtures: a tiny project (recipes copied, a small synth card) so runs take seconds."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


TINY_CARD = {
    "name": "synth", "kind": "synth", "frames": 12,
    "generator": {"n_subjects": 4, "n_replications": 1, "seed": 0},
    "splits": {"synth-xsub": {"by": "subject", "train": [1, 2]},
               "synth-xview": {"by": "camera", "train": [2, 3]}},
    "schedule": {"backbone": {"name": "stgcn-tiny", "width": 4, "hidden_dim": 16},
                 "pretrain": {"epochs": 1, "lr_steps": [], "batch_size": 32},
                 "args": {"queue_size": 64}, "linear": {"epochs": 3, "lr_steps": [2]},
                 "finetune": {"epochs": 1, "lr_steps": [], "batch_size": 16},
                 "semi": {"schedule": {"batch_size": 8}},
                 "transfer": {"target": "synthb-xsub"}},
}
# The transfer target: other subjects, cameras and a class subset.
TINY_B = {
    "name": "synthb", "kind": "synth", "frames": 12,
    "generator": {"n_subjects": 3, "n_replications": 1, "seed": 1, "cameras": [-60.0, 30.0],
                  "classes": ["clap", "jump", "squat", "handshake"]},
    "splits": {"synthb-xsub": {"by": "subject", "train": [1, 2]}},
}


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project root with the real recipes and a tiny synth card; SKELBENCH_ROOT points at it."""
    shutil.copytree(REPO / "methods", tmp_path / "methods")
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "synth.yaml").write_text(yaml.safe_dump(TINY_CARD))
    quick = {**TINY_CARD, "name": "quick", "splits": {"quick-xsub": TINY_CARD["splits"]["synth-xsub"]}}
    (tmp_path / "datasets" / "quick.yaml").write_text(yaml.safe_dump(quick))
    (tmp_path / "datasets" / "synthb.yaml").write_text(yaml.safe_dump(TINY_B))
    monkeypatch.setenv("SKELBENCH_ROOT", str(tmp_path))
    return tmp_path


def load_all():
    from skelbench import data, methods, protocols  # noqa: F401
