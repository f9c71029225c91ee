"""PKU-MMD Part I and II: untrimmed skeleton streams, label files, clip cutting, split files.

- Skeleton ``<video>.txt``: one frame per line, 150 floats (person 1's 25 joints x xyz, then
  person 2's; zeros when absent). Part I videos are ``NNNN-V`` (V in L, M, R), Part II
  ``AaaNnn-V`` (Nnn the subject).
- Label ``<video>.txt``: rows ``action,start,end,confidence``, class ids 1..51 (Part II uses a
  subset of Part I's ids).
- Frame convention (``frame_base``): 0 cuts rows [start, end), as MAMP, SkeletonX and
  ViewAdaptiveLSTM do and as the real labels suggest (start 0 occurs); 1 cuts [start-1, end)
  (the AimCLR/CrosSCLR tools: 1-based start, inclusive end), the cards' default through their
  ``preprocess.cut`` (``skelbench.data.real.PKU_CUTS``).
- Malformed rows, each counted in one warning per file that names the rows: end <= start ->
  skipped; start before the first frame -> clamped to it; end past the last frame -> clamped;
  start at or past the last frame -> skipped. A row that is not four integers, or a class id
  outside 1..51, is an error naming the file and row.
- Split files: line 1 ``Training videos:``, line 2 the ids separated by ``, ``, line 3 the
  test heading (spelt ``Validataion videos:`` in the release), line 4 the test ids.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..skeleton import NTU25
from .ntu import DataFormatError

PART1 = re.compile(r"(\d{4})-([LMR])")
PART2 = re.compile(r"A(\d{2})N(\d{2})-([LMR])")
VIEWS = {"L": 1, "M": 2, "R": 3}
NUM_CLASSES = 51
VALUES = 2 * NTU25.num_joints * 3


def parse_video(name: str) -> dict:
    """'0310-R' or 'A01N02-L' -> {video, view, camera, subject (0 when unknown)}."""
    stem = Path(name).name.split(".")[0]
    if m := PART1.fullmatch(stem):
        return {"video": stem, "view": m.group(2), "camera": VIEWS[m.group(2)], "subject": 0}
    if m := PART2.fullmatch(stem):
        return {"video": stem, "view": m.group(3), "camera": VIEWS[m.group(3)],
                "subject": int(m.group(2))}
    raise DataFormatError(name, "file name is neither a PKU-MMD Part I video (NNNN-V, e.g. "
                                "0310-R) nor a Part II one (AaaNnn-V, e.g. A01N02-L)")


def read_stream(path: Path) -> np.ndarray:
    """(frames, 2, 25, 3) float32 from a skeleton text file."""
    path = Path(path)
    lines = [ln for ln in path.read_text(errors="replace").splitlines()]
    try:
        values = np.array(" ".join(lines).split(), dtype=np.float64)
    except ValueError:
        values = None
    ok = (values is not None and values.size == len(lines) * VALUES and np.isfinite(values).all())
    if not ok:
        for i, text in enumerate(lines):
            fields = text.split()
            if len(fields) != VALUES:
                raise DataFormatError(path, f"{len(fields)} values, expected {VALUES} "
                                            "(2 persons x 25 joints x xyz)", i + 1)
            try:
                row = np.array(fields, dtype=np.float64)
            except ValueError:
                raise DataFormatError(path, "non-numeric value", i + 1) from None
            if not np.isfinite(row).all():
                raise DataFormatError(path, "NaN or infinite coordinate", i + 1)
    if not lines:
        raise DataFormatError(path, "empty skeleton file")
    return values.reshape(len(lines), 2, NTU25.num_joints, 3).astype(np.float32)


@dataclass
class Clip:
    row: int            # 1-based row in the label file
    action: int         # 1..51
    start: int          # first frame (0-based, inclusive)
    end: int            # 0-based, exclusive
    confidence: int


@dataclass
class LabelReport:
    path: Path
    clips: list[Clip] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    clamped: list[tuple[int, str]] = field(default_factory=list)

    def warning(self) -> str | None:
        if not (self.skipped or self.clamped):
            return None
        parts = [f"row {r} {why}" for r, why in self.skipped + self.clamped]
        return (f"{self.path}: {len(self.skipped)} row(s) skipped, {len(self.clamped)} clamped "
                f"({'; '.join(parts)})")


def read_labels(path: Path, n_frames: int | None = None, frame_base: int = 0) -> LabelReport:
    """Label rows -> clips with 0-based [start, end), applying the rules in the module doc.
    ``n_frames`` (the stream's length) enables the out-of-range rules."""
    if frame_base not in (0, 1):
        raise ValueError(f"frame_base must be 0 or 1, not {frame_base!r}")
    report = LabelReport(Path(path))
    for i, text in enumerate(Path(path).read_text().splitlines(), start=1):
        if not text.strip():
            continue
        try:
            action, start, end, confidence = (int(v) for v in text.split(","))
        except ValueError:
            raise DataFormatError(path, f"expected 'action,start,end,confidence' (4 integers), "
                                        f"found {text.strip()[:40]!r}", i) from None
        if not 1 <= action <= NUM_CLASSES:
            raise DataFormatError(path, f"class id {action} outside 1..{NUM_CLASSES}", i)
        first = start - frame_base
        if end <= start:
            report.skipped.append((i, f"end {end} <= start {start}"))
            continue
        if first < 0:
            report.clamped.append((i, f"start {start} before the first frame"))
            first = 0
        if n_frames is not None:
            if first >= n_frames:
                report.skipped.append((i, f"start {start} past the last frame ({n_frames})"))
                continue
            if end > n_frames:
                report.clamped.append((i, f"end {end} past the last frame ({n_frames})"))
                end = n_frames
        report.clips.append(Clip(i, action, first, end, confidence))
    return report


def read_split_file(path: Path) -> tuple[list[str], list[str]]:
    """The official 4-line split file -> (train video ids, test video ids)."""
    lines = Path(path).read_text().splitlines()
    if len(lines) < 4:
        raise DataFormatError(path, f"{len(lines)} lines; a PKU-MMD split file has 4 "
                                    "(heading, train ids, heading, test ids)")

    def ids(k: int) -> list[str]:
        out = [v.strip() for v in lines[k].split(",") if v.strip()]
        for v in out:
            parse_video(v)          # raises on an id that is not a PKU-MMD video name
        return out

    try:
        return ids(1), ids(3)
    except DataFormatError as e:
        raise DataFormatError(path, f"bad video id: {e}") from None
