"""NTU RGB+D 60/120 raw ``.skeleton`` files: names, the text format, body selection.

Format (official reader ``read_skeleton_file.m``): line 1 the frame count F; per frame a body
count B (0 and more than 2 both occur), then per body a 10-field info line (tracking id first),
the joint count (25) and 25 joint lines of 12 values, of which x y z (metres, camera space)
are used. Lines may end in CRLF or LF. The reader walks the counts with a cursor and parses all
joint lines of a file in one numpy call; every malformation raises ``DataFormatError`` naming
the file and the 1-based line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..skeleton import NTU25

NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")
FIELDS = ("setup", "camera", "subject", "replication", "action")
MAX_BODIES = 4   # slots read per frame (2s-AGCN reads 4 and keeps 2 by motion energy)
JOINT_VALUES = 12


class DataFormatError(ValueError):
    """A data file that cannot be read as its format says; names the file and line."""

    def __init__(self, path, message: str, line: int | None = None):
        where = f"{path}" + (f", line {line}" if line is not None else "")
        super().__init__(f"{where}: {message}")
        self.path, self.message, self.line = path, message, line

    def __reduce__(self):   # rebuilt from its parts when it crosses a worker-process boundary
        return self.__class__, (self.path, self.message, self.line)


class EmptySample(DataFormatError):
    """A well-formed file with no skeleton in any frame (NTU has such samples)."""


def parse_name(name: str) -> dict:
    """'S001C002P003R001A013[.skeleton]' -> setup, camera, subject, replication, action (1-based)."""
    stem = Path(name).name.split(".")[0]
    match = NAME.fullmatch(stem)
    if match is None:
        raise DataFormatError(name, "file name does not follow NTU's SsssCcccPpppRrrrAaaa "
                                    "pattern (e.g. S001C001P001R001A001.skeleton)")
    return dict(zip(FIELDS, map(int, match.groups())))


def read_missing_list(path: Path) -> set[str]:
    """The official list of samples with missing skeletons: prose lines, then one name per line.
    Lines that are not sample names (the prose header, blanks) are ignored."""
    names = set()
    for line in Path(path).read_text().splitlines():
        stem = line.strip().split(".")[0]
        if NAME.fullmatch(stem):
            names.add(stem)
    return names


@dataclass
class RawSkeleton:
    """One file: ``joints`` (F, MAX_BODIES, 25, 3) float32, zero where a slot is empty, and the
    number of bodies listed in each frame (more than MAX_BODIES are counted, not kept)."""
    joints: np.ndarray
    bodies_per_frame: np.ndarray


def read_skeleton(path: Path) -> RawSkeleton:
    path = Path(path)
    lines = path.read_bytes().decode("ascii", errors="replace").splitlines()

    def integer(i: int, what: str) -> int:
        if i >= len(lines):
            raise DataFormatError(path, f"file ends before {what} (truncated?)", i + 1)
        try:
            return int(lines[i].split()[0])
        except (ValueError, IndexError):
            raise DataFormatError(path, f"expected {what}, found {lines[i][:40]!r}", i + 1) from None

    frames = integer(0, "the frame count")
    if frames < 0:
        raise DataFormatError(path, f"negative frame count {frames}", 1)
    counts = np.zeros(frames, np.int64)
    starts, slots = [], []           # first joint line of each kept body, and its (frame, slot)
    i = 1
    for f in range(frames):
        counts[f] = b = integer(i, f"the body count of frame {f + 1}")
        i += 1
        for m in range(b):
            if i + 1 >= len(lines):
                raise DataFormatError(path, f"file ends inside frame {f + 1} of {frames} "
                                            "(truncated?)", len(lines))
            n_joints = integer(i + 1, "the joint count")
            if n_joints != NTU25.num_joints:
                raise DataFormatError(path, f"{n_joints} joints; NTU skeletons have "
                                            f"{NTU25.num_joints}", i + 2)
            if i + 2 + n_joints > len(lines):
                raise DataFormatError(path, f"file ends inside frame {f + 1} of {frames} "
                                            "(truncated?)", len(lines))
            if m < MAX_BODIES:
                starts.append(i + 2)
                slots.append((f, m))
            i += 2 + n_joints
    joints = np.zeros((frames, MAX_BODIES, NTU25.num_joints, 3), np.float32)
    if starts:
        block = [lines[s + j] for s in starts for j in range(NTU25.num_joints)]
        values = _parse_floats(path, block, starts)
        f, m = np.array(slots).T
        joints[f, m] = values.reshape(len(starts), NTU25.num_joints, JOINT_VALUES)[..., :3]
    if not joints.any():
        raise EmptySample(path, f"no skeleton in any of its {frames} frames")
    return RawSkeleton(joints, counts)


def _parse_floats(path: Path, block: list[str], starts: list[int]) -> np.ndarray:
    """All joint lines at once; on any problem, find and name the first bad line."""
    try:
        values = np.array(" ".join(block).split(), dtype=np.float64)
    except ValueError:
        values = None
    if values is not None and values.size == len(block) * JOINT_VALUES and np.isfinite(values).all():
        return values
    for k, text in enumerate(block):
        line = starts[k // NTU25.num_joints] + k % NTU25.num_joints + 1
        fields = text.split()
        if len(fields) != JOINT_VALUES:
            raise DataFormatError(path, f"joint line has {len(fields)} values, expected "
                                        f"{JOINT_VALUES}", line)
        try:
            row = np.array(fields, dtype=np.float64)
        except ValueError:
            raise DataFormatError(path, f"non-numeric value in {text.strip()[:60]!r}", line) from None
        if not np.isfinite(row).all():
            raise DataFormatError(path, "NaN or infinite coordinate", line)
    raise AssertionError("unreachable")


def select_bodies(raw: RawSkeleton | np.ndarray, rule: str = "order") -> np.ndarray:
    """(F, 2, 25, 3): the two bodies kept from a file or a (F, slots, 25, 3) array.

    ``order``: the first two bodies listed in each frame (ST-GCN, CrosSCLR, AimCLR).
    ``energy``: of the first four slots, the two with the largest motion energy, sum over
    x, y, z of the std over the slot's non-zero frames, largest first (2s-AGCN, MS-G3D).
    """
    joints = raw.joints if isinstance(raw, RawSkeleton) else raw
    if rule == "order":
        return joints[:, :2]
    if rule != "energy":
        raise ValueError(f"unknown body selection {rule!r} (order, energy)")
    energy = np.zeros(joints.shape[1])
    for m in range(joints.shape[1]):
        present = joints[:, m].any(axis=(1, 2))
        if present.any():
            energy[m] = joints[present, m].reshape(-1, 3).std(axis=0).sum()
    keep = np.argsort(-energy, kind="stable")[:2]
    return joints[:, keep]
