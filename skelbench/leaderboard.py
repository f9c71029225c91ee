"""`skelbench compare`: records -> mean ± std (n) over seeds.

Rows are method x backbone (x stream where several), columns split x protocol x metric. The
three streams' linear runs of one (method, backbone, split, seed) also form a J+M+B ensemble row
from their saved test logits. The papers' own numbers come from ``results/reference.yaml``.
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import yaml

from .errors import ConfigError
from .results import atomic_write_text, is_stale, iter_records, record_roots, suite_roots

# What a protocol's columns show unless --metric asks otherwise.
HEADLINE = {"linear": ("top1",), "retrieval": ("knn1",), "released-head": ("top1", "ece"),
            "calibration": ("ece", "aece", "ece_ts"),
            "continuity": ("linearity_global_diff", "monotonic_global_diff"),
            "finetune": ("top1",), "semi-1": ("top1",), "semi-10": ("top1",),
            "transfer-linear": ("top1",), "transfer-finetune": ("top1",)}
KIND_ORDER = list(HEADLINE)
# compare prints one table per group of protocols, so a table stays as wide as a paper's.
TABLES = {"frozen encoder": ("linear", "retrieval", "calibration", "released-head"),
          "continuity": ("continuity",),
          "finetuning": ("finetune", "semi-1", "semi-10"),
          "transfer": ("transfer-linear", "transfer-finetune")}
LOWER_IS_BETTER = {"ece", "aece", "mce", "nll", "brier", "ece_ts", "aece_ts", "nll_ts",
                   "ece_ts_before", "aece_ts_before", "nll_ts_before"}


def lower_is_better(metric: str) -> bool:
    return metric in LOWER_IS_BETTER or metric.startswith(("linearity_", "lambda_error_"))
# Marked †: chosen on the test split, kept only to set beside the papers' numbers.
BEST_ON_TEST = {"top1_best"}
BOUNDS = ("random-init", "supervised", "raw-1nn")
STREAMS = ("joint", "motion", "bone")
# Ensemble weights (joint, motion, bone). "equal" averages the softmax probabilities; "aimclr"
# is AimCLR's ensemble script: 0.6 joint + 0.4 motion + 0.6 bone on the raw logits.
ENSEMBLES = {"equal": ((1, 1, 1), "probs"), "aimclr": ((0.6, 0.4, 0.6), "logits")}


def load_records(results_dir: Path, roots: list[Path] | None = None
                 ) -> tuple[pd.DataFrame, list[str]]:
    """Finished protocol records as a flat frame, and one notice per record left out: those of
    ``results_dir`` and its suites' folders, or of ``roots`` where given.

    Results of one method whose pretrainings differ in a setting (``--set pretrain.epochs=45``)
    are separate entries: column ``variant`` names what differs, e.g. ``pretrain.epochs=45``.
    """
    rows, schedules, notices = [], [], []
    roots = record_roots(results_dir) if roots is None else roots
    records = ((root, *item) for root in roots for item in iter_records(root))
    plans, outdated = {}, {}
    for root, path, rec, error in records:
        if rec is None:
            notices.append(f"unreadable record {path}: {error}")
            continue
        if rec["kind"] == "pretrain":
            continue
        if rec["status"] != "done":
            state = "stale (process gone)" if is_stale(rec) else rec["status"]
            notices.append(f"left out {rec['run_id']}: {state}")
            continue
        config = rec.get("config") or {}
        schedule = _settings(config)
        if root not in plans:
            plans[root] = suite_plan(root)
        plan, own = plans[root], (config.get("run") or {}).get("overrides")
        # Only the suite's own grid is checked: a run with other --set is a variant of its own.
        changed = (_changed(schedule, plan.settings.get(rec["method"]))
                   if plan and own is not None and set(own) <= plan.overrides else "")
        if changed:
            outdated.setdefault((root, rec["method"], changed), []).append(rec["run_id"])
            continue
        schedules.append(schedule)
        rec = {k: v for k, v in rec.items() if k not in ("config", "history", "bins")}
        if config.get("weights"):           # evaluated, not trained here: never one row with those
            rec["method"] = f"{rec['method']} (released weights)"
        rows.append({**rec, "run_dir": str(path.parent),
                     # run at the recipe's and card's settings (no --set)? None: a record
                     # from before overrides were recorded (shown, named by its settings)
                     "canonical": _canonical(config),
                     "overrides": ", ".join((config.get("run") or {}).get("overrides") or []),
                     "planned": plan.seeds.get(rec["method"], math.nan) if plan else math.nan,
                     "reference": plan is not None})
    for (root, method, changed), ids in outdated.items():
        notices.append(f"left out {len(ids)} run(s) of {method} in {root.parent.name}/{root.name}: "
                       f"run under settings its suite no longer has ({changed}); "
                       f"`skelbench run --suite {root.name.removesuffix('-full')}` runs it again")
    for row, variant in zip(rows, _variants(rows, schedules)):
        row["variant"] = variant
        if row.get("target"):
            row["split"] = f"{row['split']}→{row['target']}"
    if not rows:
        return pd.DataFrame(), notices
    frame = pd.json_normalize(rows)
    # One result per (config, seed, kind): a reference suite's if it has one (a rerun of its cell
    # elsewhere, to get a checkpoint back, does not replace it), else the newest.
    frame = frame.sort_values(["reference", "finished_at"]).drop_duplicates(
        ["kind", "config_hash", "seed"], keep="last").sort_values("finished_at")
    # Seeds of one config make a cell. Where a cell was also run with other settings that are not
    # the pretraining's (a linear schedule, a changed card), show the most recent config and say
    # what was left out.
    cell = ["method", "variant", "backbone", "split", "stream", "kind"]
    newest = frame.groupby(cell)["config_hash"].transform("last")
    for _, old in frame[frame["config_hash"] != newest].groupby(cell + ["config_hash"]):
        r = old.iloc[0]
        notices.append(f"left out {len(old)} {r['kind']} run(s) of {entry(r['method'], r['variant'])}"
                       f" on {r['split']} ({r['backbone']}) with an older config "
                       f"{r['config_hash'][:12]} (a newer config is shown)")
    return frame[frame["config_hash"] == newest], notices


def paired_lines(frame: pd.DataFrame, a: str, b: str, splits=None) -> list[str]:
    """For each split where rows ``a`` and ``b`` (labels as ``compare`` shows them, with
    ``@backbone`` where a label has rows on several backbones) both have
    linear (or released-head) records with per-clip correctness: top-1 of a minus b and its 95 %
    paired bootstrap interval over the test clips, each row's clips averaged over the seeds both
    rows have (over each row's own seeds where they share none): a seed pairs the two rows' runs
    as a clip pairs their predictions."""
    from .stats import paired_bootstrap, unpack
    if frame.empty:
        raise ConfigError("no finished results to compare")
    frame = frame[frame["kind"].isin(["linear", "released-head"])]     # variants named as compare --all
    if "correct.bits" not in frame:
        raise ConfigError("no linear record keeps its per-clip results (records made before "
                          "they did): run the linear protocol again")
    labels = [entry(m, v) for m, v in zip(frame["method"], frame["variant"])]
    frame = frame.assign(label=labels)
    out = []
    for (split, kind, stream), part in frame.groupby(["split", "kind", "stream"]):
        if splits and split not in splits:
            continue
        rows = {}
        for label in (a, b):
            name, _, backbone = label.partition("@")
            mine = part[(part["label"] == name) & part["correct.bits"].notna()
                        & ((part["backbone"] == backbone) if backbone else True)]
            if mine["backbone"].nunique() > 1:
                raise ConfigError(f"--paired: {name!r} on {split} has rows on several backbones; "
                                  "name one as " + " or ".join(f"{name}@{x}" for x in
                                                                sorted(mine["backbone"].unique())))
            if not mine.empty:
                rows[label] = mine
        if len(rows) < 2:
            continue
        common = set(rows[a]["seed"]) & set(rows[b]["seed"])
        clips, seeds = [], []
        for label in (a, b):
            mine = rows[label]
            if common:
                mine = mine[mine["seed"].isin(common)]
            clips.append(np.mean([unpack({"n": n, "bits": bits}) for n, bits in
                                  zip(mine["correct.n"], mine["correct.bits"])], axis=0))
            seeds.append("seeds " + ", ".join(str(int(x)) for x in sorted(mine["seed"])))
        r = paired_bootstrap(*clips)
        out.append(f"{split} {stream} {kind} top-1: {a} ({seeds[0]}) − {b} ({seeds[1]}) = "
                   f"{r['diff']:+.2f} points, 95 % paired bootstrap interval "
                   f"[{r['low']:+.2f}, {r['high']:+.2f}] over {r['n']} test clips "
                   f"({r['n_boot']} resamples, seed {r['seed']})")
    if not out:
        have = ", ".join(sorted(set(labels)))
        raise ConfigError(f"--paired {a},{b}: no split where both rows have linear records with "
                          f"per-clip results; rows: {have}")
    return out


def time_shares(root: Path) -> dict[str, float]:
    """Seconds per method that a run of the suite in ``root`` takes by its records: the protocol
    runs ``compare`` shows, and once per config and seed each pretraining they rest on (a parent
    of a two-phase method included). Records under an older card, and a pretraining trained
    again (on another CPU, for a missing checkpoint) beside its first run, are not what one run
    of the suite costs and are not counted."""
    frame, _ = load_records(root, roots=[root])
    if frame.empty:
        return {}
    records = {r["run_id"]: r for _, r, _ in iter_records(root)
               if r and r["kind"] == "pretrain" and r.get("status") == "done"}
    out: dict[str, float] = {}
    for method, seconds in zip(frame["method"], frame["duration_s"].fillna(0)):
        out[method] = out.get(method, 0.0) + float(seconds)
    pretrainings: dict[tuple, dict] = {}           # (config hash, seed) -> its newest run
    todo = {p for p in frame.get("parent_run_id", []) if isinstance(p, str)}
    seen: set[str] = set()
    while todo:                                    # each pretraining and its parents, once
        seen.add(run_id := todo.pop())
        if (rec := records.get(run_id)) is None:
            continue
        key = (rec["config_hash"], rec["seed"])
        if key not in pretrainings or rec["finished_at"] > pretrainings[key]["finished_at"]:
            pretrainings[key] = rec
        if rec.get("parent_run_id") and rec["parent_run_id"] not in seen:
            todo.add(rec["parent_run_id"])
    for rec in pretrainings.values():
        out[rec["method"]] = out.get(rec["method"], 0.0) + float(rec.get("duration_s") or 0)
    return out


# The parts of a config whose differences make separate entries of one method: its pretraining,
# and how its frozen features are taken (the parent of a two-phase method follows its child's
# settings, so `init` would repeat them).
VARIANT_SECTIONS = ("args", "backbone", "pretrain", "features")


def _settings(config: dict) -> dict:
    """A config's VARIANT_SECTIONS, nested keys flattened ("pretrain.epochs")."""
    return pd.json_normalize({k: config[k] for k in VARIANT_SECTIONS if k in config}).iloc[0].to_dict()


def suite_plan(root: Path) -> SimpleNamespace | None:
    """What the suite owning ``root`` (results/NAME/ or its --full folder) runs today, its card,
    recipes and variants resolved now: per method its seed count (``seeds``) and the settings of
    each of its cells (``settings``), and the --set overrides of its grid (``overrides``). None
    for a folder that is no suite's. A suite's record made under other settings (a card
    changed since) is not part of its leaderboard."""
    path = root.parent / root.name.removesuffix("-full") / "suite.yaml"
    if not path.is_file():
        return None
    from . import data  # noqa: F401  (registers the datasets the cards name)
    from .suite import cells, read_suite
    plan = SimpleNamespace(seeds={}, settings={}, overrides=set())
    for cfg, seeds, _ in cells(read_suite(path), root.name.endswith("-full")):
        plan.seeds[cfg["method"]] = len(seeds)
        plan.settings.setdefault(cfg["method"], []).append(_settings(cfg))
        plan.overrides.update(cfg["run"]["overrides"])
    return plan


def _changed(settings: dict, cells: list[dict] | None) -> str:
    """"" if ``settings`` match one of ``cells`` (keys only one side has do not count: written
    by another version), else what differs from the closest cell, e.g. "args.momentum=0.99"."""
    if cells is None:
        return ""
    diffs = [sorted(f"{k}={settings[k]}" for k in set(settings) & set(cell)
                    if repr(settings[k]) != repr(cell[k])) for cell in cells]
    best = min(diffs, key=len, default=[])
    return ", ".join(best)


def _variants(rows: list[dict], schedules: list[dict]) -> list[str]:
    """Per record, the pretraining settings in which it differs from other records of the same
    method, backbone, split and stream: "" for the canonical records (no --set) and where there
    is one setting. Keys that only some of the records have (written by an older version) do
    not count."""
    groups: dict[tuple, list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault((r["method"], r["backbone"], r["split"], r["stream"]), []).append(i)
    labels = [""] * len(rows)
    for members in groups.values():
        shared = set.intersection(*(set(schedules[i]) for i in members))
        differ = sorted(k for k in shared if len({repr(schedules[i][k]) for i in members}) > 1)
        canonical = {k: {repr(schedules[i][k]) for i in members if rows[i]["canonical"]}
                     for k in differ}
        for i in members:
            if rows[i]["canonical"] is None:
                labels[i] = ", ".join(f"{k}={schedules[i][k]}" for k in differ)
            elif not rows[i]["canonical"]:
                # named by the pretraining settings in which it differs from the canonical
                # records (all that differ where there are none), else by its --set overrides
                own = [k for k in differ if repr(schedules[i][k]) not in canonical[k]]
                labels[i] = (", ".join(f"{k}={schedules[i][k]}" for k in own)
                             or rows[i]["overrides"])
    return labels


def _canonical(config: dict) -> bool | None:
    overrides = (config.get("run") or {}).get("overrides")
    return None if overrides is None else not overrides


def entry(method: str, variant: str = "") -> str:
    """A leaderboard row's name: the method, and its variant where it has one."""
    return f"{method} [{variant}]" if variant else method


def ensembles(frame: pd.DataFrame, scheme: str = "equal", n_bins: int = 15) -> pd.DataFrame:
    """J+M+B rows (kinds linear and calibration) from the three streams' linear test logits,
    for every (method, backbone, split, seed) that has all three."""
    if frame.empty or "linear" not in set(frame["kind"]):
        return pd.DataFrame()
    weights, space = ENSEMBLES[scheme]
    linear = frame[(frame["kind"] == "linear") & frame["stream"].isin(STREAMS)]
    rows = []
    for (method, variant, backbone, split, seed), group in linear.groupby(
            ["method", "variant", "backbone", "split", "seed"]):
        by_stream = dict(zip(group["stream"], group["run_dir"]))
        if len(by_stream) < 3:
            continue
        from .metrics import aece, ece      # (torch, imported only when there is an ensemble)
        logits, labels = [], None
        for stream in STREAMS:
            with np.load(Path(by_stream[stream]) / "logits.npz") as f:
                logits.append(f["logits"].astype(np.float64))
                if labels is not None and not np.array_equal(labels, f["labels"]):
                    raise ValueError(f"{by_stream[stream]}: test labels differ between streams")
                labels = f["labels"]
        if space == "probs":
            probs = sum(w * _softmax(z) for w, z in zip(weights, logits)) / sum(weights)
        else:
            probs = _softmax(sum(w * z for w, z in zip(weights, logits)))
        top = np.argsort(-probs, axis=1)
        metrics = {"top1": 100 * float((top[:, 0] == labels).mean()),
                   "top5": 100 * float((top[:, :5] == labels[:, None]).any(1).mean())}
        base = {"method": method, "variant": variant, "backbone": backbone, "split": split,
                "seed": seed, "stream": "J+M+B", "config_hash": f"ensemble-{scheme}",
                "canonical": group["canonical"].min(), "planned": group["planned"].max()}
        rows.append({**base, "kind": "linear", **{f"metrics.{k}": v for k, v in metrics.items()}})
        rows.append({**base, "kind": "calibration", "metrics.top1": metrics["top1"],
                     "metrics.ece": 100 * ece(probs, labels, n_bins),
                     "metrics.aece": 100 * aece(probs, labels, n_bins)})
    return pd.DataFrame(rows)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


KEYS = ["method", "variant", "backbone", "split", "stream", "kind"]


def aggregate(frame: pd.DataFrame, metrics=None, kinds=None) -> pd.DataFrame:
    """Long table: one row per (method, backbone, split, stream, kind, metric) with mean/std/n.
    ``metrics=None`` takes each protocol's headline metrics."""
    if frame.empty:
        return pd.DataFrame(columns=KEYS + ["metric", "mean", "std", "n"])
    if kinds:
        frame = frame[frame["kind"].isin(kinds)]
    cols = [c for c in frame.columns if c.startswith("metrics.")]
    if "planned" not in frame:
        frame = frame.assign(planned=math.nan)
    long = frame.melt(id_vars=KEYS + ["seed", "planned"], value_vars=cols, var_name="metric")
    long["metric"] = long["metric"].str.removeprefix("metrics.")
    if metrics:
        long = long[long["metric"].isin(metrics)]
    else:
        long = long[[m in HEADLINE.get(k, ("top1",)) for k, m in zip(long["kind"], long["metric"])]]
    long = long.dropna(subset=["value"])
    out = long.groupby(KEYS + ["metric"], sort=False).agg(
        mean=("value", "mean"), std=("value", "std"), n=("value", "count"),
        planned=("planned", "max"))
    return out.reset_index()


def paper_rows(path: Path, splits=None, kinds=None) -> tuple[pd.DataFrame, list[str]]:
    """The papers' numbers as aggregate rows (n = 0), and one source line per row."""
    entries = (yaml.safe_load(Path(path).read_text()) or {}).get("rows", [])
    rows, sources = [], []
    for e in entries:
        for key in ("method", "protocol", "metric", "values", "source"):
            if key not in e:
                raise ValueError(f"{path}: a row lacks {key!r}: {e}")
        if kinds and e["protocol"] not in kinds:
            continue
        label = f"{e['method']} (paper)"
        kept = {s: v for s, v in e["values"].items() if v is not None and (not splits or s in splits)}
        for split, value in kept.items():
            rows.append({"method": label, "variant": "", "backbone": e.get("backbone", "stgcn"),
                         "split": split, "stream": e.get("stream", "joint"), "kind": e["protocol"],
                         "metric": e["metric"], "mean": float(value), "std": math.nan, "n": 0})
        if kept:
            sources.append(f"{label} {e.get('stream', 'joint')} {e['protocol']}: {e['source']}")
    return pd.DataFrame(rows), list(dict.fromkeys(sources))


def split_sections(agg: pd.DataFrame, root: Path | None = None) -> list[tuple[str, pd.DataFrame]]:
    """(title, rows) per table; where the rows mix real and generated data, or released weights
    and encoders trained here, one set of tables per split and kind: real data first, released
    weights apart, then the embedded (generated) sets. A split no card names counts as real; a
    transfer (``a→b``) as generated where either end is."""
    from .config import card_paths, load_yaml
    if agg.empty:
        return tables(agg)
    released = agg["method"].str.endswith("(released weights)")
    generated = set()
    for path in card_paths(root).values():
        card = load_yaml(path)
        if card.get("kind") == "synth":
            generated |= set(card.get("splits") or {})
    synthetic = {s: any(part in generated for part in s.split("→")) for s in agg["split"].unique()}
    if len(set(synthetic.values())) < 2 and not (released.any() and (~released).any()):
        return tables(agg)
    out = []
    for split in sorted(synthetic, key=lambda s: (synthetic[s], s)):
        what = "embedded, generated" if synthetic[split] else "real data"
        for source in (True, False):        # released weights first, apart from trained rows
            part = agg[(agg["split"] == split) & (released == source)]
            label = f"{split} ({what}{', released weights' if source else ''})"
            out += [(f"{title}: {label}", rows) for title, rows in tables(part) if not part.empty]
    return out


def tables(agg: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """(title, rows) per group of protocols present, in TABLES order; other kinds on their own."""
    out = []
    grouped = {k for kinds in TABLES.values() for k in kinds}
    for title, kinds in TABLES.items():
        part = agg[agg["kind"].isin(kinds)]
        if not part.empty:
            out.append((title, part))
    for kind in sorted(set(agg["kind"]) - grouped):
        out.append((kind, agg[agg["kind"] == kind]))
    return out


def pivot(agg: pd.DataFrame) -> tuple[list[str], list[list[str]], set]:
    """Header, body and the (row, column) positions of the best value per column.

    Rows: method x backbone (x stream where several); columns: split (x protocol where several)
    x metric. The best is taken over the methods, not the two bounds or the papers' rows.
    """
    if agg.empty:
        return [], [], set()
    several_streams = agg["stream"].nunique() > 1
    several_kinds = agg["kind"].nunique() > 1
    agg = agg.assign(
        kind_rank=[KIND_ORDER.index(k) if k in KIND_ORDER else len(KIND_ORDER) for k in agg["kind"]])
    agg = agg.sort_values(["split", "kind_rank"], kind="stable")

    def col(r):
        parts = [r.split] + ([r.kind] if several_kinds else [])
        mark = "†" if r.metric in BEST_ON_TEST else ""
        return f"{' '.join(parts)} {r.metric}{mark}"

    agg = agg.assign(col_=[col(r) for r in agg.itertuples()],
                     row_=[(entry(r.method, r.variant), r.backbone)
                           + ((r.stream,) if several_streams else ()) for r in agg.itertuples()])
    columns = list(dict.fromkeys(agg["col_"]))
    rows = _order_rows(list(dict.fromkeys(agg["row_"])))
    values = {(r.row_, r.col_): r for r in agg.itertuples()}
    best = set()
    for j, c in enumerate(columns):
        metric = next(r.metric for r in agg.itertuples() if r.col_ == c)
        cands = [(values[(row, c)].mean, i) for i, row in enumerate(rows)
                 if (row, c) in values and _method(row[0]) not in BOUNDS
                 and not row[0].endswith("(paper)")]
        if cands:
            target = (min if lower_is_better(metric) else max)(m for m, _ in cands)
            best |= {(i, j) for m, i in cands if m == target}
    body = [list(row) + [_cell(values[(row, c)]) if (row, c) in values else "—" for c in columns]
            for row in rows]
    header = ["method", "backbone"] + (["stream"] if several_streams else []) + columns
    return header, body, {(i, j + len(header) - len(columns)) for i, j in best}


def _order_rows(rows: list[tuple]) -> list[tuple]:
    # The floor first and the ceiling last, so every table reads floor -> methods -> ceiling;
    # the papers' rows after all measured ones.
    def group(rows_):   # by method, backbone, then streams as joint, motion, bone, J+M+B
        order = STREAMS + ("J+M+B",)
        return sorted(rows_, key=lambda r: (_natural(r[0]), r[1]) + tuple(
            (order.index(v) if v in order else len(order), v) for v in r[2:]))

    paper = group(r for r in rows if r[0].endswith("(paper)"))
    first = group(r for r in rows if _method(r[0]) == BOUNDS[0])
    last = group(r for r in rows if _method(r[0]) == BOUNDS[1])
    middle = group(r for r in rows if r not in first + last + paper)
    return first + middle + last + paper


def _natural(text: str) -> list:
    # Numbers in a row's name compare as numbers: pretrain.epochs=15 before pretrain.epochs=100.
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def _method(name: str) -> str:
    return name.split(" [", 1)[0]


def _cell(r) -> str:
    if r.n == 0:                        # a paper's number: one or two decimals, as printed there
        text = f"{r.mean:.2f}"
        return text[:-1] if text.endswith("0") else text
    spread = "" if r.n < 2 or pd.isna(r.std) else f" ± {r.std:.2f}"
    planned = getattr(r, "planned", math.nan)
    if not pd.isna(planned) and r.n < planned:     # a suite's cell still missing seeds
        return f"{r.mean:.2f}{spread} ({r.n} of {int(planned)})"
    return f"{r.mean:.2f}{spread} ({r.n})"


def name_columns(header: list[str]) -> int:
    """How many leading columns of a table name its rows (the rest are numbers)."""
    return sum(h in ("method", "backbone", "stream", "recipe") for h in header)


def _aligns(header: list[str]) -> str:
    """l for the name columns, r for numbers (or as given: ``align`` of the table renderers)."""
    n_text = name_columns(header)
    return "l" * n_text + "r" * (len(header) - n_text)


def render_markdown(header: list[str], body: list[list[str]], best: set = frozenset(),
                    align: str | None = None) -> str:
    from tabulate import tabulate
    body = [[f"**{v}**" if (i, j) in best else v for j, v in enumerate(row)]
            for i, row in enumerate(body)]
    names = {"l": "left", "c": "center", "r": "right"}
    return tabulate(body, headers=header, tablefmt="pipe", disable_numparse=True,
                    colalign=tuple(names[a] for a in align or _aligns(header)))


def render_latex(header: list[str], body: list[list[str]], best: set = frozenset(),
                 align: str | None = None) -> str:
    """A booktabs tabular; the best value per column in bold."""
    def tex(text: str) -> str:
        text = text.replace("\\", r"\textbackslash{}")
        for ch in "&%$#_{}":
            text = text.replace(ch, "\\" + ch)
        return (text.replace("±", r"$\pm$").replace("†", r"$^\dagger$")
                .replace("→", r"$\rightarrow$").replace("—", "--")
                .replace("✓", r"\checkmark").replace("✗", r"$\times$"))

    lines = [r"\begin{tabular}{" + (align or _aligns(header)) + "}", r"\toprule",
             " & ".join(tex(h) for h in header) + r" \\", r"\midrule"]
    for i, row in enumerate(body):
        cells = [tex(v) for v in row]
        cells = [f"\\textbf{{{c}}}" if (i, j) in best else c for j, c in enumerate(cells)]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines)


LEGEND = ("mean ± std (n seeds; 'n of m': a reference suite's cell with seeds still to run); "
          "bold: best method per column (bounds and papers' rows excluded); ECE/AECE/MCE ×100 "
          "and linearity error, lower is better (ece_ts: after temperature scaling); "
          "monotonicity, higher is better; † best epoch chosen on the test split")


def split_columns(title: str, header: list[str], body: list[list[str]], best: set,
                  width: int) -> list[tuple]:
    """The table as it is when it fits ``width`` characters, else one table per split (the
    first word of each value column, moved to the title), each with the name columns."""
    def needed(cols):
        return sum(max(len(header[j]), *(len(r[j]) for r in body)) + 3 for j in cols) + 1
    n_text = name_columns(header)
    values = range(n_text, len(header))
    splits = list(dict.fromkeys(header[j].split(" ", 1)[0] for j in values))
    if len(splits) > 1 and needed(range(len(header))) <= width:
        return [(title, header, body, best)]
    out = []
    for split in splits:
        cols = list(range(n_text)) + [j for j in values if header[j].split(" ", 1)[0] == split]
        where = {j: k for k, j in enumerate(cols)}
        out.append((title if f": {split} (" in title else f"{title}: {split}",
                    [header[j] if j < n_text else header[j].split(" ", 1)[1] for j in cols],
                    [[row[j] for j in cols] for row in body],
                    {(i, where[j]) for i, j in best if j in where}))
    return out


def write_leaderboard(path: Path, parts: list, sources: list[str], notices: list[str],
                      command: str = "skelbench compare --write") -> None:
    """``parts``: (title, header, body, best) per table."""
    from .results import now
    text = ["# Leaderboard", "",
            f"Generated by `{command}` on {now()}: {LEGEND}.", ""]
    for title, header, body, best in parts:
        text += [f"## {title[0].upper() + title[1:]}", "", render_markdown(header, body, best), ""]
    if sources:
        text += ["Papers' numbers (`results/reference.yaml`):", ""] + [f"- {s}" for s in sources] + [""]
    if notices:
        text += ["Left out:", ""] + [f"- {n}" for n in notices] + [""]
    atomic_write_text(Path(path), "\n".join(text))


# --- a paper's ablation table, declared in methods/tables/<name>.yaml -------------------------
TABLE_KEYS = {"title", "protocol", "metric", "paper", "columns", "rows"}


def table_names(root: Path) -> list[str]:
    return sorted(p.stem for p in (root / "methods" / "tables").glob("*.yaml"))


def load_table(name: str, root: Path) -> dict:
    """The table spec ``methods/tables/<name>.yaml``, checked: each row a recipe with one mark per
    column and the paper's number."""
    from .config import ConfigError, load_recipe, load_yaml
    from .registry import did_you_mean
    path = root / "methods" / "tables" / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"no table {name!r} in {path.parent}"
                          f"{did_you_mean(name, table_names(root))}")
    spec = load_yaml(path)
    missing = TABLE_KEYS - set(spec)
    if missing:
        raise ConfigError(f"{path}: missing key(s) {', '.join(sorted(missing))}")
    for i, row in enumerate(spec["rows"], start=1):
        if set(row) != {"recipe", "marks", "paper"} or len(row["marks"]) != len(spec["columns"]):
            raise ConfigError(f"{path}: rows[{i}] needs recipe, paper and marks with one value "
                              f"per column ({len(spec['columns'])}), got {row}")
        # An unknown recipe is an error naming it; an alias's runs are the recipe it names.
        row["method"] = load_recipe(row["recipe"], root).get("alias") or row["recipe"]
    return spec


def ablation_table(spec: dict, frame: pd.DataFrame, stream: str = "joint",
                   splits=None) -> tuple[list[str], list[list[str]]]:
    """The table in the paper's layout (header, body; align: "l", "c" per mark, "r" for the rest): its check columns, our mean ± std (n) per split and
    backbone measured (each recipe's newest configuration there), and the paper's number."""
    methods = {r["recipe"]: r["method"] for r in spec["rows"]}
    cells = {}
    if not frame.empty:
        frame = frame[(frame["kind"] == spec["protocol"]) & (frame["stream"] == stream)
                      & frame["method"].isin(set(methods.values()))]
        if splits:
            frame = frame[frame["split"].isin(splits)]
        column = f"metrics.{spec['metric']}"
        for (method, split, backbone), group in frame.groupby(["method", "split", "backbone"]):
            newest = group.sort_values("finished_at")["config_hash"].iloc[-1]
            values = group.loc[group["config_hash"] == newest, column].dropna()
            cells[(method, f"{split} ({backbone})")] = values
    measured = sorted({c for _, c in cells})
    header = ["recipe", *spec["columns"], *measured, "paper"]
    body = []
    for row in spec["rows"]:
        marks = ["✓" if m else "✗" for m in row["marks"]]
        values = []
        for c in measured:
            v = cells.get((methods[row["recipe"]], c))
            values.append("—" if v is None or v.empty
                          else _cell(SimpleNamespace(mean=v.mean(), std=v.std(), n=len(v))))
        body.append([row["recipe"], *marks, *values, f"{row['paper']:.1f}"])
    return header, body


def summary(record: dict) -> str:
    """One line for a finished protocol record."""
    m = record["metrics"]
    shown = ", ".join(f"{k} {m[k]:.2f}" for k in HEADLINE.get(record["kind"], ("top1",)) if k in m)
    extra = [f"{k} {m[k]:.2f}" for k in ("top5", "knn20", "map", "mce", "nll") if k in m]
    if "top1_best" in m:
        extra.append(f"best-on-test {m['top1_best']:.2f} at epoch {m['best_epoch']}")
    target = f"→{record['target']}" if record.get("target") else ""
    return (f"{record['method']} {record['split']}{target} {record['stream']} seed {record['seed']} "
            f"{record['kind']}: {shown}" + (f"  ({', '.join(extra)})" if extra else ""))
