"""Real-dataset readers, preprocessing, importers and splits.

Real files come from ``$SKELBENCH_FIXTURES`` (default ``../shared/fixtures`` beside the repository);
tests that need them are skipped, with the reason, when they are absent. Multi-body, malformed and
full-size cases use synthetic files written here.
"""
from __future__ import annotations

import json
import os
import pickle
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from skelbench.cli import main
from skelbench.data import ntu, pkummd, real
from skelbench.data.ntu import DataFormatError
from skelbench.data.preprocess import resize_time, ssl_preprocess

from .conftest import REPO
from skelbench.skeleton import NTU25

FIXTURES = Path(os.environ.get("SKELBENCH_FIXTURES", REPO.parent / "shared" / "fixtures"))
needs_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(),
                                    reason=f"real-data fixtures not found at {FIXTURES} "
                                           "(set SKELBENCH_FIXTURES)")
NTU_FIX = FIXTURES / "ntu"
PKU_FIX = FIXTURES / "pkummd" / "part1"


# --- synthetic .skeleton files ---------------------------------------------------------------
def body_lines(body_id: int, joints: np.ndarray) -> list[str]:
    out = [f"{body_id} 0 1 1 1 1 0 0.1 0.2 2", "25"]
    for x, y, z in joints:
        out.append(f"{x:.5f} {y:.5f} {z:.5f} 250.1 200.2 900.3 500.4 0.1 0.2 0.3 0.9 2")
    return out


def write_skeleton(path: Path, frames: list[list[tuple[int, np.ndarray]]], crlf=False) -> Path:
    lines = [str(len(frames))]
    for bodies in frames:
        lines.append(str(len(bodies)))
        for body_id, joints in bodies:
            lines += body_lines(body_id, joints)
    path.write_text(("\r\n" if crlf else "\n").join(lines) + "\n")
    return path


def person(rng, t, offset=(0.0, 0.0, 3.0), motion=0.05):
    base = rng.normal(0, 0.3, (25, 3)) + np.array(offset)
    return [base + motion * np.sin(0.3 * k) * rng.normal(0, 1, (25, 3)) for k in range(t)]


# --- NTU --------------------------------------------------------------------------------------
@needs_fixtures
def test_ntu_fixtures_parse_to_documented_frames_and_labels():
    a1 = ntu.read_skeleton(NTU_FIX / "S001C001P001R001A001.skeleton")
    a4 = ntu.read_skeleton(NTU_FIX / "S001C001P001R001A004.skeleton")
    assert a1.joints.shape[0] == 103 and a4.joints.shape[0] == 99
    assert (a1.bodies_per_frame == 1).all()
    assert ntu.parse_name("S001C001P001R001A004.skeleton") == {
        "setup": 1, "camera": 1, "subject": 1, "replication": 1, "action": 4}
    x, length = ssl_preprocess(ntu.select_bodies(a1), 50, layout=NTU25)
    assert x.shape == (3, 50, 25, 2) and length == 103
    assert np.allclose(x[:, :, 20, 0], 0, atol=1e-6)      # centred on joint 21 per frame
    assert not x[..., 1].any()                            # one person: body 2 stays zero
    assert len(ntu.read_missing_list(NTU_FIX / "NTU_RGBD_samples_with_missing_skeletons.txt")) == 302
    assert len(ntu.read_missing_list(NTU_FIX / "NTU_RGBD120_samples_with_missing_skeletons.txt")) == 535


@needs_fixtures
def test_paddlevideo_npy_sample_imports():
    x = np.load(NTU_FIX / "example_NTU-RGB-D_sketeton.npy")
    assert x.shape == (3, 300, 25, 2) and x.dtype == np.float32
    sample, length = real._from_ctv(x, {"frames": 50, "bodies": "order", "rotate": True})
    assert length == 72 and sample.shape == (3, 50, 25, 2)
    assert np.isfinite(sample).all() and not sample[..., 1].any()


def test_reader_handles_crlf_multi_body_and_empty_frames(tmp_path):
    rng = np.random.default_rng(0)
    a, b, noise = person(rng, 6), person(rng, 6, (1, 0, 3)), person(rng, 6, (0, 0, 5), motion=0.5)
    frames = [[(1, a[0])], [], [(1, a[2]), (2, b[2]), (3, noise[2])]] + \
             [[(1, a[k]), (2, b[k]), (3, noise[k])] for k in range(3, 6)]
    raw = ntu.read_skeleton(write_skeleton(tmp_path / "S001C001P001R001A050.skeleton", frames, crlf=True))
    assert raw.joints.shape == (6, ntu.MAX_BODIES, 25, 3)
    assert list(raw.bodies_per_frame) == [1, 0, 3, 3, 3, 3]
    assert not raw.joints[1].any()                                  # the zero-body frame
    np.testing.assert_allclose(raw.joints[2, 2], noise[2], atol=1e-5)
    order = ntu.select_bodies(raw, "order")
    np.testing.assert_allclose(order[3, 1], b[3], atol=1e-5)        # second listed body
    energy = ntu.select_bodies(raw, "energy")
    np.testing.assert_allclose(energy[3, 0], noise[3], atol=1e-5)   # most motion first


@pytest.mark.parametrize("damage, message", [
    (lambda L: L[:40], "truncated"),
    (lambda L: L[:3] + ["24"] + L[4:], "24 joints"),
    (lambda L: L[:5] + ["0.1 0.2 abc 1 2 3 4 5 6 7 8 9"] + L[6:], "non-numeric"),
    (lambda L: L[:5] + ["0.1 0.2 nan 1 2 3 4 5 6 7 8 9"] + L[6:], "NaN"),
    (lambda L: L[:5] + ["0.1 0.2 0.3"] + L[6:], "3 values"),
])
def test_malformed_files_name_file_and_line(tmp_path, damage, message):
    rng = np.random.default_rng(1)
    path = write_skeleton(tmp_path / "S001C001P001R001A001.skeleton",
                          [[(1, j)] for j in person(rng, 3)])
    path.write_text("\n".join(damage(path.read_text().splitlines())) + "\n")
    with pytest.raises(DataFormatError, match=message) as err:
        ntu.read_skeleton(path)
    assert str(path) in str(err.value)
    if message != "truncated":
        assert re.search(r"line \d+", str(err.value))


def test_a_bad_file_is_named_through_parallel_readers(tmp_path, monkeypatch):
    monkeypatch.setenv("SKELBENCH_PREPARED", str(tmp_path / "prepared"))
    raw = _ntu_dir(tmp_path, with_fixtures=False)
    (raw / "S001C002P005R002A008.skeleton").unlink()
    bad = raw / "S001C001P001R001A002.skeleton"
    bad.write_text("3\n1\n")
    result = CliRunner().invoke(main, ["data", "prepare", "ntu60", "--raw", str(raw), "--workers", "2"])
    assert result.exit_code != 0
    assert "S001C001P001R001A002.skeleton" in result.output and "truncated" in result.output
    assert not (tmp_path / "prepared" / "ntu60").exists()


def test_empty_sample_and_bad_names(tmp_path):
    empty = tmp_path / "S001C001P001R001A001.skeleton"
    empty.write_text("2\n0\n0\n")
    with pytest.raises(ntu.EmptySample, match="no skeleton"):
        ntu.read_skeleton(empty)
    with pytest.raises(DataFormatError, match="SsssCcccPpppRrrrAaaa"):
        ntu.parse_name("clip_0001.skeleton")


def test_resize_is_linear_with_pixel_centres():
    x = np.arange(4, dtype=float)[:, None]
    np.testing.assert_allclose(resize_time(x, 4, 8)[:, 0], [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3])
    np.testing.assert_allclose(resize_time(x, 2, 2)[:, 0], [0, 1])     # only the valid frames


def _ntu_dir(tmp_path: Path, with_fixtures: bool) -> Path:
    raw = tmp_path / "nturaw"
    raw.mkdir()
    if with_fixtures:
        for name in ("S001C001P001R001A001.skeleton", "S001C001P001R001A004.skeleton",
                     "NTU_RGBD_samples_with_missing_skeletons.txt"):
            shutil.copy(NTU_FIX / name, raw / name)
    rng = np.random.default_rng(2)
    # Two bodies; a noise third body; a frame with no body; one performer in the test split.
    a, b, c = person(rng, 30), person(rng, 30, (1, 0, 3)), person(rng, 30, (0, 0, 5))
    write_skeleton(raw / "S001C002P003R001A050.skeleton",
                   [[(1, a[k]), (2, b[k])] + ([(7, c[k])] if k % 3 == 0 else []) for k in range(30)])
    write_skeleton(raw / "S001C002P001R002A001.skeleton",
                   [[(1, a[k])] if k != 4 else [] for k in range(30)])
    write_skeleton(raw / "S001C003P003R001A004.skeleton", [[(1, j)] for j in person(rng, 25)])
    # On the official missing list: skipped without being read.
    (raw / "S001C002P005R002A008.skeleton").write_text("garbage")
    # Not an NTU-60 setup.
    write_skeleton(raw / "S018C001P008R001A061.skeleton", [[(1, j)] for j in person(rng, 5)])
    return raw


@needs_fixtures
def test_prepare_ntu60_from_skeleton_files(tmp_path, monkeypatch):
    monkeypatch.setenv("SKELBENCH_PREPARED", str(tmp_path / "prepared"))
    raw = _ntu_dir(tmp_path, with_fixtures=True)
    cli = CliRunner()
    result = cli.invoke(main, ["data", "prepare", "ntu60", "--raw", str(raw), "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert "5 samples" in result.output
    info = json.loads(cli.invoke(main, ["data", "info", "ntu60-xsub", "--json"]).output)
    assert (info["train"], info["test"], info["num_classes"], info["frames"]) == (3, 2, 60, 50)
    assert info["per_class"]["train"] == {"drink water": 2, "brushing hair": 1}
    assert info["per_class"]["test"] == {"brushing hair": 1, "punching/slapping other person": 1}
    view = json.loads(cli.invoke(main, ["data", "info", "ntu60-xview", "--json"]).output)
    assert (view["train"], view["test"]) == (3, 2)
    meta = (tmp_path / "prepared" / "ntu60" / "meta.csv").read_text()
    assert "S001C002P005R002A008" not in meta and "S018" not in meta
    # A second prepare verifies instead of redoing; a damaged file is caught.
    again = cli.invoke(main, ["data", "prepare", "ntu60", "--raw", str(raw)])
    assert "checksum verified" in again.output
    with open(tmp_path / "prepared" / "ntu60" / "data.npy", "r+b") as f:
        f.seek(-4, 2)
        f.write(b"\x00\x00\x80\x7f")
    bad = cli.invoke(main, ["data", "prepare", "ntu60", "--raw", str(raw)])
    assert bad.exit_code != 0 and "checksum" in bad.output


def test_prepare_is_resumable_after_an_interruption(tmp_path, monkeypatch):
    from skelbench.config import load_card
    raw = _ntu_dir(tmp_path, with_fixtures=False)
    (raw / "S001C002P005R002A008.skeleton").unlink()
    card = load_card("ntu60", REPO)
    out = tmp_path / "prepared" / "ntu60"
    monkeypatch.setattr(real, "SHARD", 1)
    calls = []
    original = real._ntu_item

    def flaky(item):
        calls.append(item[0])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(item)

    monkeypatch.setattr(real, "_ntu_item", flaky)
    with pytest.raises(KeyboardInterrupt), pytest.warns(UserWarning, match="missing skeletons"):
        real.prepare_ntu_raw(card, raw, out, workers=1)
    assert not out.exists() and len(list(out.with_name(".ntu60.partial").glob("shard-*.npz"))) == 1
    calls.clear()
    monkeypatch.setattr(real, "_ntu_item", lambda item: (calls.append(item[0]), original(item))[1])
    with pytest.warns(UserWarning, match="counts differ from the papers"):
        info = real.prepare_ntu_raw(card, raw, out, workers=1)
    assert info["num_samples"] == 3 and len(calls) == 2      # the finished shard was not redone
    assert not out.with_name(".ntu60.partial").exists()


def _full_size_names(missing: set[str], rule, n_train_pairs: int, n_test_pairs: int,
                     setups: range, key: str) -> list[str]:
    """Every (setup, performer) pair carries 3 cameras x 2 replications x 60 actions, as NTU.
    The pairs holding the missing samples are included; others fill up to the counts."""
    pairs = {(int(n[1:4]), int(n[9:12])) for n in missing}

    def is_train(pair):
        return rule(dict(zip(("setup", "subject"), pair))[key])

    train = {p for p in pairs if is_train(p)}
    test = pairs - train
    candidates = ((s, p) for s in setups for p in range(1, 107))
    for pair in candidates:
        target, pool = (train, n_train_pairs) if is_train(pair) else (test, n_test_pairs)
        if len(target) < pool:
            target.add(pair)
    assert len(train) == n_train_pairs and len(test) == n_test_pairs
    actions = range(1, 61) if setups.stop <= 18 else range(1, 121)
    return [f"S{s:03d}C{c:03d}P{p:03d}R{r:03d}A{a:03d}" for s, p in sorted(train | test)
            for c in (1, 2, 3) for r in (1, 2) for a in actions if (a <= 60) == (s <= 17) or setups.stop <= 18]


@needs_fixtures
@pytest.mark.parametrize("dataset, split, key, pairs, expected", [
    ("ntu60", "ntu60-xsub", "subject", (112, 46), (40091, 16487)),
    ("ntu60", "ntu60-xview", None, (158, 0), (37646, 18932)),
    ("ntu120", "ntu120-xsub", "subject", (176, 142), (63026, 50919)),
    ("ntu120", "ntu120-xset", "setup", (152, 166), (54468, 59477)),
])
def test_split_rules_give_standard_counts_at_full_size(dataset, split, key, pairs, expected):
    """Full-size synthetic name lists (56,880 / 114,480 names) minus the official missing lists."""
    from skelbench.config import load_card
    card = load_card(dataset, REPO)
    rule = card["splits"][split]
    missing = ntu.read_missing_list(NTU_FIX / card["missing_list"])
    if key is None:      # by camera: any set of pairs of the full size will do
        names = _full_size_names(missing, lambda v: True, pairs[0], 0, range(1, 18), "setup")
    else:
        train_values = set(rule["train"])
        names = _full_size_names(missing, lambda v: v in train_values, *pairs,
                                 range(1, 18) if dataset == "ntu60" else range(1, 33), key)
    assert len(names) == (56880 if dataset == "ntu60" else 114480)
    kept = [ntu.parse_name(n) for n in names if n not in missing]
    train = sum(f[rule["by"]] in rule["train"] for f in kept)
    assert (train, len(kept) - train) == expected


def test_label_pickle_is_read_without_arbitrary_objects(tmp_path):
    good = tmp_path / "train_label.pkl"
    good.write_bytes(pickle.dumps((["S001C001P001R001A001.skeleton"], [0])))
    assert real.read_label_pkl(good) == (["S001C001P001R001A001.skeleton"], [0])
    evil = tmp_path / "val_label.pkl"
    evil.write_bytes(pickle.dumps((["a"], [np.int64(1)])))   # needs numpy's classes
    with pytest.raises(DataFormatError, match="refusing to load"):
        real.read_label_pkl(evil)


def test_stgcn_and_npz_imports(tmp_path, monkeypatch):
    monkeypatch.setenv("SKELBENCH_PREPARED", str(tmp_path / "prepared"))
    rng = np.random.default_rng(3)
    raw = tmp_path / "xsub"
    raw.mkdir()
    for part, names in (("train", ["S001C001P001R001A001", "S001C002P002R001A002"]),
                        ("val", ["S001C001P003R001A003"])):
        x = np.zeros((len(names), 3, 300, 25, 2), np.float32)
        x[:, :, :40, :, 0] = rng.normal(0, 0.3, (len(names), 3, 40, 25))
        np.save(raw / f"{part}_data.npy", x)
        (raw / f"{part}_label.pkl").write_bytes(
            pickle.dumps(([n + ".skeleton" for n in names], [int(n[-3:]) - 1 for n in names])))
    cli = CliRunner()
    result = cli.invoke(main, ["data", "prepare", "ntu60", "--raw", str(raw)])
    assert result.exit_code == 0, result.output
    info = json.loads(cli.invoke(main, ["data", "info", "ntu60-xsub", "--json"]).output)
    assert (info["train"], info["test"]) == (2, 1)

    x = np.zeros((3, 300, 150), np.float32)
    x[:, :30, :75] = rng.normal(0, 0.3, (3, 30, 75))
    x[0, :30, 75:] = x[0, :30, :75]                       # NTU-120 script's copied actor
    y = np.eye(60)[[0, 5, 7]]
    npz = tmp_path / "NTU60_CV.npz"
    np.savez(npz, x_train=x[:2], y_train=y[:2], x_test=x[2:], y_test=y[2:])
    result = cli.invoke(main, ["data", "prepare", "ntu60", "--raw", str(npz), "--out",
                               str(tmp_path / "other")])
    assert result.exit_code == 0, result.output
    monkeypatch.setenv("SKELBENCH_PREPARED", str(tmp_path / "other"))
    info = json.loads(cli.invoke(main, ["data", "info", "ntu60-xview", "--json"]).output)
    assert (info["train"], info["test"]) == (2, 1)
    assert not np.load(tmp_path / "other" / "ntu60" / "data.npy")[0, ..., 1].any()
    other = cli.invoke(main, ["data", "info", "ntu60-xsub"])
    assert other.exit_code != 0 and "ntu60-xview" in other.output


# --- PKU-MMD ----------------------------------------------------------------------------------
@needs_fixtures
def test_pku_stream_cuts_into_its_eight_clips():
    stream = pkummd.read_stream(PKU_FIX / "skeleton" / "0310-R.txt")
    assert stream.shape == (1158, 2, 25, 3)
    report = pkummd.read_labels(PKU_FIX / "label" / "0310-R.txt", len(stream))
    assert [c.action for c in report.clips] == [27, 18, 26, 16, 24, 21, 12, 14]
    assert [c.end - c.start for c in report.clips] == [44, 21, 56, 109, 63, 65, 93, 89]
    aimclr = pkummd.read_labels(PKU_FIX / "label" / "0310-R.txt", len(stream), frame_base=1)
    assert [c.end - c.start for c in aimclr.clips] == [45, 22, 57, 110, 64, 66, 94, 90]
    assert report.warning() is None


@needs_fixtures
def test_pku_edge_case_labels_follow_the_documented_rule():
    edge = PKU_FIX / "label_edge_cases"
    r = pkummd.read_labels(edge / "0043-L.txt")
    assert [row for row, _ in r.skipped] == [21] and 21 not in [c.row for c in r.clips]
    assert "0043-L.txt" in r.warning() and "row 21" in r.warning()
    zero = pkummd.read_labels(edge / "0089-L.txt")                 # 0-based: start 0 is valid
    assert zero.clips[0].start == 0 and zero.clips[0].end == 23 and zero.warning() is None
    one = pkummd.read_labels(edge / "0089-L.txt", frame_base=1)    # 1-based: clamped, counted
    assert one.clips[0].start == 0 and [row for row, _ in one.clamped] == [1]
    assert "row 1" in one.warning()
    short = pkummd.read_labels(edge / "0043-L.txt", n_frames=5000)
    assert all(c.end <= 5000 for c in short.clips)


@needs_fixtures
def test_pku_split_files():
    xsub = pkummd.read_split_file(PKU_FIX / "split" / "cross-subject.txt")
    xview = pkummd.read_split_file(PKU_FIX / "split" / "cross-view.txt")
    assert tuple(map(len, xsub)) == (944, 132) and tuple(map(len, xview)) == (717, 359)
    assert "0310-R" in xsub[1] and "0310-R" in xview[0]


@needs_fixtures
def test_prepare_pkummd1_from_fixture_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("SKELBENCH_PREPARED", str(tmp_path / "prepared"))
    raw = tmp_path / "pku"
    for sub in ("skeleton", "label", "split"):
        shutil.copytree(PKU_FIX / sub, raw / sub)
    cli = CliRunner()
    result = cli.invoke(main, ["data", "prepare", "pkummd1", "--raw", str(raw), "--workers", "1"])
    assert result.exit_code == 0, result.output
    xsub = json.loads(cli.invoke(main, ["data", "info", "pkummd1-xsub", "--json"]).output)
    xview = json.loads(cli.invoke(main, ["data", "info", "pkummd1-xview", "--json"]).output)
    assert (xsub["train"], xsub["test"], xsub["num_classes"]) == (0, 8, 51)
    assert (xview["train"], xview["test"]) == (8, 0)
    assert xsub["per_class"]["test"]["pushing other person"] == 1


@needs_fixtures
@pytest.mark.parametrize("cut", ["papers", "mamp"])
def test_prepare_pkummd2_with_the_papers_and_the_mamp_cut(tmp_path, cut):
    """A Part II video made of the Part I fixture stream (1,158 frames), its eight rows and a
    450-frame row: the papers' cut reads rows 1-based inclusive and centre-crops to 300 frames."""
    import pandas as pd
    raw = tmp_path / "pku2"
    (raw / "Skeleton_v2").mkdir(parents=True)
    (raw / "Label_PKUMMD_v2").mkdir()
    shutil.copy(PKU_FIX / "skeleton" / "0310-R.txt", raw / "Skeleton_v2" / "A01N05-R.txt")
    rows = (PKU_FIX / "label" / "0310-R.txt").read_text().splitlines() + ["5,100,549,2"]
    (raw / "Label_PKUMMD_v2" / "A01N05-R.txt").write_text("\n".join(rows) + "\n")
    for name in ("cross_subject_v2.txt", "cross_view_v2.txt"):
        (raw / name).write_text("Training videos: \nA01N05-R\nValidataion videos: \n\n")
    args = ["data", "prepare", "pkummd2", "--raw", str(raw), "--out", str(tmp_path / "out"),
            "--workers", "1"] + (["--cut", cut] if cut == "mamp" else [])
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    out = tmp_path / "out" / "pkummd2"
    meta = pd.read_csv(out / "meta.csv")
    data = np.load(out / "data.npy")
    info = json.loads((out / "info.json").read_text())
    assert info["settings"]["cut"] == cut and len(meta) == 9
    stream = pkummd.read_stream(PKU_FIX / "skeleton" / "0310-R.txt")
    lengths = (meta["end"] - meta["start"]).tolist()
    long = int(np.flatnonzero(meta["action"] == 5)[0])
    if cut == "papers":          # [start - 1, end), the long clip's middle 300 of 450 frames
        assert lengths[:8] == [45, 22, 57, 110, 64, 66, 94, 90]
        assert (meta["start"][long], meta["end"][long], meta["length"][long]) == (99, 549, 300)
        expected = ssl_preprocess(stream[99 + 75:99 + 375], 50, layout=NTU25)[0]
        assert "centre-cropped to 300" in info["preprocessing"]
    else:                        # [start, end), no crop
        assert lengths[:8] == [44, 21, 56, 109, 63, 65, 93, 89]
        assert (meta["start"][long], meta["end"][long], meta["length"][long]) == (100, 549, 449)
        expected = ssl_preprocess(stream[100:549], 50, layout=NTU25)[0]
    np.testing.assert_allclose(data[long], expected, atol=1e-6)


def test_centre_crop_keeps_the_middle_frames():
    x = np.arange(450)
    assert real.centre_crop(x, 300).tolist() == list(range(75, 375))
    assert real.centre_crop(np.arange(301), 300).tolist() == list(range(0, 300))
    assert real.centre_crop(x[:300], 300).tolist() == list(range(300))
    assert real.centre_crop(x, None).tolist() == x.tolist()


def test_pku_malformed_rows_and_part2_names(tmp_path):
    label = tmp_path / "A01N02-L.txt"
    label.write_text("3,10,20,1\n5,x,30,2\n")
    with pytest.raises(DataFormatError, match=r"line 2"):
        pkummd.read_labels(label)
    label.write_text("60,10,20,1\n")
    with pytest.raises(DataFormatError, match="class id 60"):
        pkummd.read_labels(label)
    assert pkummd.parse_video("A01N02-L.txt") == {"video": "A01N02-L", "view": "L", "camera": 1,
                                                  "subject": 2}
    stream = tmp_path / "A01N02-M.txt"
    stream.write_text(" ".join(["0.1"] * 150) + "\n" + " ".join(["0.1"] * 149) + "\n")
    with pytest.raises(DataFormatError, match="line 2"):
        pkummd.read_stream(stream)


def test_methods_and_protocol_run_on_a_prepared_ntu_split(tmp_path, monkeypatch):
    """Every pretraining method and the linear protocol on an NTU-format split from .skeleton files."""
    monkeypatch.setenv("SKELBENCH_PREPARED", str(tmp_path / "prepared"))
    raw = tmp_path / "raw"
    raw.mkdir()
    rng = np.random.default_rng(4)
    for k in range(24):
        performer = 1 if k < 16 else 3                  # 16 train / 8 test (ntu60-xsub)
        name = f"S001C001P{performer:03d}R{1 + k % 2:03d}A{1 + k % 4:03d}.skeleton"
        name = name.replace("C001", f"C{1 + (k // 8) % 3:03d}")
        write_skeleton(raw / name, [[(1, j)] for j in person(rng, 20 + k)])
    cli = CliRunner()
    assert cli.invoke(main, ["data", "prepare", "ntu60", "--raw", str(raw), "--workers", "1"]).exit_code == 0
    from skelbench import config as C
    sets = ["pretrain.epochs=1", "pretrain.batch_size=8", "linear.epochs=2", "linear.lr_steps=[1]"]
    for method in C.recipe_names(REPO):
        args = ["run", "--method", method, "--dataset", "ntu60-xsub", "--results-dir",
                str(tmp_path / "results"), "--backbone", "stgcn-tiny"]
        for s in sets + (["args.queue_size=16"] if method == "skeletonclr" else []):
            args += ["--set", s]
        result = cli.invoke(main, args)
        assert result.exit_code == 0, (method, result.output)
        assert "top1" in result.output
