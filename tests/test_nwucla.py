"""NW-UCLA: names, the JSON reader (and a seeded fuzz of it over real files), the joint mapping
onto NTU's 25, and a preparation in both layouts.

Real files come from ``$SKELBENCH_NWUCLA`` (default ``../shared/datasets/nw-ucla`` beside the
repository); the tests that need them skip where they are absent. The fuzz runs
``$SKELBENCH_FUZZ`` inputs (300 by default; 10,000 in docs/datasets.md's command).
"""
from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from skelbench.data import nwucla
from skelbench.data.ntu import DataFormatError
from skelbench.skeleton import KINECT_V1_20, NTU25

REPO = Path(__file__).resolve().parents[1]
RAW = Path(os.environ.get("SKELBENCH_NWUCLA", REPO.parent / "shared" / "datasets" / "nw-ucla"))
needs_data = pytest.mark.skipif(not (RAW / "all_sqe").is_dir(),
                                reason=f"NW-UCLA not found at {RAW} (set SKELBENCH_NWUCLA)")
SAMPLES = ("a01_s01_e00_v01", "a02_s09_e04_v02", "a12_s10_e01_v03", "a08_s03_e02_v02")


def test_names_parse_and_actions_map_to_ten_labels():
    assert nwucla.parse_name("x/a11_s04_e02_v03.json") == {"action": 11, "subject": 4,
                                                           "episode": 2, "view": 3}
    assert [nwucla.ACTIONS.index(a) for a in (1, 6, 8, 12)] == [0, 5, 6, 9]
    for bad in ("a07_s01_e00_v01.json", "a1_s01_e00_v01.json", "clip.json"):
        with pytest.raises(DataFormatError, match=bad.split(".")[0]):
            nwucla.parse_name(bad)


def test_the_ntu_mapping_places_and_derives_joints():
    x = np.arange(2 * 20 * 3, dtype=np.float32).reshape(2, 20, 3)
    y = nwucla.to_ntu25(x)
    assert y.shape == (2, 25, 3)
    k, n = KINECT_V1_20.J, NTU25.J
    for kinect, ntu in (("hip_center", "spine_base"), ("spine", "spine_mid"), ("head", "head"),
                        ("left_hand", "left_hand"), ("right_foot", "right_foot")):
        np.testing.assert_array_equal(y[:, n[ntu]], x[:, k[kinect]])
    np.testing.assert_array_equal(y[:, n["spine_shoulder"]], x[:, k["shoulder_center"]])
    np.testing.assert_array_equal(y[:, n["neck"]], (x[:, k["shoulder_center"]] + x[:, k["head"]]) / 2)
    for tip in ("left_hand_tip", "left_thumb"):
        np.testing.assert_array_equal(y[:, n[tip]], x[:, k["left_hand"]])
    for tip in ("right_hand_tip", "right_thumb"):
        np.testing.assert_array_equal(y[:, n[tip]], x[:, k["right_hand"]])


@needs_data
def test_real_clips_read_as_their_json_says():
    for stem in SAMPLES:
        path = RAW / "all_sqe" / f"{stem}.json"
        x = nwucla.read_clip(path)
        expected = np.asarray(json.loads(path.read_text())["skeletons"], np.float32)
        np.testing.assert_array_equal(x, expected)
        assert x.shape[1:] == (20, 3)
    assert len(nwucla.read_clip(RAW / "all_sqe" / "a02_s09_e04_v02.json")) == 1


def _write(tmp_path, stem, obj_or_text):
    path = tmp_path / f"{stem}.json"
    path.write_text(obj_or_text if isinstance(obj_or_text, str) else json.dumps(obj_or_text))
    return path


@pytest.mark.parametrize("change, message", [
    (lambda o: "{not json", "malformed JSON"),
    (lambda o: {**o, "skeletons": []}, "empty"),
    (lambda o: {**o, "skeletons": [o["skeletons"][0][:19]]}, "19 joints"),
    (lambda o: json.dumps(o).replace(str(o["skeletons"][0][0][0]), "NaN", 1), "non-finite"),
    (lambda o: {**o, "label": 3}, "label 3"),
    (lambda o: {k: v for k, v in o.items() if k != "skeletons"}, '"skeletons"'),
    (lambda o: {**o, "skeletons": [[[0.1, 0.2, True]] * 20]}, "three finite numbers"),
])
def test_bad_input_gets_an_error_naming_the_file(tmp_path, change, message):
    stem = "a01_s01_e00_v01"
    good = {"file_name": stem, "skeletons": [[[0.5, 1.5, 3.0]] * 20] * 3, "label": 1}
    path = _write(tmp_path, stem, change(good))
    with pytest.raises(DataFormatError, match=message) as e:
        nwucla.read_clip(path)
    assert str(path) in str(e.value)
    (tmp_path / "b.json").write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(DataFormatError, match="file name"):
        nwucla.read_clip(tmp_path / "b.json")


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One seeded mutation of a JSON file: truncation, garbage or binary bytes, non-finite or
    odd tokens, a joint or frame removed or added, an empty list."""
    text = data.decode("latin-1")        # byte for byte, whatever an earlier mutation left
    numbers = [i for i, c in enumerate(text) if c.isdigit()]
    kind = rng.randrange(9)
    try:
        obj = json.loads(data)
        frames = obj["skeletons"]
        assert frames and all(isinstance(f, list) and f for f in frames)
    except Exception:
        kind = kind % 3 if numbers else kind % 2     # no structure left: byte-level only
    if kind == 0:
        return data[:rng.randrange(max(len(data), 1))]
    if kind == 1:
        at = rng.randrange(len(data) + 1)
        return data[:at] + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 9))) + data[at:]
    if kind == 2:
        garbage = rng.choice(["]", "[", ",", "{", "}", '"', ":", "x", "-", ".", "e", "1e", "--"])
        at = rng.randrange(len(text) + 1)
        return (text[:at] + garbage + text[at:]).encode("latin-1")
    if kind == 3:                       # a number becomes a non-finite or odd token
        at = rng.choice(numbers)
        while at > 0 and text[at - 1] in "-.0123456789":
            at -= 1
        end = at
        while end < len(text) and text[end] in "-+0123456789.eE":
            end += 1
        token = rng.choice(["NaN", "Infinity", "-Infinity", "1e999", "true", "null", '"1.0"',
                            "[]", "9" * 400, "1e38", "-1e39"])
        return (text[:at] + token + text[end:]).encode("latin-1")
    t = rng.randrange(len(frames))
    if kind == 4:
        del frames[t][rng.randrange(len(frames[t]))]
    elif kind == 5:
        frames[t].append([0.0, 0.0, 0.0])
    elif kind == 6:
        frames[t][rng.randrange(len(frames[t]))] = [0.0, 1.0, 2.0][:rng.randrange(3)]
    elif kind == 7:
        obj["skeletons"] = [] if rng.random() < 0.5 else [[]]
    else:
        obj[rng.choice(["label", "file_name", "skeletons"])] = rng.choice([None, 0, "x", {}, [1]])
    return json.dumps(obj).encode()


@needs_data
def test_fuzzed_real_files_read_correctly_or_raise_data_format_error(tmp_path):
    """Every mutated input gives a finite (T, 20, 3) float32 read that agrees with the JSON it
    holds, or a DataFormatError naming the file; nothing else."""
    n = int(os.environ.get("SKELBENCH_FUZZ", "300"))
    rng = random.Random(0)
    sources = sorted((RAW / "all_sqe").glob("*.json"))
    errors = reads = 0
    for i in range(n):
        source = sources[rng.randrange(len(sources))]
        path = tmp_path / source.name
        data = source.read_bytes()
        for _ in range(rng.choice((1, 1, 2))):
            data = mutate(data, rng)
        path.write_bytes(data)
        try:
            x = nwucla.read_clip(path)
        except DataFormatError as e:
            assert str(path) in str(e), e
            errors += 1
            continue
        reads += 1
        assert x.dtype == np.float32 and x.ndim == 3 and x.shape[1:] == (20, 3) and len(x) >= 1
        assert np.isfinite(x).all()
        obj = json.loads(data)
        np.testing.assert_array_equal(x, np.asarray(obj["skeletons"], np.float32))
    assert errors > n // 2 and reads > 0, (errors, reads)


@needs_data
def test_prepare_both_layouts_from_a_subset(tmp_path, monkeypatch):
    from skelbench.data.real import prepare, split_info
    raw = tmp_path / "raw" / "all_sqe"
    raw.mkdir(parents=True)
    stems = [f"a{a:02d}_s0{s}_e00_v0{v}" for a in (1, 2, 3) for s in (1, 2) for v in (1, 2, 3)]
    for stem in stems + ["a02_s09_e04_v02"]:
        shutil.copy(RAW / "all_sqe" / f"{stem}.json", raw)
    monkeypatch.setenv("SKELBENCH_PREPARED", str(tmp_path / "prepared"))
    monkeypatch.setenv("SKELBENCH_ROOT", str(REPO))
    out, info, _ = prepare("nwucla", raw.parent, log=lambda *a: None)
    assert info["layout"] == "kinect-v1-20" and info["shape"] == [19, 3, 50, 20, 1]
    assert "a02_s09_e04_v02" in info["notes"][0]
    sizes = split_info("nwucla-xview")
    assert (sizes["train"], sizes["test"], sizes["layout"]) == (13, 6, "kinect-v1-20")
    out, info, _ = prepare("nwucla-ntu", raw.parent, log=lambda *a: None)
    assert info["layout"] == "ntu25" and info["shape"] == [19, 3, 50, 25, 2]
    assert info["mapping"] == nwucla.MAPPING
    data = np.load(out / "data.npy")
    assert not data[..., 1].any()                      # the second body slot is absent
    native = np.load(tmp_path / "prepared" / "nwucla" / "data.npy")
    # The same joints, centred and aligned the same way, at their NTU indices.
    np.testing.assert_allclose(data[:, :, :, [0, 1, 3, 4, 8, 19], 0],
                               native[:, :, :, [0, 1, 3, 4, 8, 19], 0], atol=1e-6)
    np.testing.assert_allclose(data[:, :, :, 20, 0], native[:, :, :, 2, 0], atol=1e-6)
