"""`synth`: a procedurally generated skeleton action set in the NTU layout (N, 3, T, 25, 2).

Every sample is a kinematic skeleton with its subject's bone lengths, driven by a pose
trajectory: 21 channels (root translation, jump, yaw, trunk bow/lean, head pitch, and the
elevation/azimuth of each upper arm and forearm, the flexion/abduction/knee of each leg).
A class is a script of motion primitives on some channels; everything the script does not
drive is left to nuisance.

How it is made hard, so that a randomly initialised ST-GCN with a linear head lands below a
supervised one (on the card's CPU schedule, three seeds: random-init 43 ± 14 %, supervised
53 ± 4 % linear top-1 on synth-xsub; docs/datasets.md):
- confusable pairs share most of their motion and differ in a detail (wipe face / headache /
  drink: hand to head, then circling vs holding with a head tilt vs lower and a tilt back;
  punch / reach; wave / raise arm; kick / step; handshake / point at the other person);
- viewpoint: three cameras at -45, 0 and +45 degrees yaw (as NTU's), a camera pitch per setup,
  the subject's facing varied by +-20 degrees;
- subject size (height 1.5-1.9 m) and proportions (each segment +-8 %);
- tempo, amplitude, onset and duration: raw lengths of 40-110 frames (resampled to the card's
  frame count by the preprocessing), the action occupying a random part of the clip;
- distractors: smooth random motion on every channel the script leaves free, and in 40 % of
  samples a low-amplitude copy of another class's script on channels this class does not use;
- sensor noise (1.5 cm), glitches (a joint jumping for a few frames), and occlusion (one limb
  frozen at a jittered position for a span, as Kinect's inferred joints behave).

The generator writes raw clips in Kinect's camera space (metres, the scene 2.5-3.5 m in front
of the sensor, zero after each clip's length) and passes them through the papers' preprocessing
(``skelbench.data.preprocess``: centring on the spine shoulder, resize to the card's frames,
shoulder alignment), as NTU's clips are: the nuisance left is what remains after it. No class
is the mirror image of another (NTU has none; AimCLR's and ActCLR's flip would make such a pair
one class). Everything is deterministic from the seed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..skeleton import NTU25
from . import preprocess

J = NTU25.J
VERSION = 2  # bump when the generator changes what it produces
# Pose channels.
CH = {name: i for i, name in enumerate((
    "root_x", "root_z", "jump", "yaw", "bow", "lean", "head",
    "la_e", "la_a", "lf_e", "lf_a", "ra_e", "ra_a", "rf_e", "rf_a",
    "ll_f", "ll_b", "ll_k", "rl_f", "rl_b", "rl_k"))}
NUM_CH = len(CH)
REST = np.zeros(NUM_CH)
REST[[CH["la_e"], CH["ra_e"]]] = 8.0
REST[[CH["la_a"], CH["ra_a"]]] = 80.0
REST[[CH["lf_e"], CH["rf_e"]]] = 15.0
REST[[CH["lf_a"], CH["rf_a"]]] = 40.0
REST[[CH["ll_b"], CH["rl_b"]]] = 4.0


# --- motion primitives over the action phase s in [0, 1] (arrays (n, T)) ----------------------
def bump(s, rise=(0.15, 0.35), fall=(0.65, 0.85)):
    """0 -> 1 -> 0 with raised-cosine edges."""
    up = np.clip((s - rise[0]) / (rise[1] - rise[0]), 0, 1)
    down = np.clip((fall[1] - s) / (fall[1] - fall[0]), 0, 1)
    return 0.5 - 0.5 * np.cos(np.pi * np.minimum(up, down))


def ramp(s, a=0.2, b=0.8):
    return 0.5 - 0.5 * np.cos(np.pi * np.clip((s - a) / (b - a), 0, 1))


def pulse(s, centre=0.5, width=0.12):
    return bump(s, (centre - width, centre), (centre, centre + width))


def osc(s, p, cycles):
    return np.sin(2 * np.pi * cycles * p["tempo"] * s + p["phase"])


@dataclass(frozen=True)
class ActionClass:
    name: str
    script: object          # (s, p) -> {channel: (n, T) delta}, or (p0 dict, p1 dict) if two persons
    two_person: bool = False


def _hand_to_head(side, s, p, elev=55.0, fore=150.0):
    e, a, fe, fa = (f"{side}a_e", f"{side}a_a", f"{side}f_e", f"{side}f_a")
    b = bump(s)
    return {e: (elev - REST[CH[e]]) * b, a: -80.0 * b, fe: (fore - REST[CH[fe]]) * b, fa: -40.0 * b}


def _wipe_face(s, p):
    d = _hand_to_head("r", s, p)
    b = bump(s, (0.2, 0.35), (0.65, 0.8)) * p["amp"]
    d["rf_a"] = d["rf_a"] + 35 * b * osc(s, p, 3)
    d["rf_e"] = d["rf_e"] + 15 * b * np.cos(2 * np.pi * 3 * p["tempo"] * s + p["phase"])
    return d


def _headache(s, p):
    d = _hand_to_head("r", s, p, elev=60.0, fore=160.0)
    d["head"] = 18 * bump(s) * p["amp"]
    d["lean"] = 6 * bump(s) * p["amp"]
    return d


def _drink(s, p):
    d = _hand_to_head("r", s, p, elev=45.0, fore=135.0)
    d["head"] = -20 * bump(s, (0.35, 0.5), (0.6, 0.75)) * p["amp"]
    return d


def _raise(side):
    def f(s, p):
        return {f"{side}a_e": (165 - 8) * bump(s) * p["amp"], f"{side}a_a": -30 * bump(s),
                f"{side}f_e": 150 * bump(s) * p["amp"]}
    return f


def _wave(side):
    def f(s, p):
        b = bump(s)
        return {f"{side}a_e": 92 * b, f"{side}a_a": 10 * b, f"{side}f_e": 145 * b,
                f"{side}f_a": 45 * b * osc(s, p, 3) * p["amp"]}
    return f


def _punch(side):
    def f(s, p):
        b = pulse(s, 0.5, 0.1)
        return {f"{side}a_e": 82 * b, f"{side}a_a": -85 * b, f"{side}f_e": 75 * b,
                f"{side}f_a": -40 * b, "yaw": (12 if side == "r" else -12) * b * p["amp"]}
    return f


def _reach(side):
    # Like a punch, but slow and held: differs in tempo and hold, not in the pose reached.
    def f(s, p):
        b = bump(s, (0.15, 0.45), (0.6, 0.85))
        return {f"{side}a_e": 82 * b, f"{side}a_a": -85 * b, f"{side}f_e": 70 * b,
                f"{side}f_a": -40 * b, "bow": 15 * b * p["amp"]}
    return f


def _kick(side):
    def f(s, p):
        b = pulse(s, 0.5, 0.12)
        prep = pulse(s, 0.4, 0.1)
        return {f"{side}l_f": 75 * b * p["amp"], f"{side}l_k": 70 * prep, "lean": 5 * b}
    return f


def _step(s, p):
    lift = pulse(s, 0.35, 0.12)
    return {"root_z": 0.45 * ramp(s, 0.3, 0.6) * p["amp"], "rl_f": 35 * lift, "rl_k": 50 * lift,
            "ll_f": 20 * pulse(s, 0.6, 0.1), "ll_k": 40 * pulse(s, 0.6, 0.1)}


def _squat(s, p):
    b = bump(s) * p["amp"]
    return {"ll_f": 85 * b, "rl_f": 85 * b, "ll_k": 120 * b, "rl_k": 120 * b, "bow": 25 * b,
            "la_e": 70 * b, "ra_e": 70 * b, "la_a": -75 * b, "ra_a": -75 * b}


def _bow(s, p):
    b = bump(s) * p["amp"]
    return {"bow": 65 * b, "head": 20 * b}


def _jump(s, p):
    crouch = pulse(s, 0.35, 0.1) + pulse(s, 0.68, 0.08)
    return {"jump": 0.3 * pulse(s, 0.5, 0.1) * p["amp"], "ll_k": 60 * crouch, "rl_k": 60 * crouch,
            "ll_f": 35 * crouch, "rl_f": 35 * crouch, "la_e": 60 * pulse(s, 0.5, 0.12),
            "ra_e": 60 * pulse(s, 0.5, 0.12)}


def _clap(s, p):
    b = bump(s)
    o = 0.5 + 0.5 * osc(s, p, 3)
    return {"la_e": 62 * b, "ra_e": 62 * b, "la_a": -60 * b, "ra_a": -60 * b, "lf_e": 70 * b,
            "rf_e": 70 * b, "lf_a": -(40 + 55 * o * p["amp"]) * b,
            "rf_a": -(40 + 55 * o * p["amp"]) * b}


def _turn(s, p):
    return {"yaw": 150 * ramp(s) * p["amp"], "rl_f": 15 * pulse(s, 0.4), "ll_f": 15 * pulse(s, 0.6)}


def _cheer(s, p):
    b = bump(s)
    o = osc(s, p, 2)
    return {"la_e": 160 * b, "ra_e": 160 * b, "lf_e": 160 * b, "rf_e": 160 * b,
            "la_a": (-20 + 15 * o * p["amp"]) * b, "ra_a": (-20 + 15 * o * p["amp"]) * b}


def _nod(s, p):
    return {"head": 20 * bump(s) * osc(s, p, 2.5) * p["amp"]}


def _hands_on_hips(s, p):
    b = bump(s)
    return {"la_e": 35 * b, "ra_e": 35 * b, "la_a": 60 * b, "ra_a": 60 * b, "lf_e": 55 * b,
            "rf_e": 55 * b, "lf_a": 150 * b, "rf_a": 150 * b, "lean": 8 * b * osc(s, p, 1)}


def _point(s, p):
    b = bump(s, (0.2, 0.35), (0.7, 0.85))
    return {"ra_e": 88 * b, "ra_a": -70 * b, "rf_e": 80 * b, "rf_a": -70 * b}


def _handshake(s, p):
    b = bump(s, (0.15, 0.35), (0.7, 0.85))
    shake = 6 * b * osc(s, p, 3) * p["amp"]
    d = {"ra_e": 38 * b + shake, "ra_a": -85 * b, "rf_e": 70 * b + shake, "rf_a": -45 * b}
    return d, dict(d)


def _point_at_other(s, p):
    b = bump(s, (0.15, 0.35), (0.7, 0.85))
    d0 = {"ra_e": 80 * b, "ra_a": -82 * b, "rf_e": 82 * b, "rf_a": -80 * b}
    return d0, {"head": 10 * b}


def _push(s, p):
    b = pulse(s, 0.45, 0.12)
    d0 = {"la_e": 78 * b, "ra_e": 78 * b, "la_a": -80 * b, "ra_a": -80 * b, "lf_e": 80 * b,
          "rf_e": 80 * b, "bow": 15 * b}
    back = ramp(s, 0.45, 0.65) * p["amp"]
    return d0, {"root_z": -0.35 * back, "bow": -10 * pulse(s, 0.5), "ll_f": -20 * pulse(s, 0.55)}


def _hug(s, p):
    b = bump(s)
    d = {"la_e": 75 * b, "ra_e": 75 * b, "la_a": -20 * b, "ra_a": -20 * b, "lf_e": 80 * b,
         "rf_e": 80 * b, "lf_a": -100 * b, "rf_a": -100 * b, "root_z": 0.25 * b * p["amp"]}
    return d, dict(d)


CLASSES = (
    ActionClass("wipe face", _wipe_face),
    ActionClass("headache", _headache),
    ActionClass("drink water", _drink),
    ActionClass("raise right arm", _raise("r")),
    ActionClass("wave right hand", _wave("r")),
    ActionClass("punch right", _punch("r")),
    ActionClass("reach forward", _reach("r")),
    ActionClass("kick right", _kick("r")),
    ActionClass("step forward", _step),
    ActionClass("squat", _squat),
    ActionClass("bow", _bow),
    ActionClass("jump", _jump),
    ActionClass("clap", _clap),
    ActionClass("turn around", _turn),
    ActionClass("cheer up", _cheer),
    ActionClass("nod head", _nod),
    ActionClass("hands on hips", _hands_on_hips),
    ActionClass("point to the right", _point),
    ActionClass("handshake", _handshake, two_person=True),
    ActionClass("point at the other person", _point_at_other, two_person=True),
    ActionClass("push", _push, two_person=True),
    ActionClass("hug", _hug, two_person=True),
)
CLASS_NAMES = tuple(c.name for c in CLASSES)


# --- kinematics --------------------------------------------------------------------------------
def _sph(elev, azim, side):
    """Unit limb direction: elev 0 hangs down, 90 horizontal, 180 up; azim 0 forward, 90 outward."""
    e, a = np.radians(elev), np.radians(azim)
    return np.stack([side * np.sin(e) * np.sin(a), -np.cos(e), np.sin(e) * np.cos(a)], axis=-1)


def _leg(flex, abd, knee, side):
    f, b, k = np.radians(flex), np.radians(abd), np.radians(knee)
    thigh = np.stack([side * np.sin(b), -np.cos(f) * np.cos(b), np.sin(f) * np.cos(b)], axis=-1)
    shin = np.stack([side * np.sin(b), -np.cos(f - k) * np.cos(b), np.sin(f - k) * np.cos(b)], -1)
    return thigh, shin


def _rot_x(deg):  # pitch forward about the lateral axis (positive bends +y towards +z)
    r = np.radians(deg)
    c, s, z, o = np.cos(r), np.sin(r), np.zeros_like(r), np.ones_like(r)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, s], -1), np.stack([z, -s, c], -1)], -2)


def _rot_y(deg):
    r = np.radians(deg)
    c, s, z, o = np.cos(r), np.sin(r), np.zeros_like(r), np.ones_like(r)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def _rot_z(deg):
    r = np.radians(deg)
    c, s, z, o = np.cos(r), np.sin(r), np.zeros_like(r), np.ones_like(r)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def forward_kinematics(pose: np.ndarray, body: dict) -> np.ndarray:
    """pose (n, T, NUM_CH) -> joints (n, T, 25, 3) in the body frame (+x left, +y up, +z forward).

    ``body`` holds per-sample segment lengths, each an array of n values.
    """
    ch = {k: pose[..., i] for k, i in CH.items()}
    n, t = pose.shape[:2]
    out = np.zeros((n, t, NTU25.num_joints, 3))
    up = np.array([0.0, 1.0, 0.0])
    lateral = np.array([1.0, 0.0, 0.0])
    trunk_rot = _rot_x(ch["bow"]) @ _rot_z(ch["lean"])                     # (n, T, 3, 3)
    trunk_up = trunk_rot @ up
    trunk_lat = trunk_rot @ lateral
    head_dir = (trunk_rot @ _rot_x(ch["head"])) @ up
    L = {k: np.asarray(v).reshape(-1, 1, 1) for k, v in body.items()}
    out[:, :, J["spine_base"]] = 0.0
    out[:, :, J["spine_mid"]] = trunk_up * L["spine"]
    out[:, :, J["spine_shoulder"]] = trunk_up * (2 * L["spine"])
    out[:, :, J["neck"]] = out[:, :, J["spine_shoulder"]] + trunk_up * L["neck"]
    out[:, :, J["head"]] = out[:, :, J["neck"]] + head_dir * L["head"]
    for side, sgn in (("left", 1.0), ("right", -1.0)):
        p = side[0]
        sh = out[:, :, J["spine_shoulder"]] + sgn * trunk_lat * L["shoulder"]
        upper = np.einsum("ntij,ntj->nti", trunk_rot, _sph(ch[f"{p}a_e"], ch[f"{p}a_a"], sgn))
        fore = np.einsum("ntij,ntj->nti", trunk_rot, _sph(ch[f"{p}f_e"], ch[f"{p}f_a"], sgn))
        elbow = sh + upper * L["upper_arm"]
        wrist = elbow + fore * L["forearm"]
        hand = wrist + fore * L["hand"]
        out[:, :, J[f"{side}_shoulder"]] = sh
        out[:, :, J[f"{side}_elbow"]] = elbow
        out[:, :, J[f"{side}_wrist"]] = wrist
        out[:, :, J[f"{side}_hand"]] = hand
        out[:, :, J[f"{side}_hand_tip"]] = hand + fore * L["hand"]
        thumb_dir = np.cross(fore, trunk_up) * sgn
        out[:, :, J[f"{side}_thumb"]] = hand + 0.6 * L["hand"] * (0.5 * fore + thumb_dir)
        hip = sgn * lateral * L["hip"] + np.zeros_like(sh)
        thigh, shin = _leg(ch[f"{p}l_f"], ch[f"{p}l_b"], ch[f"{p}l_k"], sgn)
        knee = hip + thigh * L["thigh"]
        ankle = knee + shin * L["shin"]
        out[:, :, J[f"{side}_hip"]] = hip
        out[:, :, J[f"{side}_knee"]] = knee
        out[:, :, J[f"{side}_ankle"]] = ankle
        out[:, :, J[f"{side}_foot"]] = ankle + np.array([0.0, -0.03, 1.0]) * L["foot"]
    # Stand on the ground (the lowest foot), then jump, turn and translate.
    feet = out[:, :, [J["left_foot"], J["right_foot"]], 1].min(axis=2)
    out[..., 1] -= feet[..., None]
    out[..., 1] += ch["jump"][..., None]
    out = np.einsum("ntij,ntvj->ntvi", _rot_y(ch["yaw"]), out)
    out[..., 0] += ch["root_x"][..., None]
    out[..., 2] += ch["root_z"][..., None]
    return out


def _subjects(rng: np.random.Generator, n_subjects: int) -> dict:
    height = rng.uniform(1.5, 1.9, n_subjects)
    base = {"spine": 0.155, "neck": 0.06, "head": 0.11, "shoulder": 0.18, "upper_arm": 0.17,
            "forearm": 0.155, "hand": 0.045, "hip": 0.055, "thigh": 0.245, "shin": 0.245,
            "foot": 0.06}
    return {k: v * height * rng.uniform(0.92, 1.08, n_subjects) for k, v in base.items()}


def _smooth_noise(rng, n, t, n_ch, amp, cycles=(0.3, 1.5), terms=3):
    """Sum of random low-frequency sinusoids per sample and channel: (n, t, n_ch)."""
    s = np.linspace(0, 1, t)[None, :, None, None]
    f = rng.uniform(*cycles, (n, 1, n_ch, terms))
    ph = rng.uniform(0, 2 * np.pi, (n, 1, n_ch, terms))
    a = rng.uniform(0, 1, (n, 1, n_ch, terms))
    return amp * (a * np.sin(2 * np.pi * f * s + ph)).sum(-1) / terms


@dataclass(frozen=True)
class SynthConfig:
    frames: int = 50
    n_subjects: int = 20
    n_replications: int = 2
    cameras: tuple = (-45.0, 0.0, 45.0)
    raw_length: tuple = (40, 110)
    onset: tuple = (0.0, 0.2)       # where the action starts and ends, as fractions of the clip
    offset: tuple = (0.8, 1.0)
    style: float = 0.0              # per-subject posture offsets on every joint angle (degrees)
    noise: float = 0.015
    distractor_amp: float = 22.0
    distractor_prob: float = 0.4
    glitch_prob: float = 0.3
    occlusion_prob: float = 0.3
    classes: tuple | None = None    # class names; None: all of CLASS_NAMES
    seed: int = 0


def class_set(names) -> tuple:
    """The ActionClass entries named (all of them for None), in the given order."""
    if names is None:
        return CLASSES
    by_name = {c.name: c for c in CLASSES}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ValueError(f"unknown synth class {unknown[0]!r}; known: {', '.join(CLASS_NAMES)}")
    return tuple(by_name[n] for n in names)


def generate(cfg: SynthConfig) -> tuple[np.ndarray, dict]:
    """Return data (N, 3, frames, 25, 2) float32 and metadata columns (numpy arrays)."""
    rng = np.random.default_rng(cfg.seed)
    classes = class_set(cfg.classes)
    n_cls, n_cam = len(classes), len(cfg.cameras)
    grid = np.stack(np.meshgrid(np.arange(n_cls), np.arange(cfg.n_subjects), np.arange(n_cam),
                                np.arange(cfg.n_replications), indexing="ij"), -1).reshape(-1, 4)
    label, subject, camera, rep = grid.T
    n = len(grid)
    lengths = rng.integers(cfg.raw_length[0], cfg.raw_length[1] + 1, n)
    t_raw = int(lengths.max())
    bodies = _subjects(rng, cfg.n_subjects)
    partner = rng.integers(0, cfg.n_subjects, n)   # the second person of two-person classes

    # Action phase: the action occupies [onset, offset] of the clip.
    onset = rng.uniform(*cfg.onset, (n, 1))
    offset = rng.uniform(*cfg.offset, (n, 1))
    clock = np.arange(t_raw)[None, :] / (lengths[:, None] - 1)
    s = np.clip((clock - onset) / (offset - onset), 0, 1)
    params = {"amp": rng.uniform(0.75, 1.15, (n, 1)), "tempo": rng.uniform(0.75, 1.3, (n, 1)),
              "phase": rng.uniform(0, 2 * np.pi, (n, 1))}

    pose = np.broadcast_to(REST, (2, n, t_raw, NUM_CH)).copy()
    used = np.zeros((2, n, NUM_CH), bool)
    for c, action in enumerate(classes):
        idx = np.flatnonzero(label == c)
        p = {k: v[idx] for k, v in params.items()}
        deltas = action.script(s[idx], p)
        for person, d in enumerate(deltas if action.two_person else (deltas,)):
            for name, value in d.items():
                pose[person, idx, :, CH[name]] += value
                used[person, idx, CH[name]] = True
    # Distractors: another class's script at low amplitude on channels this class leaves free.
    other = (label + rng.integers(1, n_cls, n)) % n_cls
    mix = rng.uniform(0.25, 0.5, (n, 1)) * (rng.random((n, 1)) < cfg.distractor_prob)
    for c, action in enumerate(classes):
        idx = np.flatnonzero((other == c) & (mix[:, 0] > 0))
        if len(idx) == 0:
            continue
        shifted = np.clip(s[idx] + rng.uniform(-0.3, 0.3, (len(idx), 1)), 0, 1)
        d = action.script(shifted, {k: v[idx] for k, v in params.items()})
        d = d[0] if action.two_person else d
        for name, value in d.items():
            free = ~used[0, idx, CH[name]]
            pose[0, idx, :, CH[name]] += value * mix[idx] * free[:, None]
    angle_ch = np.array([i for k, i in CH.items() if k not in ("root_x", "root_z", "jump")])
    # How each person habitually stands and moves: a fixed offset per subject on every angle.
    style = rng.normal(0, cfg.style, (cfg.n_subjects, len(angle_ch)))
    for person, who in ((0, subject), (1, partner)):
        pose[person][:, :, angle_ch] += style[who][:, None, :]
    for person in range(2):
        wander = _smooth_noise(rng, n, t_raw, len(angle_ch), cfg.distractor_amp)
        wander *= np.where(used[person][:, angle_ch], 0.25, 1.0)[:, None, :]
        pose[person, :, :, angle_ch] += np.moveaxis(wander, -1, 0)
        pose[person, :, :, CH["root_x"]] += _smooth_noise(rng, n, t_raw, 1, 0.05)[..., 0]
        pose[person, :, :, CH["root_z"]] += _smooth_noise(rng, n, t_raw, 1, 0.05)[..., 0]

    two = np.array([classes[c].two_person for c in label])
    joints = np.zeros((2, n, t_raw, NTU25.num_joints, 3))
    for person in range(2):
        who = subject if person == 0 else partner
        body = {k: v[who] for k, v in bodies.items()}
        sel = np.arange(n) if person == 0 else np.flatnonzero(two)
        joints[person, sel] = forward_kinematics(pose[person, sel],
                                                 {k: v[sel] for k, v in body.items()})
    # Place the pair facing each other, then the whole scene in front of the camera.
    dist = rng.uniform(0.9, 1.3, n)
    facing = rng.uniform(-20, 20, n)
    p1 = np.einsum("nij,ntvj->ntvi", _rot_y(np.full(n, 180.0)), joints[1])
    p1[..., 2] += dist[:, None, None]
    joints[1] = np.where(two[:, None, None, None], p1, 0.0)
    scene_yaw = facing + np.asarray(cfg.cameras)[camera] + 180.0   # subjects face the camera
    pitch = rng.uniform(0, 15, n_cam)[camera] + rng.uniform(-3, 3, n)   # camera height/tilt
    rot = _rot_x(pitch) @ _rot_y(scene_yaw)
    present = np.stack([np.ones(n, bool), two])[:, :, None, None, None]   # (person, n, ...)
    joints = np.einsum("nij,pntvj->pntvi", rot, joints)
    # Kinect's camera space: the scene 2.5-3.5 m in front of the sensor, which stands about
    # 0.6-1.0 m above the floor, off-centre by up to half a metre.
    place = np.stack([rng.uniform(-0.5, 0.5, n), -rng.uniform(0.6, 1.0, n),
                      rng.uniform(2.5, 3.5, n)], -1)
    joints = (joints + place[None, :, None, None, :]) * present

    # Sensor artefacts, per raw frame.
    joints += rng.normal(0, cfg.noise, joints.shape) * present
    _glitch(rng, joints[0], lengths, cfg.glitch_prob)
    _occlude(rng, joints[0], lengths, cfg.occlusion_prob)

    # Raw clips as the sensor gives them, zero after each clip's length, through the papers'
    # preprocessing (centring, resize to the card's frames, shoulder alignment), as NTU's.
    joints *= (np.arange(t_raw)[None, None, :, None, None] < lengths[None, :, None, None, None])
    raw = joints.transpose(1, 2, 0, 3, 4)                                     # (n, T, 2, V, 3)
    data = np.stack([preprocess.ssl_preprocess(clip, cfg.frames, layout=NTU25)[0] for clip in raw])
    meta = {"name": np.array([f"S001C{1 + k:03d}P{1 + sub:03d}R{1 + r:03d}A{1 + a:03d}"
                              for a, sub, k, r in zip(label, subject, camera, rep)]),
            "label": label, "subject": subject + 1, "camera": camera + 1,
            "replication": rep + 1, "setup": np.ones(n, int), "length": lengths}
    return data, meta


def _glitch(rng, joints, lengths, prob):
    """A random joint jumps by ~20 cm for 1-4 frames in a fraction of samples (in place)."""
    n = len(joints)
    hit = np.flatnonzero(rng.random(n) < prob)
    start = (rng.random(len(hit)) * (lengths[hit] - 4)).astype(int)
    joint = rng.integers(0, NTU25.num_joints, len(hit))
    jump = rng.normal(0, 0.2, (len(hit), 3))
    for k in range(4):   # a short, fixed-length loop over frames, not over samples
        live = rng.random(len(hit)) < (1.0 if k == 0 else 0.6)
        joints[hit[live], start[live] + k, joint[live]] += jump[live]


def _occlude(rng, joints, lengths, prob):
    """One limb frozen at a jittered position for a span of the clip (in place)."""
    n, t = joints.shape[:2]
    hit = np.flatnonzero(rng.random(n) < prob)
    limbs = [NTU25.body_parts[p] for p in ("left_arm", "right_arm", "left_leg", "right_leg")]
    limb = rng.integers(0, len(limbs), len(hit))
    a = (rng.uniform(0, 0.6, len(hit)) * lengths[hit]).astype(int)
    b = a + (rng.uniform(0.15, 0.4, len(hit)) * lengths[hit]).astype(int)
    frame = np.arange(t)[None, :]
    span = (frame >= a[:, None]) & (frame < b[:, None])                  # (h, t)
    mask = np.zeros((len(hit), t, NTU25.num_joints), bool)
    for li, joints_of in enumerate(limbs):
        rows = limb == li
        mask[np.ix_(rows, np.arange(t), joints_of)] = span[rows][:, :, None]
    frozen = joints[hit, a][:, None] + rng.normal(0, 0.03, (len(hit), 1, NTU25.num_joints, 3))
    joints[hit] = np.where(mask[..., None], frozen, joints[hit])
