"""`skelbench compare`: records -> mean ± std (n) over seeds, methods x split/metric."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .results import is_stale, iter_records

DEFAULT_METRICS = ("top1", "top5", "top1_best")
# Marked in headers: chosen on the test split, kept only to set beside the papers' numbers.
BEST_ON_TEST = {"top1_best"}


def load_records(results_dir: Path) -> tuple[pd.DataFrame, list[str]]:
    """Finished protocol records as a flat frame, and one notice per record left out."""
    rows, notices = [], []
    for path, rec, error in iter_records(results_dir):
        if rec is None:
            notices.append(f"unreadable record {path}: {error}")
            continue
        if rec["kind"] == "pretrain":
            continue
        if rec["status"] != "done":
            state = "stale (process gone)" if is_stale(rec) else rec["status"]
            notices.append(f"left out {rec['run_id']}: {state}")
            continue
        rows.append(rec)
    if not rows:
        return pd.DataFrame(), notices
    frame = pd.json_normalize(rows)
    # One result per (config, seed, kind): the newest, if a cell was run twice.
    frame = frame.sort_values("finished_at").drop_duplicates(
        ["kind", "config_hash", "seed"], keep="last")
    # Seeds of one config make a cell. Where a cell was also run with other settings (another
    # schedule, a --set), show the most recent config and say what was left out.
    cell = ["method", "backbone", "split", "stream", "kind"]
    newest = frame.groupby(cell)["config_hash"].transform("last")
    for _, old in frame[frame["config_hash"] != newest].groupby(cell + ["config_hash"]):
        r = old.iloc[0]
        notices.append(f"left out {len(old)} {r['kind']} run(s) of {r['method']} on {r['split']} "
                       f"with an older config {r['config_hash'][:12]} (a newer config is shown)")
    return frame[frame["config_hash"] == newest], notices


def aggregate(frame: pd.DataFrame, metrics=DEFAULT_METRICS, kinds=None) -> pd.DataFrame:
    """Long table: one row per (method, backbone, split, stream, kind, metric) with mean/std/n."""
    if frame.empty:
        return pd.DataFrame(columns=["method", "backbone", "split", "stream", "kind", "metric",
                                     "mean", "std", "n"])
    if kinds:
        frame = frame[frame["kind"].isin(kinds)]
    keys = ["method", "backbone", "split", "stream", "kind"]
    cols = [f"metrics.{m}" for m in metrics if f"metrics.{m}" in frame.columns]
    long = frame.melt(id_vars=keys + ["seed"], value_vars=cols, var_name="metric")
    long["metric"] = long["metric"].str.removeprefix("metrics.")
    long = long.dropna(subset=["value"])
    out = long.groupby(keys + ["metric"], sort=False)["value"].agg(["mean", "std", "count"])
    return out.rename(columns={"count": "n"}).reset_index()


def pivot(agg: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Rows: method x backbone; columns: split (stream, kind where they vary) x metric."""
    if agg.empty:
        return [], []
    several_streams = agg["stream"].nunique() > 1
    several_kinds = agg["kind"].nunique() > 1

    def col(r):
        parts = [r.split] + ([r.stream] if several_streams else []) + ([r.kind] if several_kinds else [])
        mark = "†" if r.metric in BEST_ON_TEST else ""
        return f"{' '.join(parts)} {r.metric}{mark}"

    agg = agg.assign(col_=[col(r) for r in agg.itertuples()],
                     row_=list(zip(agg["method"], agg["backbone"])))
    columns = list(dict.fromkeys(agg["col_"]))
    rows = _order_rows(list(dict.fromkeys(agg["row_"])))
    cells = {(r.row_, r.col_): _cell(r.mean, r.std, r.n) for r in agg.itertuples()}
    body = [[m, b] + [cells.get(((m, b), c), "—") for c in columns] for m, b in rows]
    return ["method", "backbone"] + columns, body


def _order_rows(rows: list[tuple]) -> list[tuple]:
    # The bounds first and last, so every table reads floor -> methods -> ceiling.
    first = [r for r in rows if r[0] == "random-init"]
    last = [r for r in rows if r[0] == "supervised"]
    return first + sorted(r for r in rows if r not in first + last) + last


def _cell(mean: float, std: float, n: int) -> str:
    spread = "" if n < 2 or pd.isna(std) else f" ± {std:.2f}"
    return f"{mean:.2f}{spread} ({n})"


def render_markdown(header: list[str], body: list[list[str]]) -> str:
    from tabulate import tabulate
    return tabulate(body, headers=header, tablefmt="pipe",
                    colalign=("left", "left") + ("right",) * (len(header) - 2))
