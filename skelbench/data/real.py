"""Real datasets (NTU RGB+D 60/120, PKU-MMD I/II): from the user's files to a prepared split.

``skelbench data prepare <dataset> --raw PATH`` reads what the user has, in one of these layouts
(detected, or named with ``--format``):
- ``raw``: NTU ``.skeleton`` files, or PKU-MMD skeleton/label/split text files;
- ``stgcn``: the ST-GCN/CrosSCLR/AimCLR folders, ``{train,val}_data.npy`` (or ``_data_joint``,
  ``_position``) with ``{train,val}_label.pkl``;
- ``npz``: the CTR-GCN/InfoGCN/MAMP ``.npz`` (``x_train`` (N, 300, 150), one-hot ``y_train``, ...).
Every layout goes through the same preprocessing (``skelbench.data.preprocess``) to the card's
frame count, and is written in the prepared format (``skelbench.data.prepared``).

Preparing is resumable: samples are processed in shards written atomically to
``<out>.partial/``; a rerun with the same inputs and settings loads the finished shards and
continues. A finished preparation is verified against its checksum instead of redone.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np

from ..config import ConfigError
from ..registry import DATASETS
from . import ntu, nwucla, pkummd
from .ntu import DataFormatError, EmptySample
from .prepared import prepared_fingerprint, write_prepared
from .preprocess import ssl_preprocess
from ..skeleton import NTU25, get_layout

SHARD = 2000


def _settings(card: dict) -> dict:
    pre = card.get("preprocess") or {}
    return {"frames": int(card.get("frames", 50)), "bodies": pre.get("bodies", "order"),
            "rotate": bool(pre.get("rotate", True))}


def describe(settings: dict) -> str:
    return (f"first two bodies by {'file order' if settings['bodies'] == 'order' else 'motion energy'}"
            f", centred per frame on joint 21, valid frames resized linearly to "
            f"{settings['frames']}" + (", shoulders aligned per frame" if settings["rotate"] else ""))


class _Sharded:
    """Process ``items`` in shards under ``work``; finished shards survive an interruption."""

    def __init__(self, work: Path, plan: dict):
        self.work = work
        key = hashlib.sha256(json.dumps(plan, sort_keys=True, default=str).encode()).hexdigest()
        stamp = work / "plan.sha256"
        if work.exists() and (not stamp.is_file() or stamp.read_text() != key):
            shutil.rmtree(work)        # another input or other settings: start over
        work.mkdir(parents=True, exist_ok=True)
        stamp.write_text(key)

    def run(self, items: list, fn: Callable, workers: int, progress=None) -> tuple[list, list, list]:
        """fn(item) -> ([(sample (3, T, 25, 2), meta dict), ...], warning or None).
        Returns the stacked samples per shard, the metadata rows and the warnings."""
        data, meta, notes = [], [], []
        n_shards = -(-len(items) // SHARD)
        task = progress.add_task("prepare", total=len(items)) if progress else None
        pool = ProcessPoolExecutor(workers) if workers > 1 else None
        try:
            for s in range(n_shards):
                path = self.work / f"shard-{s:05d}.npz"
                chunk = items[s * SHARD:(s + 1) * SHARD]
                if not path.is_file():
                    results = list(pool.map(fn, chunk, chunksize=16) if pool else map(fn, chunk))
                    pairs = [p for r in results for p in r[0]]
                    x = np.stack([p[0] for p in pairs]) if pairs else np.zeros((0,), np.float32)
                    tmp = path.with_suffix(".tmp.npz")
                    np.savez(tmp, x=x, meta=json.dumps([p[1] for p in pairs]),
                             notes=json.dumps([r[1] for r in results if r[1]]))
                    os.replace(tmp, path)
                with np.load(path) as z:
                    if z["x"].size:
                        data.append(z["x"])
                    meta.extend(json.loads(str(z["meta"])))
                    notes.extend(json.loads(str(z["notes"])))
                if progress:
                    progress.update(task, advance=len(chunk))
        finally:
            if pool:
                pool.shutdown(cancel_futures=True)
        return data, meta, notes


def _finish(out: Path, work: Path, data: list, meta: list[dict], info: dict) -> dict:
    if not meta:
        raise ConfigError(f"no usable sample found in {info['source']}")
    x = np.concatenate(data)
    columns = {k: np.array([m.get(k, -1) for m in meta]) for k in meta[0]}
    info = write_prepared(out, x, columns, info)
    shutil.rmtree(work, ignore_errors=True)
    return info


# --- NTU RGB+D -----------------------------------------------------------------------------------
def _ntu_item(args) -> tuple[list, str | None]:
    path, settings = args
    try:
        raw = ntu.read_skeleton(Path(path))
    except EmptySample as e:
        return [], str(e)
    x, length = ssl_preprocess(ntu.select_bodies(raw, settings["bodies"]), settings["frames"],
                               settings["rotate"], layout=NTU25)
    fields = ntu.parse_name(path)
    meta = {"name": Path(path).name.split(".")[0], "label": fields["action"] - 1,
            "length": length, **fields}
    return [(x, meta)], None


def find_missing_list(card: dict, raw: Path, given: Path | None) -> Path | None:
    """--missing PATH, else the card's file name in the raw folder or any folder above it."""
    if given is not None:
        if not Path(given).is_file():
            raise ConfigError(f"--missing {given}: no such file")
        return Path(given)
    name = card.get("missing_list")
    if not name:
        return None
    for folder in (raw, *raw.resolve().parents):
        if (folder / name).is_file():
            return folder / name
    return None


def prepare_ntu_raw(card: dict, raw: Path, out: Path, *, missing: Path | None = None,
                    workers: int = 1, progress=None, log=print) -> dict:
    settings = _settings(card)
    files = sorted(p for p in raw.rglob("*.skeleton"))
    setups = set(card.get("setups", []))
    selected, foreign = [], 0
    for p in files:
        fields = ntu.parse_name(p)
        if setups and fields["setup"] not in setups:
            foreign += 1
            continue
        selected.append(p)
    missing_path = find_missing_list(card, raw, missing)
    if missing_path is None:
        warnings.warn(f"{card['name']}: the official list of samples with missing skeletons "
                      f"({card.get('missing_list')}) was not found in {raw} or above it; pass "
                      "--missing PATH. Samples with no skeleton are still skipped as met, but "
                      "those with partial skeletons are kept, so counts differ from the papers'.")
        listed = set()
    else:
        listed = ntu.read_missing_list(missing_path)
    kept = [p for p in selected if p.name.split(".")[0] not in listed]
    log(f"{len(files)} .skeleton files; {foreign} outside {card['name']}'s setups, "
        f"{len(selected) - len(kept)} on the missing-skeleton list"
        + (f" ({missing_path})" if missing_path else "") + f"; preparing {len(kept)}")
    work = out.with_name(f".{out.name}.partial")
    plan = {"files": [str(p) for p in kept], "settings": settings}
    data, meta, notes = _Sharded(work, plan).run([(str(p), settings) for p in kept], _ntu_item,
                                                 workers, progress)
    empty = len(notes)
    if empty:
        warnings.warn(f"{empty} file(s) with no skeleton in any frame skipped: "
                      + "; ".join(notes[:5]) + (" ..." if empty > 5 else ""))
    info = {"dataset": card["name"], "classes": card["classes"], "frames": settings["frames"],
            "source": f"NTU .skeleton files under {raw}", "format": "raw",
            "preprocessing": describe(settings), "settings": settings,
            "missing_list": str(missing_path) if missing_path else None,
            "skipped": {"outside_setups": foreign, "missing_list": len(selected) - len(kept),
                        "empty": empty}}
    return _finish(out, work, data, meta, info)


# --- ST-GCN / CrosSCLR / AimCLR folders and CTR-GCN .npz -------------------------------------
class _RestrictedUnpickler(pickle.Unpickler):
    """Label .pkl files hold (names, labels): builtin containers, strings and ints only."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: a label file holds "
                                     "only lists, tuples, strings and integers")


def read_label_pkl(path: Path) -> tuple[list[str], list[int]]:
    with open(path, "rb") as f:
        try:
            obj = _RestrictedUnpickler(f).load()
        except Exception as e:
            raise DataFormatError(path, f"not a (names, labels) label pickle: {e}") from None
    ok = (isinstance(obj, (tuple, list)) and len(obj) == 2 and all(isinstance(o, (list, tuple)) for o in obj)
          and all(isinstance(n, str) for n in obj[0]) and all(isinstance(v, int) for v in obj[1])
          and len(obj[0]) == len(obj[1]))
    if not ok:
        raise DataFormatError(path, "expected a pickle of (list of sample names, list of int labels)"
                                    " of equal length")
    return list(obj[0]), list(obj[1])


STGCN_DATA = ("{part}_data.npy", "{part}_data_joint.npy", "{part}_position.npy")


def _stgcn_files(raw: Path) -> list[tuple[Path, Path]]:
    pairs = []
    for part in ("train", "val"):
        data = next((raw / n.format(part=part) for n in STGCN_DATA if (raw / n.format(part=part)).is_file()), None)
        label = raw / f"{part}_label.pkl"
        if data is None or not label.is_file():
            raise ConfigError(f"{raw}: expected {part}_data.npy (or _data_joint/_position.npy) and "
                              f"{part}_label.pkl, as the ST-GCN/CrosSCLR/AimCLR tools write them")
        pairs.append((data, label))
    return pairs


def _from_ctv(x: np.ndarray, settings: dict) -> tuple[np.ndarray, int]:
    """(3, T, 25, 2) or (T, 150) -> preprocessed sample."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2:   # CTR-GCN rows: [actor1 25 x xyz, actor2 25 x xyz]
        x = x.reshape(x.shape[0], 2, 25, 3)
        # The NTU-120 CTR-GCN script copies actor 1 into actor 2's half for one-person samples.
        if np.array_equal(x[:, 0], x[:, 1]):
            x[:, 1] = 0
    else:
        x = x.transpose(1, 3, 2, 0)
    return ssl_preprocess(ntu.select_bodies(x, settings["bodies"]), settings["frames"],
                          settings["rotate"], layout=NTU25)


def prepare_stgcn(card: dict, raw: Path, out: Path, *, progress=None, log=print, **_) -> dict:
    settings = _settings(card)
    # The folder (xsub, xview, xset) says which split its train/val files are.
    split = f"{card['name']}-{raw.name}" if f"{card['name']}-{raw.name}" in card["splits"] else None
    if split is None and card["kind"] != "ntu":
        raise ConfigError(f"{raw}: name the benchmark folder itself (e.g. .../xsub), so its "
                          f"train/val files map to a split of {card['name']} "
                          f"({', '.join(card['splits'])})")
    arrays, items = [], []
    for part, (data_path, label_path) in zip(("train", "test"), _stgcn_files(raw)):
        names, labels = read_label_pkl(label_path)
        x = np.load(data_path, mmap_mode="r")
        if x.ndim != 5 or x.shape[1] != 3 or x.shape[3] != 25 or len(x) != len(names):
            raise DataFormatError(data_path, f"shape {x.shape}; expected (N, 3, T, 25, 2) with N = "
                                             f"{len(names)} as in {label_path.name}")
        arrays.append((x, data_path))
        items += [(len(arrays) - 1, i, names[i].split(".")[0], int(labels[i]), part) for i in range(len(x))]

    def item(it):
        a, i, stem, label, part = it
        x, _ = arrays[a]
        sample, length = _from_ctv(x[i], settings)
        m = {"name": stem, "label": label, "length": length}
        if card["kind"] == "ntu":
            m.update(ntu.parse_name(stem))
        if split:
            m[split] = int(part == "train")
        return [(sample, m)], None

    work = out.with_name(f".{out.name}.partial")
    plan = {"source": [str(p) for _, p in arrays], "n": len(items), "settings": settings}
    data, meta, _ = _Sharded(work, plan).run(items, item, 1, progress)
    info = {"dataset": card["name"], "classes": card["classes"], "frames": settings["frames"],
            "source": f"ST-GCN layout under {raw}", "format": "stgcn",
            "preprocessing": describe(settings), "settings": settings}
    return _finish(out, work, data, meta, info)


NPZ_SPLITS = {  # file-name tag -> split of the card it holds
    "CS": "xsub", "XSUB": "xsub", "CSUB": "xsub", "CV": "xview", "XVIEW": "xview",
    "CSET": "xset", "XSET": "xset"}


def npz_split(card: dict, path: Path) -> str:
    tag = path.stem.replace("_aligned", "").split("_")[-1].upper()
    bench = NPZ_SPLITS.get(tag)
    split = f"{card['name']}-{bench}"
    if bench is None or split not in card.get("splits", {}):
        raise ConfigError(f"{path.name}: cannot tell which {card['name']} split it holds (expected "
                          f"a name ending in one of {', '.join(sorted(NPZ_SPLITS))})")
    return split


def prepare_npz(card: dict, raw: Path, out: Path, *, progress=None, log=print, **_) -> dict:
    settings = _settings(card)
    path = raw
    split = npz_split(card, path)
    try:
        z = np.load(path)           # members of an .npz cannot be memory-mapped: read once
    except (OSError, ValueError) as e:
        raise DataFormatError(path, f"not a readable .npz (a zip of .npy arrays): {e}") from None
    with z:
        missing = {"x_train", "y_train", "x_test", "y_test"} - set(z.files)
        if missing:
            raise DataFormatError(path, f"missing key(s) {sorted(missing)}; a CTR-GCN .npz has "
                                        "x_train, y_train, x_test, y_test")
        parts = {1: (z["x_train"], z["y_train"]), 0: (z["x_test"], z["y_test"])}
    items = []
    for is_train, (x, y) in parts.items():
        if x.ndim != 3 or x.shape[2] != 150 or len(x) != len(y):
            raise DataFormatError(path, f"x has shape {x.shape}; expected (N, T, 150) with N = len(y)")
        labels = y.argmax(axis=1) if y.ndim == 2 else y.astype(int)
        items += [(is_train, i, int(labels[i])) for i in range(len(x))]

    def item(it):
        is_train, i, label = it
        sample, length = _from_ctv(parts[is_train][0][i], settings)
        return [(sample, {"name": f"{'train' if is_train else 'test'}-{i:06d}", "label": label,
                          "length": length, split: is_train})], None

    work = out.with_name(f".{out.name}.partial")
    plan = {"source": str(path), "n": len(items), "settings": settings}
    data, meta, _ = _Sharded(work, plan).run(items, item, 1, progress)
    info = {"dataset": card["name"], "classes": card["classes"], "frames": settings["frames"],
            "source": str(path), "format": "npz", "preprocessing": describe(settings),
            "settings": settings, "only_split": split,
            "note": "a CTR-GCN .npz carries no sample names: it holds one split only"}
    return _finish(out, work, data, meta, info)


# --- PKU-MMD -------------------------------------------------------------------------------------
def _find(raw: Path, names) -> Path | None:
    for name in names:
        hits = sorted(raw.rglob(name))
        if hits:
            return hits[0]
    return None


# How clips are cut from the label rows. papers: the AimCLR/CrosSCLR tools
# (``tools/utils/pku_read_skeleton.py``): rows 1-based and inclusive, a clip longer than 300
# frames centre-cropped to 300 before the resize. mamp: rows [start, end), as MAMP and
# SkeletonX, no crop.
PKU_CUTS = {"papers": {"frame_base": 1, "max_frames": 300},
            "mamp": {"frame_base": 0, "max_frames": None}}


def pku_cut(card: dict) -> dict:
    name = (card.get("preprocess") or {}).get("cut", "papers")
    if name not in PKU_CUTS:
        raise ConfigError(f"datasets/{card['name']}.yaml: preprocess.cut is {name!r}; use one "
                          f"of {', '.join(PKU_CUTS)}")
    return {"cut": name, **PKU_CUTS[name]}


def centre_crop(x: np.ndarray, max_frames: int | None) -> np.ndarray:
    """The middle ``max_frames`` frames of ``x`` (the first of two middles), or all of it."""
    if not max_frames or len(x) <= max_frames:
        return x
    start = (len(x) - max_frames) // 2
    return x[start:start + max_frames]


def _pku_item(args):
    skel_path, label_path, settings, cut = args
    stream = pkummd.read_stream(Path(skel_path))
    report = pkummd.read_labels(Path(label_path), len(stream), cut["frame_base"])
    video = pkummd.parse_video(skel_path)
    out = []
    for clip in report.clips:
        x = centre_crop(stream[clip.start:clip.end], cut["max_frames"])
        if not x[:, 0].any():
            report.skipped.append((clip.row, "all-zero skeleton"))
            continue
        sample, length = ssl_preprocess(x, settings["frames"], settings["rotate"], layout=NTU25)
        out.append((sample, {"name": f"{video['video']}-{clip.row:03d}", "action": clip.action,
                             "length": length, "start": clip.start, "end": clip.end,
                             "confidence": clip.confidence, **video}))
    return out, report.warning()


def prepare_pkummd(card: dict, raw: Path, out: Path, *, workers: int = 1, progress=None,
                   log=print, **_) -> dict:
    settings = _settings(card)
    cut = pku_cut(card)
    skel_dir = _find(raw, card["layout"]["skeleton"])
    label_dir = _find(raw, card["layout"]["label"])
    if skel_dir is None or label_dir is None:
        raise ConfigError(f"{raw}: expected a skeleton folder ({' or '.join(card['layout']['skeleton'])})"
                          f" and a label folder ({' or '.join(card['layout']['label'])}) below it")
    splits = {}
    for split, rule in card["splits"].items():
        path = _find(raw, rule["file"])
        if path is None:
            raise ConfigError(f"{raw}: split file {' or '.join(rule['file'])} for {split} not found")
        train, test = pkummd.read_split_file(path)
        splits[split] = ({v: 1 for v in train} | {v: 0 for v in test}, path)
    items = []
    for skel in sorted(skel_dir.glob("*.txt")):
        label = label_dir / skel.name
        if not label.is_file():
            raise DataFormatError(skel, f"no label file {label}")
        items.append((str(skel), str(label), settings, cut))
    work = out.with_name(f".{out.name}.partial")
    plan = {"items": [i[:2] for i in items], "settings": settings, **cut}
    data, meta, reports = _Sharded(work, plan).run(items, _pku_item, workers, progress)
    for warning in reports:
        warnings.warn(warning)
    present = sorted({m["action"] for m in meta})
    ids = card.get("class_ids") or present
    index = {a: i for i, a in enumerate(ids)}
    unknown = sorted(set(present) - set(index))
    if unknown:
        raise ConfigError(f"{card['name']}: class id(s) {unknown} in the labels are not in the card's "
                          "class_ids")
    for m in meta:
        m["label"] = index[m["action"]]
        for split, (members, _) in splits.items():
            m[split] = members.get(m["video"], -1)
    info = {"dataset": card["name"], "classes": [card["classes"][a - 1] for a in ids],
            "class_ids": ids, "frames": settings["frames"], "source": f"PKU-MMD files under {raw}",
            "format": "raw", "preprocessing": describe({**settings, "bodies": "order"})
            + f"; clips cut as rows [start{'-1' if cut['frame_base'] else ''}, end)"
            + (f", centre-cropped to {cut['max_frames']} frames when longer"
               if cut["max_frames"] else "") + f" ({cut['cut']} convention)",
            "settings": {**settings, **cut},
            "split_files": {s: str(p) for s, (_, p) in splits.items()},
            "label_warnings": len(reports)}
    return _finish(out, work, data, meta, info)


# --- NW-UCLA ---------------------------------------------------------------------------------------
def _nwucla_item(args) -> tuple[list, str | None]:
    path, settings = args
    joints = nwucla.read_clip(Path(path))                              # (T, 20, 3), one body
    layout = get_layout(settings["layout"])
    if layout.name == "ntu25":
        joints = nwucla.to_ntu25(joints)
    x = np.zeros((len(joints), layout.bodies) + joints.shape[1:], np.float32)
    x[:, 0] = joints                                                   # other body slots: absent
    sample, length = ssl_preprocess(x, settings["frames"], settings["rotate"], layout=layout)
    fields = nwucla.parse_name(path)
    meta = {"name": Path(path).name.split(".")[0], "label": nwucla.ACTIONS.index(fields["action"]),
            "length": length, "raw_frames": len(joints), **fields}
    return [(sample, meta)], None


def prepare_nwucla(card: dict, raw: Path, out: Path, *, workers: int = 1, progress=None,
                   log=print, **_) -> dict:
    """NW-UCLA from CTR-GCN's ``all_sqe`` JSON files in the card's layout: kinect-v1-20 as
    recorded (one body), or ntu25 through ``nwucla.MAPPING`` (a second, absent body as NTU's)."""
    layout = get_layout(card.get("skeleton"))
    if layout.name not in ("kinect-v1-20", "ntu25"):
        raise ConfigError(f"datasets/{card['name']}.yaml: NW-UCLA is prepared in kinect-v1-20 (as "
                          f"recorded) or ntu25 (mapped), not {layout.name}")
    settings = {**_settings(card), "layout": layout.name}
    settings.pop("bodies")              # one body per clip: nothing to select
    files = sorted(raw.rglob("*.json"))
    if not files:
        raise ConfigError(f"--raw {raw}: no .json files below it; pass the folder of NW-UCLA's "
                          "all_sqe files (aAA_sSS_eEE_vVV.json)")
    log(f"{len(files)} NW-UCLA .json files under {raw}; layout {layout.name}")
    work = out.with_name(f".{out.name}.partial")
    plan = {"files": [str(p) for p in files], "settings": settings}
    data, meta, _ = _Sharded(work, plan).run([(str(p), settings) for p in files], _nwucla_item,
                                             workers, progress)
    one_frame = [m["name"] for m in meta if m["raw_frames"] == 1]
    preprocessing = (f"one body; valid length by {layout.length_joint}, centred per frame on "
                     f"{layout.center}, valid frames resized linearly to {settings['frames']}"
                     + (f", shoulders ({', '.join(layout.shoulders)}) aligned per frame"
                        if settings["rotate"] else ""))
    info = {"dataset": card["name"], "classes": card["classes"], "frames": settings["frames"],
            "layout": layout.name, "source": f"NW-UCLA JSON files under {raw}", "format": "raw",
            "preprocessing": preprocessing, "settings": settings,
            "mapping": nwucla.MAPPING if layout.name == "ntu25" else None,
            "notes": [f"{len(one_frame)} clip(s) of a single frame kept ({', '.join(one_frame)}): "
                      "each becomes a still clip; Predict & Cluster drops them"] if one_frame else []}
    return _finish(out, work, data, meta, info)


@DATASETS.register("nwucla")
class NWUCLADataset:
    """NW-UCLA (Northwestern-UCLA Multiview Action 3D) from the user's JSON files."""
    prepare = {"raw": prepare_nwucla}
    fingerprint = staticmethod(prepared_fingerprint)


@DATASETS.register("ntu")
class NTUDataset:
    """NTU RGB+D 60/120 from the user's files."""
    prepare = {"raw": prepare_ntu_raw, "stgcn": prepare_stgcn, "npz": prepare_npz}
    fingerprint = staticmethod(prepared_fingerprint)


@DATASETS.register("pkummd")
class PKUMMDDataset:
    """PKU-MMD Part I/II from the user's files."""
    prepare = {"raw": prepare_pkummd, "stgcn": prepare_stgcn}
    fingerprint = staticmethod(prepared_fingerprint)


def detect_format(raw: Path) -> str:
    if raw.is_file() and raw.suffix == ".npz":
        return "npz"
    if raw.is_dir() and any(raw.glob("*_label.pkl")):
        return "stgcn"
    if raw.is_dir():
        return "raw"
    if raw.is_file():
        raise ConfigError(f"--raw {raw} is a file but not an .npz: pass the folder of the raw "
                          "skeleton files, the folder of a *_data_joint.npy / *_label.pkl pair, or "
                          "a CTR-GCN .npz")
    raise ConfigError(f"--raw {raw}: no such directory or .npz file")


def prepare(dataset: str, raw: Path, *, out_root: Path | None = None, fmt: str = "auto",
            missing: Path | None = None, workers: int | None = None, progress=None,
            log=print, cut: str | None = None) -> tuple[Path, dict, bool]:
    """Prepare ``dataset`` from the user's files. Returns (prepared dir, info, verified_only):
    a finished preparation from the same source and settings is checked against its checksum
    and kept, not redone. ``cut``: PKU-MMD's clip convention instead of the card's."""
    from ..config import load_card
    from .prepared import prepared_dir, sha256_file
    card = load_card(dataset)
    if cut is not None:
        if card.get("kind") != "pkummd":
            raise ConfigError(f"--cut applies to PKU-MMD only, not {dataset}")
        card["preprocess"] = {**(card.get("preprocess") or {}), "cut": cut}
    builder = DATASETS.get(card.get("kind", dataset))
    if not hasattr(builder, "prepare"):
        raise ConfigError(f"{dataset} is generated, not prepared from files: it is built on "
                          "first use")
    raw = Path(raw).expanduser()
    fmt = detect_format(raw) if fmt == "auto" else fmt
    if fmt not in builder.prepare:
        raise ConfigError(f"{dataset} cannot be prepared from the {fmt!r} layout "
                          f"({', '.join(builder.prepare)})")
    out = (Path(out_root) / dataset) if out_root else prepared_dir(dataset)
    info_path = out / "info.json"
    if info_path.is_file():
        info = json.loads(info_path.read_text())
        done = info.get("settings", {})
        same = (info.get("format") == fmt and done.get("frames") == _settings(card)["frames"]
                and str(raw) in info.get("source", "")
                and (card.get("kind") != "pkummd" or fmt != "raw" or done.get("cut") == pku_cut(card)["cut"]))
        if same:
            if sha256_file(out / "data.npy") != info["sha256"]:
                raise ConfigError(f"{out / 'data.npy'} does not match the checksum in {info_path}: "
                                  f"delete {out} and prepare again")
            return out, info, True
    workers = workers or min(8, os.cpu_count() or 1)
    work = out.with_name(f".{out.name}.partial")
    try:
        info = builder.prepare[fmt](card, raw, out, missing=missing, workers=workers,
                                    progress=progress, log=log)
    except BaseException:
        if work.is_dir() and all(p.name == "plan.sha256" for p in work.iterdir()):
            shutil.rmtree(work)     # no finished shard to resume from: leave nothing behind
        raise
    return out, info, False


def split_info(split: str) -> dict:
    """Sizes, classes, frames, per-class counts, source and preprocessing of a prepared split."""
    import pandas as pd

    from ..config import load_card, resolve_dataset
    from .prepared import ensure_prepared, split_membership
    dataset, split = resolve_dataset(split)
    path = ensure_prepared(dataset)
    info = json.loads((path / "info.json").read_text())
    meta = pd.read_csv(path / "meta.csv")
    masks = dict(zip(("train", "test"), split_membership(meta, split, load_card(dataset), info, path)))
    classes = info["classes"]
    counts = {p: {classes[k]: int(v) for k, v in meta[m]["label"].value_counts().sort_index().items()}
              for p, m in masks.items()}
    return {"split": split, "dataset": dataset, "path": str(path),
            "train": int(masks["train"].sum()), "test": int(masks["test"].sum()),
            "num_classes": len(classes), "classes": classes, "frames": info["frames"],
            "per_class": counts, "source": info.get("source"),
            "preprocessing": info.get("preprocessing"), "sha256": info.get("sha256"),
            "layout": info.get("layout", "ntu25"), "mapping": info.get("mapping"),
            "notes": info.get("notes", [])}
