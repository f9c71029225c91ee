"""Run records: one ``record.json`` per run under ``results/runs/<run_id>/``, written atomically.

A record is created ``running`` when a run starts and rewritten ``done`` (with metrics) or
``failed`` (with the error) when it ends. A ``running`` record whose process is gone (same host,
pid not alive) is stale: the run died hard.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import secrets
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterator


SCHEMA_VERSION = 1


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())    # mkstemp makes 0600; give the usual mode
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def new_run_id(kind: str, method: str, config_hash: str, seed: int) -> str:
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    # The random suffix keeps ids unique for runs started in the same second.
    return f"{stamp}-{kind}-{method}-{config_hash[:8]}-s{seed}-{secrets.token_hex(2)}"


def git_info() -> dict:
    from .config import project_root
    try:
        root = project_root()
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=5).stdout.strip()
        # Generated results (records, the leaderboard, figures) do not make the code dirty.
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude)results"], cwd=root,
                               capture_output=True, text=True, timeout=5).stdout.strip() != ""
        return {"sha": sha or None, "dirty": dirty if sha else None}
    except Exception:
        return {"sha": None, "dirty": None}


def versions() -> dict:
    import numpy
    import torch
    from . import __version__
    try:
        from importlib.metadata import version
        timm = version("timm")
    except Exception:
        timm = None
    return {"skelbench": __version__, "torch": torch.__version__, "timm": timm,
            "numpy": numpy.__version__, "cuda": torch.version.cuda, "python": platform.python_version()}


class Record(dict):
    """A run record bound to its directory; ``save()`` writes it atomically."""

    def __init__(self, run_dir: Path, data: dict):
        super().__init__(data)
        self.run_dir = Path(run_dir)
        self._since, self._before = self.get("created_at"), 0.0

    def resume(self, **fields: Any) -> None:
        """Mark a resumed run as running again; ``duration_s`` then adds this session's running
        time to the earlier sessions' (not the idle time between them)."""
        self._since, self._before = now(), float(self.get("duration_s") or 0.0)
        self.update(status="running", error=None, resumed_after=self.get("error"), **fields)
        self.save()

    def _duration(self, finished: str) -> float:
        return round(self._before + _seconds(self._since, finished), 1)

    @property
    def path(self) -> Path:
        return self.run_dir / "record.json"

    def save(self) -> None:
        from . import dist          # (torch is imported only where records are written)
        if dist.is_main():          # under torchrun, rank 0 writes; the others keep it in memory
            atomic_write_text(self.path, json.dumps(self, indent=2, default=_json_default) + "\n")

    def finish(self, metrics: dict | None = None, **fields: Any) -> None:
        finished = now()
        self.update(status="done", finished_at=finished, **fields)
        if metrics is not None:
            self["metrics"] = metrics
        self["duration_s"] = self._duration(finished)
        self.save()
        from . import dist
        if dist.is_main():
            write_metrics_csv(self.run_dir, self.get("history"))

    def fail(self, error: BaseException) -> None:
        finished = now()
        self.update(status="failed", finished_at=finished,
                    error=f"{type(error).__name__}: {error}",
                    duration_s=self._duration(finished))
        self.save()


def write_metrics_csv(run_dir: Path, history: dict) -> None:
    """The per-epoch history as ``metrics.csv`` beside the record (one row per epoch)."""
    keys = [k for k, v in (history or {}).items() if isinstance(v, list) and v]
    if not keys:
        return
    lines = ["epoch," + ",".join(keys)]
    for i in range(max(len(history[k]) for k in keys)):
        lines.append(",".join([str(i + 1)] + [repr(history[k][i])
                                              if i < len(history[k]) and history[k][i] is not None
                                              else "" for k in keys]))
    atomic_write_text(Path(run_dir) / "metrics.csv", "\n".join(lines) + "\n")


class EpochLog:
    """Per-epoch scalars as they come: metrics.csv always, TensorBoard event files in ``tb/``
    when the optional ``tensorboard`` package is installed (``pip install skelbench[tensorboard]``)."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:             # tensorboard not installed: the CSV alone
            self.writer = None
        else:
            self.writer = SummaryWriter(str(self.run_dir / "tb"))

    def epoch(self, history: dict, epoch: int) -> None:
        write_metrics_csv(self.run_dir, history)
        if self.writer is not None:
            for key, values in history.items():
                if len(values) >= epoch and values[epoch - 1] is not None:
                    self.writer.add_scalar(key, values[epoch - 1], epoch)
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def find_record(results_dir: Path, run_id: str) -> tuple[Path, dict]:
    """The record whose run id is ``run_id`` or starts with it (results_dir and its suites'
    folders); an error names the candidates when the prefix is ambiguous."""
    from .errors import ConfigError
    matches = [(p, r) for root in record_roots(results_dir) for p, r, _ in iter_records(root)
               if r and r["run_id"].startswith(run_id)]
    exact = [(p, r) for p, r in matches if r["run_id"] == run_id]
    if exact or len(matches) == 1:
        return (exact or matches)[0]
    if not matches:
        raise ConfigError(f"no run {run_id!r} in {results_dir} or its suites' folders: "
                          "`skelbench compare` lists what is finished")
    shown = ", ".join(r["run_id"] for _, r in matches[:5])
    raise ConfigError(f"{run_id!r} matches {len(matches)} runs ({shown}"
                      f"{', ...' if len(matches) > 5 else ''}): give more of the id")


def _seconds(a: str, b: str) -> float:
    return (_dt.datetime.fromisoformat(b) - _dt.datetime.fromisoformat(a)).total_seconds()


def _json_default(obj):
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def start_record(results_dir: Path, *, kind: str, cfg: dict, config_hash: str, seed: int,
                 parent_run_id: str | None = None, **fields: Any) -> Record:
    from . import dist
    run_id = dist.broadcast_object(new_run_id(kind, cfg["method"], config_hash, seed))
    run_dir = Path(results_dir) / "runs" / run_id
    if dist.is_main():
        run_dir.mkdir(parents=True, exist_ok=False)
    data = cfg["data"]
    record = Record(run_dir, {
        "schema_version": SCHEMA_VERSION, "run_id": run_id, "kind": kind, "status": "running",
        "created_at": now(), "finished_at": None, "duration_s": None,
        "git": git_info(), "config_hash": config_hash, "config": cfg,
        "method": cfg["method"], "backbone": cfg["backbone"]["name"], "dataset": data["dataset"],
        "split": data["split"], "stream": data["stream"], "parent_run_id": parent_run_id,
        "seed": seed, "world_size": dist.world_size(), "frames": data["frames"],
        "versions": versions(), "host": socket.gethostname(), "pid": os.getpid(),
        "metrics": {}, **fields})
    record.save()
    return record


def is_stale(record: dict) -> bool:
    """A ``running`` record on this host whose process no longer exists."""
    if record.get("status") != "running" or record.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(record["pid"]), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, KeyError, TypeError, ValueError):
        return False
    return False


def iter_records(results_dir: Path) -> Iterator[tuple[Path, dict | None, str | None]]:
    """(path, record or None, error or None) for every record.json under results/runs."""
    for path in sorted(Path(results_dir).glob("runs/*/record.json")):
        try:
            rec = json.loads(path.read_text())
            if not isinstance(rec, dict) or "kind" not in rec:
                raise ValueError("not a skelbench record")
            yield path, rec, None
        except (OSError, ValueError) as e:
            yield path, None, f"{type(e).__name__}: {e}"


def record_roots(results_dir: Path) -> list[Path]:
    """``results_dir`` and each folder in it with runs of its own (a suite's, results/embedded/):
    what ``skelbench compare`` reads."""
    results_dir = Path(results_dir)
    nested = sorted(p.parent for p in results_dir.glob("*/runs") if p.is_dir())
    return [results_dir, *nested]


def suite_roots(results_dir: Path) -> list[Path]:
    """The reference suites' folders in ``results_dir`` (results/NAME/ with a suite.yaml, and
    its --full records in results/NAME-full/): the committed records the generated leaderboard
    and figures are made from."""
    results_dir = Path(results_dir)
    names = sorted(p.parent.name for p in results_dir.glob("*/suite.yaml"))
    dirs = [results_dir / n for n in names] + [results_dir / f"{n}-full" for n in names]
    return [d for d in dirs if (d / "runs").is_dir()]


def find_done(results_dir: Path, kind: str, config_hash: str, seed: int) -> dict | None:
    """The newest finished record of this kind, config and seed, if any."""
    best = None
    for _, rec, _ in iter_records(results_dir):
        if (rec and rec["kind"] == kind and rec["config_hash"] == config_hash
                and rec["seed"] == seed and rec["status"] == "done"):
            if best is None or rec["finished_at"] > best["finished_at"]:
                best = rec
    from . import dist
    return dist.broadcast_object(best)      # rank 0's view decides for every rank


def find_resumable(results_dir: Path, config_hash: str, seed: int) -> dict | None:
    """The newest interrupted pretraining (failed, or running but stale) with a checkpoint."""
    best = None
    for path, rec, _ in iter_records(results_dir):
        if (rec and rec["kind"] == "pretrain" and rec["config_hash"] == config_hash
                and rec["seed"] == seed and (path.parent / "checkpoint.pt").is_file()
                and (rec["status"] == "failed" or is_stale(rec))):
            if best is None or rec["created_at"] > best["created_at"]:
                best = rec
    from . import dist
    return dist.broadcast_object(best)
