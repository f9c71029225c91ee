"""Skeleton layouts: joint order, graph, bones, body parts and flip as values in one registry.

A dataset card names its layout (``skeleton: kinect-v1-20``; ``ntu25`` when it names none), the
prepared data records it in ``info.json``, and every consumer reads the layout of the data it
is given: the backbone is built for it (``encoder.layout``), and the methods, augmentations,
streams, protocols and preprocessing take it from there. A new layout (a 2-D one such as COCO
17, with ``coords: 2``) is a new entry in ``LAYOUTS``, not a new code path.

Body parts are named by anatomy: NTU joints 4-7, 21, 22 (1-based 5-8, 22, 23) are the LEFT arm,
even where the original SSL repositories call it the right one.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from .errors import ConfigError

PART_NAMES = ("trunk", "left_arm", "right_arm", "left_leg", "right_leg")


@dataclass(frozen=True, eq=False)
class Layout:
    """One skeleton layout. ``edges`` are the graph's undirected bones (0-based); the graph is a
    tree, so each joint's bone parent is its neighbour towards ``center``."""
    name: str
    joints: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]
    center: str                          # graph centre, root of the bones, per-frame centring
    parts: tuple[tuple[str, tuple[int, ...]], ...]   # PART_NAMES, in that order
    length_joint: str                    # a frame is valid where body 0 has this joint non-zero
    shoulders: tuple[str, str]           # (left, right): the per-frame shoulder alignment
    bodies: int                          # body slots per clip
    coords: int = 3
    description: str = ""

    def __post_init__(self):
        problems = check(self)
        if problems:
            raise ValueError(f"layout {self.name}: " + "; ".join(problems))

    # A layout is a registry value: copies of a model share it, and it pickles by name. Its
    # derived tables (bone parents, flip, ...) are computed once (cached_property), as the
    # augmentations read them on every step.
    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        return get_layout, (self.name,)

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    def index(self, joint: str) -> int:
        return self.joints.index(joint)

    @cached_property
    def J(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.joints)}

    @cached_property
    def center_index(self) -> int:
        return self.index(self.center)

    @cached_property
    def body_parts(self) -> dict[str, tuple[int, ...]]:
        return dict(self.parts)

    @cached_property
    def bone_parent(self) -> tuple[int, ...]:
        """parent[v]: v's neighbour towards the centre; the centre is its own parent."""
        neighbours = {v: [] for v in range(self.num_joints)}
        for a, b in self.edges:
            neighbours[a].append(b)
            neighbours[b].append(a)
        parent = {self.center_index: self.center_index}
        frontier = [self.center_index]
        while frontier:
            nxt = []
            for v in frontier:
                for u in sorted(neighbours[v]):
                    if u not in parent:
                        parent[u] = v
                        nxt.append(u)
            frontier = nxt
        return tuple(parent[v] for v in range(self.num_joints))

    @cached_property
    def root_outward(self) -> tuple[int, ...]:
        """Joints ordered so that each comes after its bone parent (the centre first)."""
        parent, order = self.bone_parent, [self.center_index]
        seen = {self.center_index}
        while len(order) < self.num_joints:
            for v, p in enumerate(parent):
                if v not in seen and p in seen:
                    order.append(v)
                    seen.add(v)
        return tuple(order)

    @cached_property
    def flip(self) -> tuple[int, ...]:
        """The left/right swap: joint ``left_X`` takes ``right_X``'s index and back."""
        def twin(name: str) -> str:
            for a, b in (("left_", "right_"), ("right_", "left_")):
                if name.startswith(a):
                    return b + name[len(a):]
            return name
        return tuple(self.index(twin(name)) for name in self.joints)


def check(layout: Layout) -> list[str]:
    """What is inconsistent in a layout (empty when it is sound)."""
    v = len(layout.joints)
    out = []
    if len(set(layout.joints)) != v:
        out.append("joint names repeat")
    if any(not (0 <= a < v and 0 <= b < v) for a, b in layout.edges):
        out.append("an edge names a joint out of range")
    if len(layout.edges) != v - 1:
        out.append(f"{len(layout.edges)} edges for {v} joints: the graph must be a tree")
    for name in (layout.center, layout.length_joint, *layout.shoulders):
        if name not in layout.joints:
            out.append(f"no joint {name!r}")
    for name in layout.joints:
        for a, b in (("left_", "right_"), ("right_", "left_")):
            if name.startswith(a) and b + name[len(a):] not in layout.joints:
                out.append(f"{name} has no {b + name[len(a):]}")
    if tuple(p for p, _ in layout.parts) != PART_NAMES:
        out.append(f"body parts must be {', '.join(PART_NAMES)}, in that order")
    members = sorted(j for _, joints in layout.parts for j in joints)
    if members != list(range(v)):
        out.append("body parts must be disjoint and cover every joint")
    return out


# NTU RGB+D (Kinect v2), 25 joints, 0-based NTU order; two bodies.
NTU25 = Layout(
    name="ntu25",
    joints=("spine_base", "spine_mid", "neck", "head",
            "left_shoulder", "left_elbow", "left_wrist", "left_hand",
            "right_shoulder", "right_elbow", "right_wrist", "right_hand",
            "left_hip", "left_knee", "left_ankle", "left_foot",
            "right_hip", "right_knee", "right_ankle", "right_foot",
            "spine_shoulder", "left_hand_tip", "left_thumb", "right_hand_tip", "right_thumb"),
    # The 24 edges of ST-GCN's `ntu-rgb+d` graph (1-based there): hand tip -> thumb -> hand.
    edges=tuple((a - 1, b - 1) for a, b in (
        (1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9),
        (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18),
        (20, 19), (22, 23), (23, 8), (24, 25), (25, 12))),
    center="spine_shoulder",
    parts=(("trunk", (0, 1, 2, 3, 20)), ("left_arm", (4, 5, 6, 7, 21, 22)),
           ("right_arm", (8, 9, 10, 11, 23, 24)), ("left_leg", (12, 13, 14, 15)),
           ("right_leg", (16, 17, 18, 19))),
    length_joint="spine_base",
    shoulders=("left_shoulder", "right_shoulder"),
    bodies=2,
    description="NTU RGB+D / PKU-MMD (Kinect v2), 25 joints, 2 bodies",
)

# Kinect v1 SDK, 20 joints, 0-based (NW-UCLA; also MSR Action3D and UTKinect); one body. NTU's
# order agrees on 0, 1 and 3-19; ShoulderCenter (2) is NTU's spine_shoulder (20).
KINECT_V1_20 = Layout(
    name="kinect-v1-20",
    joints=("hip_center", "spine", "shoulder_center", "head",
            "left_shoulder", "left_elbow", "left_wrist", "left_hand",
            "right_shoulder", "right_elbow", "right_wrist", "right_hand",
            "left_hip", "left_knee", "left_ankle", "left_foot",
            "right_hip", "right_knee", "right_ankle", "right_foot"),
    # CTR-GCN's NW-UCLA graph (1-based there), 19 edges.
    edges=tuple((a - 1, b - 1) for a, b in (
        (1, 2), (2, 3), (4, 3), (5, 3), (6, 5), (7, 6), (8, 7), (9, 3), (10, 9), (11, 10),
        (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18), (20, 19))),
    center="shoulder_center",
    parts=(("trunk", (0, 1, 2, 3)), ("left_arm", (4, 5, 6, 7)), ("right_arm", (8, 9, 10, 11)),
           ("left_leg", (12, 13, 14, 15)), ("right_leg", (16, 17, 18, 19))),
    length_joint="hip_center",
    shoulders=("left_shoulder", "right_shoulder"),
    bodies=1,
    description="Kinect v1 SDK, 20 joints, 1 body (NW-UCLA, MSR Action3D, UTKinect)",
)

LAYOUTS = {layout.name: layout for layout in (NTU25, KINECT_V1_20)}
DEFAULT = "ntu25"      # a card or prepared data that names no layout


def get_layout(layout: str | Layout | None) -> Layout:
    """A layout by name (or itself); ``None`` is the default, ntu25."""
    if isinstance(layout, Layout):
        return layout
    name = DEFAULT if layout is None else layout
    if name not in LAYOUTS:
        from .registry import did_you_mean
        raise ConfigError(f"unknown skeleton layout {name!r}{did_you_mean(name, LAYOUTS)} "
                          f"(layouts: {', '.join(LAYOUTS)})")
    return LAYOUTS[name]


def require_same(expected: str | Layout, found: str | Layout | None, what: str) -> None:
    """Refuse ``what`` (a checkpoint, a parent, a transfer source) of another layout."""
    expected, found = get_layout(expected), get_layout(found)
    if expected.name != found.name:
        raise ConfigError(f"{what} is for the {found.name} skeleton layout ({found.num_joints} "
                          f"joints) but the data is {expected.name} ({expected.num_joints} "
                          "joints): an encoder works on the layout it was trained on")
