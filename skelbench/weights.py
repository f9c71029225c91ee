"""Released weights: an existing checkpoint as the source of a frozen encoder (and its classifier).

Two formats are read, with ``torch.load(..., weights_only=True)`` only:
- the official SSL processors' ``state_dict`` (CrosSCLR / AimCLR / ActCLR): the query encoder
  under ``encoder_q.`` (ST-GCN's ``data_bn``, ``st_gcn_networks.i``, ``edge_importance.i`` and
  the graph ``A``), with or without its projector (``encoder_q.fc.0/.2``), the key side
  (``encoder_k.``) and the queue; a linear evaluation's classifier as ``encoder_q.fc`` in a Linear
  (C, D) or a 1x1 convolution (C, D, 1, 1);
- this project's own checkpoints (``{"method": state_dict, "layout": ...}``).
What the record keeps: the file, its SHA-256, the format, what was loaded and what was left.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .data.prepared import sha256_file  # noqa: F401  (the CLI names checkpoints by it)
from .errors import CheckpointError
from .skeleton import LAYOUTS, Layout, get_layout, require_same

# The official query encoder's names -> this project's ST-GCN's.
OFFICIAL = ((re.compile(r"st_gcn_networks\.(\d+)\.(.+)"), r"blocks.\1.\2"),
            (re.compile(r"edge_importance\.(\d+)"), r"blocks.\1.edge_importance"),
            (re.compile(r"(data_bn\..+)"), r"\1"))
# Tensors that are read and left (not evaluated): the projector, the key side, the queue.
LEFT = (re.compile(r"(encoder_q\.)?fc\.\d+\.(weight|bias)"), re.compile(r"encoder_k\..+"),
        re.compile(r"queue(_ptr)?"), re.compile(r"(encoder_q\.)?(mask_param|actionlet.*)\..*"))
OWN_LEFT = ("projector.", "key_encoder.", "key_projector.", "queue", "queue_ptr")


@dataclass
class Released:
    """An encoder's weights under this project's names, and the checkpoint's classifier."""
    path: Path
    sha256: str
    format: str                               # official | skelbench
    layout: str
    encoder: dict
    classifier: tuple | None = None           # (weight (C, D), bias (C,))
    left: list = field(default_factory=list)  # groups read and not evaluated

    def describe(self) -> dict:
        loaded = ["encoder"] + (["classifier"] if self.classifier is not None else [])
        return {"file": str(self.path), "name": self.path.name, "sha256": self.sha256,
                "format": self.format, "layout": self.layout, "loaded": loaded,
                "left": self.left,
                "classes": int(self.classifier[0].shape[0]) if self.classifier else None}


def _refuse_unknown(path: Path, names: list[str]) -> None:
    if names:
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        raise CheckpointError(f"{path}: not a checkpoint skelbench knows: unexpected tensor(s) "
                              f"{shown} (expected the official processors' encoder_q.* or this "
                              "project's own checkpoint)")


def _official(path: Path, state: dict) -> tuple[dict, tuple | None, list, str | None]:
    encoder, classifier, left, unknown, graph = {}, {}, set(), [], None
    for name, value in state.items():
        key = name.removeprefix("module.")
        if any(p.fullmatch(key) for p in LEFT):
            left.add("projector" if ".fc." in f".{key}" else "key side" if "encoder_k" in key
                     else "queue" if key.startswith("queue") else key.split(".")[-2])
            continue
        key = key.removeprefix("encoder_q.")
        if key == "A":
            graph = value
            continue
        if key in ("fc.weight", "fc.bias"):
            classifier[key[3:]] = value
            continue
        for pattern, target in OFFICIAL:
            if pattern.fullmatch(key):
                encoder[pattern.sub(target, key)] = value
                break
        else:
            unknown.append(name)
    _refuse_unknown(path, unknown)
    head = None
    if classifier:
        if set(classifier) != {"weight", "bias"}:
            raise CheckpointError(f"{path}: a classifier needs encoder_q.fc.weight and .bias")
        weight = classifier["weight"]
        if weight.dim() == 4 and weight.shape[2:] == (1, 1):     # a 1x1 convolution
            weight = weight[:, :, 0, 0]
        if weight.dim() != 2:
            raise CheckpointError(f"{path}: encoder_q.fc.weight has shape {tuple(classifier['weight'].shape)}; "
                                  "a classifier is (classes, features) or (classes, features, 1, 1)")
        head = (weight, classifier["bias"])
    return encoder, head, sorted(left), graph


def _own(path: Path, state: dict) -> tuple[dict, tuple | None, list]:
    encoder, classifier, left, unknown = {}, {}, set(), []
    for name, value in state.items():
        if name.startswith("encoder."):
            encoder[name[len("encoder."):]] = value
        elif name.startswith("classifier."):
            classifier[name[len("classifier."):]] = value
        elif name.startswith(OWN_LEFT):
            left.add(name.split(".")[0])
        else:
            unknown.append(name)
    _refuse_unknown(path, unknown)
    head = (classifier["weight"], classifier["bias"]) if classifier else None
    return encoder, head, sorted(left)


def read_weights(path, encoder: torch.nn.Module, layout: str | Layout) -> Released:
    """The checkpoint at ``path`` for ``encoder`` (built for the data's ``layout``): refused with
    a one-line error when its layout, tensor names or shapes do not fit."""
    from .train import load_checkpoint
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(f"--weights {path}: no such file")
    layout = get_layout(layout)
    state = load_checkpoint(path)
    if not isinstance(state, dict) or not state:
        raise CheckpointError(f"{path}: expected a state_dict (a mapping of tensor names to tensors)")
    if isinstance(state.get("method"), dict):             # this project's own checkpoint
        fmt, found_layout = "skelbench", state.get("layout")
        weights, head, left = _own(path, state["method"])
    else:
        bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
        if bad:
            raise CheckpointError(f"{path}: {bad[0]!r} is not a tensor: expected a state_dict")
        fmt = "official"
        weights, head, left, graph = _official(path, state)
        # The official checkpoints carry their graph; its size names the layout they were for.
        found_layout = None
        if graph is not None:
            matches = [n for n, lay in LAYOUTS.items() if lay.num_joints == graph.shape[-1]]
            found_layout = matches[0] if matches else f"a {graph.shape[-1]}-joint graph"
            if not matches:
                raise CheckpointError(f"{path}: encoder_q.A is for {found_layout}, but the data is "
                                      f"{layout.name} ({layout.num_joints} joints)")
    require_same(layout, found_layout, f"checkpoint {path}")
    expected = encoder.state_dict()
    for name, value in weights.items():     # another width first: the most telling error
        if name in expected and tuple(value.shape) != tuple(expected[name].shape):
            raise CheckpointError(f"{path}: tensor {name} has shape {tuple(value.shape)} in the "
                                  f"checkpoint, {tuple(expected[name].shape)} in this backbone: "
                                  "pass the backbone it was trained with (--backbone, e.g. stgcn)")
    missing = [k for k in expected if k not in weights]
    if missing:
        raise CheckpointError(f"{path}: no tensor for the encoder's {', '.join(missing[:3])}"
                              + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
                              + f" (found {len(weights)} encoder tensors): another backbone?")
    extra = [k for k in weights if k not in expected]
    _refuse_unknown(path, extra)
    if head is not None and head[0].shape[1] != encoder.out_dim:
        raise CheckpointError(f"{path}: classifier weight has shape {tuple(head[0].shape)}, but the "
                              f"encoder's features are {encoder.out_dim}-d")
    return Released(path, sha256_file(path), fmt, layout.name, weights, head, left)


def find_weights(spec: dict, given: str | None = None) -> Path:
    """The file of released weights ``spec`` ({sha256, name}): ``given`` (--weights), else the
    folders in ``$SKELBENCH_WEIGHTS`` (separated by ``os.pathsep``), searched by checksum."""
    import os
    candidates = [Path(given).expanduser()] if given else []
    folders = [Path(p).expanduser() for p in os.environ.get("SKELBENCH_WEIGHTS", "").split(os.pathsep) if p]
    for folder in folders:
        if folder.is_dir():
            named = sorted(folder.rglob(spec["name"]))
            candidates += named + sorted(p for p in folder.rglob("*.pt*") if p not in named)
    for path in candidates:
        if path.is_file() and sha256_file(path) == spec["sha256"]:
            return path
    where = (f"--weights {given} has another checksum; " if given else "") + (
        f"none of the files under {os.pathsep.join(map(str, folders))} matches"
        if folders else "SKELBENCH_WEIGHTS is not set")
    raise CheckpointError(f"released weights {spec['name']} (sha256 {spec['sha256'][:16]}...) not "
                          f"found: {where}. Put the file in a folder and set SKELBENCH_WEIGHTS to it "
                          "(or pass --weights PATH)")


def check_classes(released: Released, num_classes: int) -> None:
    """The checkpoint's own classifier on data of ``num_classes`` classes."""
    if released.classifier is None:
        raise CheckpointError(f"{released.path}: holds no classifier (encoder_q.fc / classifier.*) "
                              "to evaluate: use the linear protocol, which trains a head")
    weight = released.classifier[0]
    if weight.shape[0] != num_classes:
        raise CheckpointError(f"{released.path}: classifier weight has shape {tuple(weight.shape)} "
                              f"({weight.shape[0]} classes), the data has {num_classes} classes")
