import json

import pytest

from skelbench.leaderboard import aggregate, load_records, pivot, render_markdown, time_shares


def write(results, run_id, **fields):
    rec = {"run_id": run_id, "kind": "linear", "status": "done", "method": "skeletonclr",
           "backbone": "stgcn", "dataset": "synth", "split": "synth-xsub", "stream": "joint",
           "config_hash": "h1", "seed": 0, "finished_at": "2026-01-01T00:00:00+00:00",
           "metrics": {"top1": 50.0, "top5": 80.0, "top1_best": 52.0}}
    rec.update(fields)
    d = results / "runs" / run_id
    d.mkdir(parents=True)
    (d / "record.json").write_text(json.dumps(rec))


def test_compare_groups_seeds_and_skips_unfinished(tmp_path):
    write(tmp_path, "a", seed=0, metrics={"top1": 50.0, "top5": 80.0, "top1_best": 52.0})
    write(tmp_path, "b", seed=1, metrics={"top1": 54.0, "top5": 82.0, "top1_best": 55.0})
    write(tmp_path, "c", seed=2, status="failed")
    write(tmp_path, "d", method="random-init", config_hash="h0",
          metrics={"top1": 30.0, "top5": 60.0, "top1_best": 31.0})
    write(tmp_path, "e", kind="pretrain")
    # A rerun of seed 0 of the same config: only the newest counts.
    write(tmp_path, "f", seed=0, finished_at="2026-02-01T00:00:00+00:00",
          metrics={"top1": 52.0, "top5": 81.0, "top1_best": 53.0})
    (tmp_path / "runs" / "g").mkdir()
    (tmp_path / "runs" / "g" / "record.json").write_text("{not json")

    frame, notices = load_records(tmp_path)
    assert any("c: failed" in n for n in notices)
    assert any("unreadable record" in n and "/g/" in n for n in notices)
    agg = aggregate(frame, ["top1", "top1_best"])
    row = agg[(agg.method == "skeletonclr") & (agg.metric == "top1")].iloc[0]
    assert row["n"] == 2 and row["mean"] == pytest.approx(53.0)
    assert row["std"] == pytest.approx(1.41421, rel=1e-4)
    header, body, best = pivot(agg)
    assert header == ["method", "backbone", "synth-xsub top1", "synth-xsub top1_best†"]
    assert body[0][0] == "random-init"                       # the floor comes first
    assert body[1] == ["skeletonclr", "stgcn", "53.00 ± 1.41 (2)", "54.00 ± 1.41 (2)"]
    assert best == {(1, 2), (1, 3)}                          # the bounds are not candidates
    md = render_markdown(header, body, best)
    assert md.splitlines()[1].startswith("|") and "53.00 ± 1.41 (2)" in md


def test_pretraining_settings_make_separate_entries(tmp_path):
    def config(epochs, linear_lr=3.0):
        return {"args": {"queue_size": 256}, "backbone": {"name": "stgcn"},
                "pretrain": {"epochs": epochs, "lr": 0.005}, "linear": {"lr": linear_lr}}

    write(tmp_path, "a", config_hash="h15", config=config(15), metrics={"top1": 40.0})
    write(tmp_path, "b", config_hash="h45", config=config(45), metrics={"top1": 50.0})
    write(tmp_path, "c", config_hash="h45", seed=1, config=config(45), metrics={"top1": 52.0})
    # Another linear schedule over the 45-epoch pretraining is a rerun of that entry, not a new
    # one: the newest config is shown and the older one named in a notice.
    write(tmp_path, "d", config_hash="h45b", config=config(45, linear_lr=1.0),
          finished_at="2026-02-01T00:00:00+00:00", metrics={"top1": 60.0})
    write(tmp_path, "f", config_hash="h100", config=config(100), metrics={"top1": 45.0})
    write(tmp_path, "e", method="random-init", config_hash="h0", config=config(0),
          metrics={"top1": 30.0})
    frame, notices = load_records(tmp_path)
    assert sorted(set(frame["variant"])) == ["", "pretrain.epochs=100", "pretrain.epochs=15",
                                             "pretrain.epochs=45"]
    assert notices == ["left out 2 linear run(s) of skeletonclr [pretrain.epochs=45] on "
                       "synth-xsub (stgcn) with an older config h45 (a newer config is shown)"]
    header, body, best = pivot(aggregate(frame, ["top1"]))
    assert [row[0] for row in body] == ["random-init", "skeletonclr [pretrain.epochs=15]",
                                        "skeletonclr [pretrain.epochs=45]",
                                        "skeletonclr [pretrain.epochs=100]"]
    assert body[2][2] == "60.00 (1)" and best == {(2, 2)}


def test_canonical_rows_variants_and_a_suites_missing_seeds(tmp_path):
    from click.testing import CliRunner

    from skelbench.cli import main
    suite = tmp_path / "ref"
    suite.mkdir()
    (suite / "suite.yaml").write_text(
        "dataset: synth-xsub\nrows:\n  - {method: skeletonclr, seeds: [0, 1, 2]}\n")

    def cfg(lr, overrides):
        return {"pretrain": {"lr": lr}, "run": {"overrides": overrides}}
    write(suite, "a", config=cfg(0.005, []), metrics={"top1": 40.0})
    write(suite, "b", seed=1, config=cfg(0.005, []), metrics={"top1": 44.0})
    write(suite, "c", config_hash="h2", config=cfg(0.1, ["pretrain.lr=0.1"]), metrics={"top1": 9.0})
    frame, _ = load_records(tmp_path)
    assert dict(zip(frame["run_id"], frame["variant"])) == {"a": "", "b": "", "c": "pretrain.lr=0.1"}
    header, body, _ = pivot(aggregate(frame[frame["canonical"] != False]))  # noqa: E712
    assert body == [["skeletonclr", "stgcn", "42.00 ± 2.83 (2 of 3)"]]     # 2 of the suite's 3 seeds

    def compare(*args):
        res = CliRunner().invoke(main, ["compare", "--format", "md", "--results-dir",
                                        str(tmp_path), *args])
        assert res.exit_code == 0, res.output
        return res.output
    out = compare()
    assert "pretrain.lr=0.1" not in out and "1 record(s) of runs with --set" in out
    out = compare("--all")
    assert "Variants: frozen encoder" in out and "skeletonclr [pretrain.lr=0.1]" in out


def test_a_variant_is_named_by_what_differs_from_the_canonical_records(tmp_path):
    # Two variants that differ from the canonical run in different keys: each is named by its
    # own change, not by the other's key at the canonical value.
    def cfg(mining, bn, overrides):
        return {"args": {"mining_epoch": mining}, "features": {"bn": bn},
                "run": {"overrides": overrides}}
    write(tmp_path, "a", config_hash="h0", config=cfg(20, "running", []), metrics={"top1": 20.0})
    write(tmp_path, "b", config_hash="h1", config=cfg(20, "precise", ["features.bn=precise"]),
          metrics={"top1": 30.0})
    write(tmp_path, "c", config_hash="h2", config=cfg(40, "running", ["args.mining_epoch=40"]),
          metrics={"top1": 32.0})
    frame, _ = load_records(tmp_path)
    assert dict(zip(frame["run_id"], frame["variant"])) == {
        "a": "", "b": "features.bn=precise", "c": "args.mining_epoch=40"}


def test_a_suites_records_under_settings_it_no_longer_has_are_left_out(tmp_path):
    import copy

    from skelbench import config as C
    suite = tmp_path / "ref"
    suite.mkdir()
    (suite / "suite.yaml").write_text(
        "dataset: synth-xsub\nrows:\n  - {method: skeletonclr, seeds: [0, 1]}\n")
    today = C.resolve("skeletonclr", "synth-xsub")
    before = copy.deepcopy(today)       # the card's EMA as it was before a change
    before["args"]["momentum"] = 0.5
    extra = C.resolve("skeletonclr", "synth-xsub", overrides=["pretrain.lr=0.1"])
    write(suite, "a", config=today, metrics={"top1": 40.0})
    write(suite, "b", seed=1, config_hash="h0", config=before, metrics={"top1": 10.0})
    write(suite, "c", config_hash="h2", config=extra, metrics={"top1": 9.0})
    frame, notices = load_records(tmp_path)
    assert sorted(frame["run_id"]) == ["a", "c"]     # a --set run of its own stays a variant
    assert notices == ["left out 1 run(s) of skeletonclr in " f"{tmp_path.name}/ref: run under "
                       "settings its suite no longer has (args.momentum=0.5); "
                       "`skelbench run --suite ref` runs it again"]


def test_suite_time_counts_one_run_of_the_grid(tmp_path):
    bn = {r: {"features": {"bn": r}} for r in ("running", "precise")}
    old, new = "2026-01-01T00:00:00+00:00", "2026-02-01T00:00:00+00:00"
    # AimCLR seed 0 trained twice (a missing checkpoint): one run of the suite trains it once.
    write(tmp_path, "p_old", kind="pretrain", method="aimclr", config_hash="ha", duration_s=100,
          finished_at=old)
    write(tmp_path, "p_new", kind="pretrain", method="aimclr", config_hash="ha", duration_s=60,
          finished_at=new)
    write(tmp_path, "q", kind="pretrain", method="actclr", config_hash="hc", duration_s=200,
          parent_run_id="p_new")
    write(tmp_path, "l1", method="aimclr", config_hash="la", config=bn["running"], duration_s=10,
          parent_run_id="p_old", finished_at=new)
    write(tmp_path, "l2", method="aimclr", config_hash="lb", config=bn["precise"], duration_s=20,
          parent_run_id="p_new", finished_at=new)
    write(tmp_path, "l3", method="actclr", config_hash="lc", duration_s=5, parent_run_id="q")
    # A cell's older config is not shown by compare, and neither it nor its pretraining counts.
    write(tmp_path, "p_stale", kind="pretrain", method="aimclr", config_hash="hz", duration_s=500)
    write(tmp_path, "lz", method="aimclr", config_hash="lz", config=bn["running"], duration_s=7,
          parent_run_id="p_stale", finished_at=old)
    assert time_shares(tmp_path) == {"aimclr": 10 + 20 + 60, "actclr": 5 + 200}


def test_a_rerun_of_a_suites_cell_elsewhere_does_not_replace_the_suites_record(tmp_path):
    (tmp_path / "ref").mkdir()
    (tmp_path / "ref" / "suite.yaml").write_text(          # a folder that is a suite's
        "dataset: synth-xsub\nrows:\n  - {method: skeletonclr, seeds: [0]}\n")
    write(tmp_path / "ref", "a", metrics={"top1": 50.0})
    write(tmp_path / "probes", "b", finished_at="2026-02-01T00:00:00+00:00", metrics={"top1": 40.0})
    frame, _ = load_records(tmp_path, roots=[tmp_path / "ref", tmp_path / "probes"])
    assert frame["metrics.top1"].tolist() == [50.0]


def test_paired_rows_compare_clip_by_clip_and_name_backbones(tmp_path):
    import numpy as np

    from skelbench.errors import ConfigError
    from skelbench.leaderboard import paired_lines
    from skelbench.stats import pack
    a = np.arange(200) % 4 != 0                     # 75 % right
    b = np.arange(200) % 2 == 0                     # 50 % right
    write(tmp_path, "a", method="actclr", config_hash="ha", correct=pack(a))
    write(tmp_path, "b", method="random-init", config_hash="hb", correct=pack(b))
    write(tmp_path, "c", method="random-init", config_hash="hc", backbone="stgcn-tiny",
          correct=pack(b))
    frame, _ = load_records(tmp_path)
    [line] = paired_lines(frame, "actclr", "random-init@stgcn")
    assert "= +25.00 points" in line and "over 200 test clips" in line
    with pytest.raises(ConfigError, match="random-init@stgcn or random-init@stgcn-tiny"):
        paired_lines(frame, "actclr", "random-init")


def test_paired_rows_are_compared_on_the_seeds_both_have(tmp_path):
    import numpy as np

    from skelbench.leaderboard import paired_lines
    from skelbench.stats import pack
    right, wrong = np.ones(100, bool), np.zeros(100, bool)
    for seed in (0, 1):
        write(tmp_path, f"a{seed}", method="tranclr", config_hash="ha", seed=seed, correct=pack(right))
    for seed, clips in ((0, right), (1, right), (2, wrong), (3, wrong)):
        write(tmp_path, f"b{seed}", method="skeletonclr", config_hash="hb", seed=seed,
              correct=pack(clips))
    frame, _ = load_records(tmp_path)
    [line] = paired_lines(frame, "tranclr", "skeletonclr")
    # seeds 2 and 3, which only skeletonclr has, would make it +50.00
    assert "tranclr (seeds 0, 1) − skeletonclr (seeds 0, 1) = +0.00 points" in line, line
    write(tmp_path, "c5", method="actclr", config_hash="hc", seed=5, correct=pack(right))
    frame, _ = load_records(tmp_path)
    [line] = paired_lines(frame, "actclr", "skeletonclr")       # no seed in common: all of each
    assert "actclr (seeds 5) − skeletonclr (seeds 0, 1, 2, 3) = +50.00 points" in line, line
