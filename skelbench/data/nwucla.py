"""NW-UCLA (Northwestern-UCLA Multiview Action 3D) skeletons in CTR-GCN's ``all_sqe`` JSON release.

One file per clip, ``aAA_sSS_eEE_vVV.json`` (action, subject, episode, view), holding
``{"file_name": stem, "skeletons": [T][20][3], "label": 1-10}``: one body, the Kinect v1 SDK's
20 joints (``skeleton.KINECT_V1_20``) in camera-space metres. The ten actions present (a01-a06,
a08, a09, a11, a12) are labels 0-9 in that order; the file's own 1-based label must agree.

``to_ntu25`` places the 20 joints at their NTU RGB+D indices for encoders trained on NTU.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np

from ..skeleton import KINECT_V1_20, NTU25
from .ntu import DataFormatError

NAME = re.compile(r"a(\d{2})_s(\d{2})_e(\d{2})_v(\d{2})")
ACTIONS = (1, 2, 3, 4, 5, 6, 8, 9, 11, 12)


def parse_name(path) -> dict:
    """'a02_s09_e04_v03[.json]' -> action (1-based id), subject, episode, view."""
    stem = Path(path).name.split(".")[0]
    m = NAME.fullmatch(stem)
    if not m:
        raise DataFormatError(path, "file name does not follow NW-UCLA's aAA_sSS_eEE_vVV pattern "
                                    "(e.g. a01_s01_e00_v01.json)")
    action, subject, episode, view = (int(g) for g in m.groups())
    if action not in ACTIONS:
        raise DataFormatError(path, f"action a{action:02d} is not one of NW-UCLA's ten "
                                    f"({', '.join(f'a{a:02d}' for a in ACTIONS)})")
    return {"action": action, "subject": subject, "episode": episode, "view": view}


def _finite(c) -> bool:
    """A JSON number (not a bool) that float32 can hold."""
    try:
        return type(c) in (int, float) and math.isfinite(c) and abs(c) < 3.4e38
    except OverflowError:           # an integer literal too large for a float
        return False


def _reject_constant(token: str):
    raise ValueError(f"non-finite number {token}")


def read_clip(path) -> np.ndarray:
    """(T, 20, 3) float32 joints of one clip; ``DataFormatError`` naming the file otherwise."""
    path = Path(path)
    fields = parse_name(path)
    try:
        text = path.read_bytes().decode("utf-8")
        obj = json.loads(text, parse_constant=_reject_constant)
    except UnicodeDecodeError as e:
        raise DataFormatError(path, f"not UTF-8 text ({e.reason} at byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise DataFormatError(path, f"malformed JSON: {e.msg}", e.lineno) from None
    except (ValueError, RecursionError) as e:
        raise DataFormatError(path, f"malformed JSON: {e}") from None
    if not isinstance(obj, dict) or "skeletons" not in obj:
        raise DataFormatError(path, 'expected an object with "skeletons" ([frames][20][3]), '
                                    '"file_name" and "label"')
    stem = path.name.split(".")[0]
    if obj.get("file_name", stem) != stem:
        raise DataFormatError(path, f"file_name {obj.get('file_name')!r} does not match the file")
    label = obj.get("label", ACTIONS.index(fields["action"]) + 1)
    if type(label) is not int or label != ACTIONS.index(fields["action"]) + 1:
        raise DataFormatError(path, f"label {label!r} does not match action a{fields['action']:02d} "
                                    f"(label {ACTIONS.index(fields['action']) + 1})")
    frames = obj["skeletons"]
    if not isinstance(frames, list) or not frames:
        raise DataFormatError(path, '"skeletons" is empty or not a list: a clip needs at least '
                                    "one frame")
    joints = KINECT_V1_20.num_joints
    for t, frame in enumerate(frames):
        if not isinstance(frame, list) or len(frame) != joints:
            found = len(frame) if isinstance(frame, list) else type(frame).__name__
            raise DataFormatError(path, f"frame {t}: {found} joints; NW-UCLA skeletons have {joints}")
        for j, xyz in enumerate(frame):
            if not (isinstance(xyz, list) and len(xyz) == 3 and all(_finite(c) for c in xyz)):
                raise DataFormatError(path, f"frame {t}, joint {j}: {str(xyz)[:80]} is not three "
                                            "finite numbers")
    return np.asarray(frames, dtype=np.float32)


# Where NTU RGB+D's 25 joints come from in Kinect v1's 20: NTU's order agrees on 0, 1 and 3-19
# (its spine_shoulder, 20, is ShoulderCenter, 2); the neck, hand tips and thumbs have no source.
NTU_FROM_KINECT_V1 = {**{i: i for i in (0, 1, *range(3, 20))}, 20: 2}
DERIVED = {  # NTU joint: how it is made, documented in docs/datasets.md
    "neck": ("midpoint", "shoulder_center", "head"),
    "left_hand_tip": ("copy", "left_hand"), "left_thumb": ("copy", "left_hand"),
    "right_hand_tip": ("copy", "right_hand"), "right_thumb": ("copy", "right_hand"),
}
MAPPING = "kinect-v1-20 -> ntu25: 0, 1, 3-19 as is, ShoulderCenter -> spine_shoulder; neck " \
          "halfway between ShoulderCenter and Head; each hand tip and thumb at its hand"


def to_ntu25(x: np.ndarray) -> np.ndarray:
    """(T, 20, 3) Kinect v1 joints -> (T, 25, 3) in NTU's order (``MAPPING``)."""
    out = np.zeros(x.shape[:-2] + (NTU25.num_joints, x.shape[-1]), x.dtype)
    for ntu, kinect in NTU_FROM_KINECT_V1.items():
        out[..., ntu, :] = x[..., kinect, :]
    k = KINECT_V1_20.J
    for joint, (how, *sources) in DERIVED.items():
        src = [x[..., k[s], :] for s in sources]
        out[..., NTU25.index(joint), :] = (src[0] + src[1]) / 2 if how == "midpoint" else src[0]
    return out
