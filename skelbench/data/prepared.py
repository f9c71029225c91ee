"""Prepared datasets: plain arrays + a metadata table, loaded once onto the training device.

Layout of ``<root>/datasets/prepared/<dataset>/``:
  data.npy    float32 (N, 3, T, 25, 2), memory-mappable
  meta.csv    one row per sample: name, label, length, and what the source tells (subject,
              camera, setup, replication, video, ...)
  info.json   classes, frames, source, preprocessing, sha256 of data.npy
A split (``synth-xsub``, ``ntu60-xview``, ...) is a rule over the metadata given by the card:
``splits: {name: {by: <column>, train: [values]}}``; every other sample is test. Where the source
itself fixes a split (PKU-MMD's split files, an imported train/val pair), meta.csv has a column
named after the split: 1 train, 0 test, -1 in neither. No pickle.
``$SKELBENCH_PREPARED``, when set, replaces ``<root>/datasets/prepared``.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import ConfigError, load_card, project_root
from ..registry import DATASETS
from ..skeleton import Layout, get_layout

REQUIRED_COLUMNS = ("name", "label", "length")


@dataclass
class Split:
    """One split on one device. ``x_*`` are (N, 3, T, 25, 2) float32, ``y_*`` int64."""
    name: str
    classes: list[str]
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    info: dict

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def layout(self) -> Layout:
        """The skeleton layout the data was prepared in (``info.json``; ntu25 before it said)."""
        return get_layout(self.info.get("layout"))


def prepared_root(root: Path | None = None) -> Path:
    env = os.environ.get("SKELBENCH_PREPARED")
    return Path(env) if env else (root or project_root()) / "datasets" / "prepared"


def prepared_dir(dataset: str, root: Path | None = None) -> Path:
    return prepared_root(root) / dataset


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def write_prepared(out: Path, data: np.ndarray, meta: dict, info: dict) -> dict:
    """Write a prepared dataset atomically: into a temp dir beside ``out``, then rename.
    Returns the info written."""
    missing = [c for c in REQUIRED_COLUMNS if c not in meta]
    if missing:
        raise ValueError(f"prepared metadata lacks column(s) {missing}")
    bad = ~np.isfinite(data).reshape(len(data), -1).all(axis=1)
    if bad.any():
        raise ValueError(f"sample {meta['name'][int(np.argmax(bad))]} (and {int(bad.sum()) - 1} more) "
                         "has NaN or inf coordinates; check the source files")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        np.save(tmp / "data.npy", np.ascontiguousarray(data, dtype=np.float32))
        pd.DataFrame(meta).to_csv(tmp / "meta.csv", index=False)
        info = {**info, "num_samples": int(len(data)), "shape": list(data.shape),
                "sha256": sha256_file(tmp / "data.npy")}
        (tmp / "info.json").write_text(json.dumps(info, indent=2))
        if _same_build(out, info):          # another process finished the same build first
            shutil.rmtree(tmp)
            return json.loads((out / "info.json").read_text())
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return info


def _same_build(out: Path, info: dict) -> bool:
    try:
        done = json.loads((out / "info.json").read_text())
    except (OSError, ValueError):
        return False
    return bool(info.get("fingerprint")) and done.get("fingerprint") == info.get("fingerprint")


def ensure_prepared(dataset: str, root: Path | None = None) -> Path:
    """The prepared directory of ``dataset``, building it first where the builder can (synth)."""
    card = load_card(dataset, root)
    out = prepared_dir(dataset, root)
    builder = DATASETS.get(card.get("kind", dataset))
    info_path = out / "info.json"
    if not hasattr(builder, "build"):      # a real dataset: prepared from the user's files
        if not info_path.is_file():
            raise ConfigError(f"{dataset} is not prepared ({out} does not exist): run "
                              f"`skelbench data prepare {dataset} --raw PATH` (docs/datasets.md, \"Real "
                              "datasets\"), or set SKELBENCH_PREPARED to where it was prepared")
        return out
    if info_path.is_file():
        info = json.loads(info_path.read_text())
        if info.get("fingerprint") == builder.fingerprint(card):
            return out
    builder.build(card, out)
    return out


def data_state(dataset: str, root: Path | None = None) -> str:
    """'prepared', 'generated on first use' (an embedded set not built yet, or built with other
    settings) or 'not prepared: ...' with the command that prepares it."""
    card = load_card(dataset, root)
    builder = DATASETS.get(card.get("kind", dataset))
    info_path = prepared_dir(dataset, root) / "info.json"
    if not hasattr(builder, "build"):
        return ("prepared" if info_path.is_file() else
                f"not prepared: run `skelbench data prepare {dataset} --raw PATH` first")
    if info_path.is_file() and json.loads(info_path.read_text()).get(
            "fingerprint") == builder.fingerprint(card):
        return "prepared"
    return "generated on first use"


def prepared_fingerprint(card: dict, root: Path | None = None) -> str:
    """What a prepared real dataset is: its checksum (enters every config hash)."""
    info_path = prepared_dir(card["name"], root) / "info.json"
    if not info_path.is_file():
        return "unprepared"
    return json.loads(info_path.read_text())["sha256"][:16]


def split_membership(meta: pd.DataFrame, split: str, card: dict, info: dict,
                     path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) boolean masks over ``meta``: the split's own column where the source fixed
    it (1 train, 0 test, -1 neither), else the card's rule over a metadata column."""
    if split in meta.columns:
        member = meta[split].to_numpy()
        return member == 1, member == 0
    column = card["splits"][split].get("by")
    if column not in meta.columns:
        only = info.get("only_split")
        raise ConfigError(
            f"{split}: the prepared {card['name']} data ({path}) has no {column!r} column to split "
            f"by" + (f"; it was imported from a file that holds only {only}" if only else
                     f"; datasets/{card['name']}.yaml says split {split!r} is by {column!r}"))
    train = meta[column].isin(card["splits"][split]["train"]).to_numpy()
    return train, ~train


def empty_side(split: str, dataset: str, n_train: int, n_test: int) -> str | None:
    """What is wrong with a split that has no training or no test clips (None if both exist)."""
    empty = [side for side, n in (("training", n_train), ("test", n_test)) if n == 0]
    if not empty:
        return None
    return (f"{split}: no {' and no '.join(empty)} clips in the prepared {dataset} data "
            f"({n_train} train / {n_test} test): check the split's rule in datasets/{dataset}.yaml "
            f"(splits.{split}), or prepare the whole dataset (`skelbench data info {split}` "
            "shows the counts)")


def load_split(split: str, dataset: str, device: torch.device | str = "cpu",
               root: Path | None = None) -> Split:
    card = load_card(dataset, root)
    path = ensure_prepared(dataset, root)
    info = json.loads((path / "info.json").read_text())
    meta = pd.read_csv(path / "meta.csv")
    train, test = split_membership(meta, split, card, info, path)
    problem = empty_side(split, dataset, int(train.sum()), int(test.sum()))
    if problem:                     # before any training, not in torch.cat after it
        raise ConfigError(problem)
    data = np.load(path / "data.npy", mmap_mode="r")
    # Checked here, before any training: a NaN would otherwise surface as a NaN loss mid-run.
    bad = ~np.isfinite(data).reshape(len(data), -1).all(axis=1)
    if bad.any():
        raise ConfigError(f"{path / 'data.npy'}: sample {meta['name'][int(np.argmax(bad))]} "
                          f"(and {int(bad.sum()) - 1} more) has NaN or inf coordinates; prepare "
                          f"the dataset again (skelbench data prepare {dataset} ...)")
    layout = get_layout(info.get("layout"))
    if data.ndim != 5 or data.shape[3] != layout.num_joints:
        raise ConfigError(f"{path / 'data.npy'} has shape {tuple(data.shape)}, but its info.json "
                          f"says layout {layout.name} ({layout.num_joints} joints): prepare the "
                          f"dataset again (skelbench data prepare {dataset} ...)")
    labels = meta["label"].to_numpy()
    import torch        # here, not above: `compare` reads the cards through this package

    def put(mask):
        x = torch.from_numpy(np.ascontiguousarray(data[mask])).to(device)
        return x, torch.from_numpy(labels[mask]).long().to(device)

    x_train, y_train = put(train)
    x_test, y_test = put(test)
    return Split(split, list(info["classes"]), x_train, y_train, x_test, y_test, info)
