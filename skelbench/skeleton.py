"""NTU RGB+D 25-joint skeleton constants (0-based), the only place they are defined.

Joint order is Kinect v2 / NTU. Body parts are named by NTU semantics: joints 4-7, 21, 22
(1-based 5-8, 22, 23) are the LEFT arm, even where the original SSL repositories call it the
right one.
"""
from __future__ import annotations

NUM_JOINTS = 25
NUM_COORDS = 3
MAX_PERSONS = 2

JOINT_NAMES = (
    "spine_base", "spine_mid", "neck", "head",
    "left_shoulder", "left_elbow", "left_wrist", "left_hand",
    "right_shoulder", "right_elbow", "right_wrist", "right_hand",
    "left_hip", "left_knee", "left_ankle", "left_foot",
    "right_hip", "right_knee", "right_ankle", "right_foot",
    "spine_shoulder", "left_hand_tip", "left_thumb", "right_hand_tip", "right_thumb",
)
J = {name: i for i, name in enumerate(JOINT_NAMES)}

# Centre of the spatial partition and of the per-frame centring (1-based 21).
CENTER = J["spine_shoulder"]

# 24 undirected edges of the ST-GCN `ntu-rgb+d` layout (1-based list in the reference, here
# 0-based). Hand tip -> thumb -> hand, as ST-GCN has it.
_EDGES_1BASED = (
    (1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9),
    (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18),
    (20, 19), (22, 23), (23, 8), (24, 25), (25, 12),
)
EDGES = tuple((a - 1, b - 1) for a, b in _EDGES_1BASED)

# Bone stream: bone[child] = x[child] - x[parent]; the centre is its own parent (zero bone).
_BONES_1BASED = _EDGES_1BASED[:20] + ((21, 21),) + _EDGES_1BASED[20:]
BONE_PAIRS = tuple((a - 1, b - 1) for a, b in _BONES_1BASED)
BONE_PARENT = tuple(parent for _, parent in sorted(BONE_PAIRS))

# The five body parts (disjoint, covering all 25 joints).
BODY_PARTS = {
    "trunk": (0, 1, 2, 3, 20),
    "left_arm": (4, 5, 6, 7, 21, 22),
    "right_arm": (8, 9, 10, 11, 23, 24),
    "left_leg": (12, 13, 14, 15),
    "right_leg": (16, 17, 18, 19),
}

# Left/right swap used by the spatial flip: a pure index permutation.
FLIP_PERM = tuple(
    list(range(4)) + list(range(8, 12)) + list(range(4, 8)) + list(range(16, 20))
    + list(range(12, 16)) + [20, 23, 24, 21, 22]
)
