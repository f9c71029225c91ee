"""The embedded reference benchmark's parts: the raw-coordinate baseline, precise BN, suites
with committed records, and the quick start's two printed numbers."""
import json
import shutil

import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner

from skelbench import config as C
from skelbench.cli import main

from .conftest import load_all

SUITE = {
    "dataset": "synth-xsub", "protocols": ["linear", "retrieval"],
    "rows": [{"method": "raw-1nn", "seeds": [0], "protocols": ["retrieval"]},
             {"method": "random-init", "seeds": [0, 1]},
             {"method": "skeletonclr", "seeds": [0]}],
    "variants": {"running": [], "precise": ["features.bn=precise"]},
    "full": {"backbone": "stgcn", "set": ["args.momentum=0.999", "args.mining_epoch=150"]},
}


def invoke(*args, ok=True):
    res = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert (res.exit_code == 0) == ok, res.output
    return res.output


def suite_records(project, name="tiny"):
    return [json.loads(p.read_text())
            for p in sorted((project / "results" / name).glob("runs/*/record.json"))]


@pytest.fixture
def suite(project):
    (project / "results" / "tiny").mkdir(parents=True)
    (project / "results" / "tiny" / "suite.yaml").write_text(yaml.safe_dump(SUITE))
    return project


def test_raw_baseline_is_cosine_1nn_on_the_prepared_coordinates(project):
    load_all()
    # The card's backbone (stgcn-tiny) and --backbone do not apply: the class is its own encoder.
    cfg = C.resolve("raw-1nn", "synth-xsub", backbone="stgcn")
    assert cfg["backbone"] == {"name": "raw"}
    invoke("run", "--method", "raw-1nn", "--protocol", "retrieval", "--dataset", "synth-xsub")
    from skelbench.data import load_split
    split = load_split("synth-xsub", "synth", torch.device("cpu"))
    a = torch.nn.functional.normalize(split.x_train.flatten(1), dim=1)
    b = torch.nn.functional.normalize(split.x_test.flatten(1), dim=1)
    expected = (split.y_train[(b @ a.T).argmax(1)] == split.y_test).float().mean().item() * 100
    (rec,) = [json.loads(p.read_text()) for p in (project / "results").glob("runs/*/record.json")
              if "retrieval" in p.parent.name]
    assert rec["metrics"]["knn1"] == pytest.approx(expected)


def test_precise_bn_reestimates_on_clean_shuffled_clips_for_every_encoder(project):
    load_all()
    from skelbench.backbones import build_backbone
    from skelbench.train import estimate_bn_statistics
    x = torch.randn(96, 3, 12, 25, 2)
    x[:48] += 2.0                   # a sorted training set: one batch would see one "class"
    stats = []
    for seed in (0, 1):
        enc = build_backbone({"name": "stgcn-tiny", "width": 4, "hidden_dim": 16}, "ntu25")
        estimate_bn_statistics(enc, x, "joint", seed=seed, batch_size=32)
        stats.append(enc.data_bn.running_var.clone())
    # An average over batches of the whole set, whatever the order: the variance sees both halves.
    assert torch.allclose(stats[0], stats[1], rtol=0.2) and stats[0].mean() > 1.5
    run = C.resolve("skeletonclr", "synth-xsub")
    precise = C.resolve("skeletonclr", "synth-xsub", overrides=["features.bn=precise"])
    from skelbench.api import protocol_hash
    assert C.config_hash(C.pretrain_section(run)) == C.config_hash(C.pretrain_section(precise))
    assert protocol_hash(run, "linear") != protocol_hash(precise, "linear")
    with pytest.raises(C.ConfigError, match="features.bn"):
        from skelbench.api import Runner
        Runner(project / "results", torch.device("cpu")).features(
            {"run_id": "x", "seed": 0}, {**run, "features": {"bn": "exact"}}, None)
    # A two-phase method's pretraining does not depend on the evaluation settings either.
    a = C.resolve("tranclr", "synth-xsub")
    b = C.resolve("tranclr", "synth-xsub", overrides=["features.bn=precise"])
    assert C.config_hash(C.pretrain_section(a)) == C.config_hash(C.pretrain_section(b))


def test_precise_bn_changes_a_trained_encoders_features_and_not_the_untrained_ones(project):
    invoke("run", "--method", "random-init,skeletonclr", "--dataset", "synth-xsub")
    invoke("run", "--method", "random-init,skeletonclr", "--dataset", "synth-xsub",
           "--set", "features.bn=precise")
    top1 = {}
    for p in (project / "results").glob("runs/*/record.json"):
        r = json.loads(p.read_text())
        if r["kind"] == "linear":
            top1[(r["method"], r["config"]["features"]["bn"])] = r["metrics"]["top1"]
    assert top1[("random-init", "running")] == pytest.approx(top1[("random-init", "precise")])
    assert top1[("skeletonclr", "running")] != top1[("skeletonclr", "precise")]
    # The canonical table has the card's setting only; --all adds the variant, named by it.
    out = invoke("compare", "--format", "csv", "--dataset", "synth-xsub")
    assert "features.bn=precise" not in out and "2 record(s) of runs with --set" in out
    out = invoke("compare", "--format", "csv", "--dataset", "synth-xsub", "--all")
    assert "features.bn=precise" in out


def test_suite_runs_its_grid_and_a_rerun_reuses_the_committed_records(suite):
    assert "--seeds" in invoke("run", "--suite", "tiny", "--seeds", "1", ok=False)
    out = invoke("run", "--suite", "tiny", "--method", "aimclr", ok=False)
    assert "--method aimclr: not a row of suite tiny (rows: raw-1nn, random-init, skeletonclr)" in out
    assert "no suite 'tyni'" in invoke("run", "--suite", "tyni", ok=False)
    # --method picks rows: random-init's 2 seeds x 2 protocols x 2 BN settings.
    assert "# 8 runs, 8 to do" in invoke("run", "--suite", "tiny", "--method", "random-init", "--dry-run")
    plan = invoke("run", "--suite", "tiny", "--dry-run")
    # raw-1nn: 1 seed x 1 protocol; random-init 2 x 2; skeletonclr 1 x 2; each under two BN settings.
    assert "# 14 runs, 14 to do" in plan
    out = invoke("run", "--suite", "tiny")
    assert "suite tiny:" in out and "skeletonclr" in out
    recs = suite_records(suite)
    assert len([r for r in recs if r["kind"] == "pretrain"]) == 4 and len(recs) == 18
    assert not list((suite / "results").glob("runs"))       # nothing outside the suite's folder
    # A clean clone has the JSON and no checkpoints or logits: everything is still done.
    for path in (suite / "results" / "tiny" / "runs").glob("*/*"):
        if path.name != "record.json":
            path.unlink()
    plan = invoke("run", "--suite", "tiny", "--dry-run")
    assert "# 14 runs, 0 to do; 4 pretrainings: 0 done, 0 to do, 4 recorded without" in plan
    assert "already done" in invoke("run", "--suite", "tiny")
    # compare reads the suite's folder from the default results directory.
    table = invoke("compare", "--format", "csv", "--all")
    assert "raw-1nn" in table and "features.bn=precise" in table
    # A new protocol on a pretraining without its checkpoint trains it again.
    out = invoke("run", "--method", "skeletonclr", "--dataset", "synth-xsub", "--protocol",
                 "finetune", "--results-dir", str(suite / "results" / "tiny"))
    assert "has no checkpoint here" in " ".join(out.split())


def test_full_suite_takes_each_recipes_own_schedule_and_the_parents_own(suite):
    load_all()
    from skelbench.suite import cells, load_suite
    spec = dict(SUITE, rows=[{"method": "actclr", "seeds": [0]}, {"method": "skeletonclr"}])
    (suite / "results" / "tiny" / "suite.yaml").write_text(yaml.safe_dump(spec))
    s = load_suite("tiny")
    assert s.results_dir(full=True).name == "tiny-full"
    jobs = cells(s, full=True)
    act, skel = jobs[0][0], jobs[2][0]
    assert act["pretrain"]["epochs"] == 350 and act["init"]["pretrain"]["epochs"] == 300
    assert act["backbone"]["name"] == "stgcn" and act["init"]["backbone"]["name"] == "stgcn"
    assert act["args"]["momentum"] == 0.999 and act["init"]["args"]["mining_epoch"] == 150
    assert skel["pretrain"]["epochs"] == 300 and "mining_epoch" not in skel["args"]
    assert skel["pretrain"]["lr"] == 0.1
    (suite / "results" / "tiny" / "suite.yaml").write_text(yaml.safe_dump({**SUITE, "colour": 1}))
    with pytest.raises(C.ConfigError, match="unknown key 'colour'"):
        load_suite("tiny")


def test_quick_start_prints_the_untrained_floor_and_where_to_compare(project):
    out = invoke("run", "--method", "skeletonclr", "--protocol", "linear")
    assert "skeletonclr seed 0: linear top-1" in out
    assert "the untrained encoder (random-init, same seed and backbone)" in out
    assert "skelbench run --suite embedded" in out
    floor = [json.loads(p.read_text()) for p in (project / "results").glob("runs/*/record.json")
             if "linear-random-init" in p.parent.name]
    assert len(floor) == 1 and f"{floor[0]['metrics']['top1']:.2f}" in out


def test_the_repository_suite_and_cards_resolve():
    """The shipped suite file, both embedded cards and the raw baseline resolve as committed."""
    load_all()
    from skelbench.suite import cells, load_suite
    root = C.project_root()
    s = load_suite("embedded", root)
    jobs = cells(s, root=root)
    assert {cfg["method"] for cfg, _, _ in jobs} >= {"raw-1nn", "random-init", "supervised",
                                                     "skeletonclr", "aimclr", "actclr", "tranclr"}
    assert all(cfg["data"]["frames"] == 50 for cfg, _, _ in jobs)
    assert {len(seeds) for cfg, seeds, _ in jobs if cfg["method"] in ("random-init", "skeletonclr")} == {5}
    quick = C.resolve("tranclr", "quick-xsub", root=root)
    assert quick["data"]["frames"] == 50


def test_a_second_build_of_the_same_embedded_set_keeps_the_first(tmp_path):
    """Two processes building one embedded set (two ranks, two runs): the one that finishes
    second keeps the first's files instead of deleting them under the other's reader."""
    from skelbench.data.prepared import write_prepared
    meta = {"name": np.array(["S001C001P001R001A001"]), "label": np.array([0]),
            "subject": np.array([1]), "camera": np.array([1]), "replication": np.array([1]),
            "setup": np.array([1]), "length": np.array([5])}
    out = tmp_path / "synth"
    write_prepared(out, np.zeros((1, 3, 5, 25, 2)), meta, {"fingerprint": "abc"})
    first = (out / "data.npy").stat().st_ino
    write_prepared(out, np.ones((1, 3, 5, 25, 2)), meta, {"fingerprint": "abc"})
    assert (out / "data.npy").stat().st_ino == first and not np.load(out / "data.npy").any()
    assert [p.name for p in tmp_path.iterdir()] == ["synth"]          # no temp folder left
    write_prepared(out, np.ones((1, 3, 5, 25, 2)), meta, {"fingerprint": "new"})
    assert np.load(out / "data.npy").all()                              # a changed set replaces
