"""Recipes (methods/*.yaml) + dataset cards (datasets/*.yaml) -> a resolved config; hashes.

Precedence, lowest first: the recipe, the dataset card's ``schedule`` (a CPU-sized schedule on
the embedded set, for instance), then ``--set key=value`` overrides. The resolved config is
saved with every run; its hash (SHA-256 of canonical JSON, without seed, paths or device) names
what was trained, so every seed of one config groups and a finished pretraining is reused.
"""
from __future__ import annotations

import copy
import difflib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError  # noqa: F401  (raised here, caught by the CLI)
from .registry import did_you_mean


STREAMS = ("joint", "motion", "bone")


def project_root() -> Path:
    """Where methods/, datasets/ and results/ live.

    ``SKELBENCH_ROOT`` if set; else the nearest directory upwards from the working directory
    that holds both methods/ and datasets/; else the checkout this package was installed from.
    """
    if os.environ.get("SKELBENCH_ROOT"):
        return Path(os.environ["SKELBENCH_ROOT"]).resolve()
    here = Path.cwd().resolve()
    for d in (here, *here.parents):
        if (d / "methods").is_dir() and (d / "datasets").is_dir():
            return d
    source = Path(__file__).resolve().parents[1]
    if (source / "methods").is_dir():
        return source
    raise ConfigError("cannot find the skelbench project directory (methods/ and datasets/): "
                      "run from a skelbench checkout or set SKELBENCH_ROOT")


def default_results_dir() -> Path:
    return project_root() / "results"


def load_yaml(path: Path) -> dict:
    try:
        with open(path) as f:
            data = yaml.safe_load(f)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def recipe_path(name: str, root: Path | None = None) -> Path:
    return (root or project_root()) / "methods" / f"{name}.yaml"


def recipe_names(root: Path | None = None) -> list[str]:
    return sorted(p.stem for p in ((root or project_root()) / "methods").glob("*.yaml"))


def load_recipe(name: str, root: Path | None = None, _seen: tuple = ()) -> dict:
    """A recipe; ``base: other`` starts from recipe ``other`` and deep-updates it (ablations);
    ``alias: other`` is recipe ``other`` under a second name (its key ``alias`` says which)."""
    path = recipe_path(name, root)
    if not path.is_file():
        raise ConfigError(f"no recipe {name!r} in {path.parent}{did_you_mean(name, recipe_names(root))}")
    recipe = load_yaml(path)
    if "alias" in recipe:
        extra = set(recipe) - {"alias", "description"}
        if extra:
            raise ConfigError(f"{path}: an alias recipe holds only alias and description, not "
                              f"{', '.join(sorted(extra))}")
        if recipe["alias"] in _seen + (name,):
            raise ConfigError(f"{path}: recipe {name!r} is an alias of itself through {recipe['alias']!r}")
        target = load_recipe(recipe["alias"], root, _seen + (name,))
        return {**target, "alias": target.get("alias", recipe["alias"]),
                "description": recipe.get("description", target.get("description", ""))}
    if "base" in recipe:
        base = recipe.pop("base")
        if base in _seen + (name,):
            raise ConfigError(f"{path}: recipe {name!r} inherits from itself through {base!r}")
        parent = load_recipe(base, root, _seen + (name,))
        parent.pop("description", None)
        parent.pop("alias", None)       # a variant of an alias is a recipe of its own
        recipe = deep_update(parent, recipe)
    for key in ("class", "backbone", "pretrain", "linear"):
        if key not in recipe:
            raise ConfigError(f"{path}: missing key {key!r}")
    check_sections(path, recipe, RECIPE_KEYS)
    return recipe


# What a recipe may hold, and what a schedule section (pretrain, linear, finetune, a card's
# schedule) may set: a misspelt key is an error, not a silently ignored setting.
SCHEDULE_KEYS = {"optimizer", "lr", "momentum", "weight_decay", "nesterov", "betas", "epochs",
                 "warmup_epochs", "lr_schedule", "lr_steps", "lr_gamma", "batch_size", "amp"}
PROTOCOL_SECTIONS = ("features", "retrieval", "calibration", "finetune", "semi", "transfer")
RECIPE_KEYS = {"class", "description", "args", "backbone", "pretrain", "linear", "init",
               "backbones", "speed", "alias", *PROTOCOL_SECTIONS}
CARD_SCHEDULE_KEYS = {"backbone", "args", "pretrain", "linear", "classes", "backbones", "speed",
                      *PROTOCOL_SECTIONS}
# What the card may set for one method class (schedule.classes.<class>).
CARD_CLASS_KEYS = {"args", "pretrain", "linear", "speed", *PROTOCOL_SECTIONS}


def check_sections(path: Path, layer: dict, allowed: set, prefix: str = "") -> None:
    """Refuse unknown top-level keys of ``layer`` and unknown keys of its schedule sections."""
    def refuse(key, choices):
        raise ConfigError(f"{path}: {prefix}{key} is not a setting skelbench knows"
                          f"{did_you_mean(key.rsplit('.', 1)[-1], choices, n=1, quote=True)}")
    for key, value in layer.items():
        if key not in allowed:
            refuse(key, allowed)
        if key in ("pretrain", "linear", "finetune") and isinstance(value, dict):
            for sub_key in value:
                if sub_key not in SCHEDULE_KEYS:
                    refuse(f"{key}.{sub_key}", SCHEDULE_KEYS)


def card_paths(root: Path | None = None) -> dict[str, Path]:
    return {p.stem: p for p in sorted(((root or project_root()) / "datasets").glob("*.yaml"))}


def load_card(dataset: str, root: Path | None = None) -> dict:
    paths = card_paths(root)
    if dataset not in paths:
        raise ConfigError(f"no dataset card {dataset!r} in datasets/{did_you_mean(dataset, paths)}")
    card = load_yaml(paths[dataset])
    card.setdefault("name", dataset)
    return card


def card_layout(dataset: str, root: Path | None = None):
    """The skeleton layout a dataset card names (ntu25 when it names none)."""
    from .skeleton import get_layout
    return get_layout(load_card(dataset, root).get("skeleton"))


def split_index(root: Path | None = None) -> dict[str, str]:
    """split name -> dataset (card) name, over every card."""
    out = {}
    for name, path in card_paths(root).items():
        for split in load_yaml(path).get("splits", {}):
            out[split] = name
    return out


def resolve_dataset(name: str, root: Path | None = None) -> tuple[str, str]:
    """'synth-xsub' -> ('synth', 'synth-xsub'); a bare dataset name takes its first split."""
    splits = split_index(root)
    if name in splits:
        return splits[name], name
    if name in card_paths(root):
        first = next(iter(load_card(name, root).get("splits", {})), None)
        if first is None:
            raise ConfigError(f"dataset card {name!r} defines no splits")
        return name, first
    hint = did_you_mean(name, list(splits) + list(card_paths(root)))
    raise ConfigError(f"unknown dataset or split {name!r}{hint}")


def deep_update(base: dict, update: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in update.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_update(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected key=value, e.g. pretrain.epochs=10")
    key, value = text.split("=", 1)
    return key.strip().split("."), yaml.safe_load(value)


def apply_overrides(cfg: dict, overrides: list[str], skip_missing: bool = False,
                    prefix: str = "") -> dict:
    """Apply ``a.b=value`` overrides; the type must match, and the key must exist (or, with
    ``skip_missing``, the override is left out). Errors name the key as ``prefix + key``."""
    cfg = copy.deepcopy(cfg)
    for text in overrides:
        path, value = parse_override(text)
        node, text = cfg, prefix + text
        for i, part in enumerate(path):
            if not isinstance(node, dict) or part not in node:
                if skip_missing:
                    break
                siblings = list(node) if isinstance(node, dict) else []
                close = difflib.get_close_matches(part, siblings, n=3, cutoff=0.5)
                hint = f"; did you mean {prefix}{'.'.join(path[:i] + [close[0]])}?" if close else ""
                raise ConfigError(f"--set {text!r}: no key {prefix + '.'.join(path[:i + 1])!r}{hint}")
            if i < len(path) - 1:
                node = node[part]
        else:
            node[path[-1]] = _check_type(text, node[path[-1]], value)
    return cfg


def _check_type(text: str, old: Any, new: Any) -> Any:
    if old is None or new is None or isinstance(new, type(old)):
        return new
    if old == "auto" and isinstance(new, bool):       # speed settings: auto, true or false
        return new
    if isinstance(old, float) and isinstance(new, int) and not isinstance(new, bool):
        return float(new)
    if isinstance(old, list) and not isinstance(new, list):
        return [new]
    raise ConfigError(f"--set {text!r}: expected {type(old).__name__} (current value {old!r}), "
                      f"got {type(new).__name__}")


# Keys that never change what is computed: excluded from the hash.
NON_SEMANTIC = {"seed", "device", "paths", "run"}


def config_hash(cfg: dict) -> str:
    semantic = {k: v for k, v in cfg.items() if k not in NON_SEMANTIC}
    canonical = json.dumps(semantic, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def resolve(method: str, dataset: str = "synth-xsub", *, backbone: str | None = None,
            stream: str = "joint", overrides: list[str] = (), root: Path | None = None,
            skip_missing: bool = False) -> dict:
    """The full config of one (method, dataset/split, backbone, stream) cell, without seed.
    ``skip_missing``: an override whose key the config lacks is left out, not an error."""
    from . import signatures

    from .defaults import PROTOCOLS as PROTOCOL_DEFAULTS

    recipe = load_recipe(method, root)
    if recipe.get("alias"):         # the same runs as the recipe it names
        return resolve(recipe["alias"], dataset, backbone=backbone, stream=stream,
                       overrides=overrides, root=root, skip_missing=skip_missing)
    card_name, split = resolve_dataset(dataset, root)
    card = load_card(card_name, root)
    cls = signatures.method(recipe["class"])
    args = dict(recipe.get("args") or {})
    schedule = card.get("schedule") or {}
    card_path = card_paths(root)[card_name]
    check_sections(card_path, schedule, CARD_SCHEDULE_KEYS, "schedule.")
    for group, allowed in (("classes", CARD_CLASS_KEYS), ("backbones", CARD_SCHEDULE_KEYS)):
        for name, layer in (schedule.get(group) or {}).items():
            check_sections(card_path, layer or {}, allowed, f"schedule.{group}.{name}.")
    per_class = (schedule.get("classes") or {}).get(recipe["class"]) or {}
    accepted = cls.args
    # A card's schedule may cap method arguments (queue size, ...): only where the method has them;
    # its schedule.classes.<class>.args set them for one class, as the recipe's own args.
    args.update({k: v for k, v in (schedule.get("args") or {}).items() if k in accepted})
    for source, where, layer in ((recipe_path(method, root), "args", args),
                                 (card_path, f"schedule.classes.{recipe['class']}.args",
                                  per_class.get("args") or {})):
        unknown = [k for k in layer if k not in accepted]
        if unknown:
            hint = did_you_mean(unknown[0], accepted, n=1, quote=True)
            raise ConfigError(f"{source}: {where}.{unknown[0]} is not accepted by method class "
                              f"{recipe['class']!r}{hint} (accepted: {', '.join(sorted(accepted))})")
    args.update(per_class.get("args") or {})
    # The backbone: --backbone, else the card's (the embedded set's CPU schedule swaps it),
    # else the recipe's.
    spec = {"name": backbone} if backbone else dict(schedule.get("backbone") or recipe["backbone"])
    if cls.backbone:                        # a class that is its own encoder (raw coordinates)
        spec = {"name": cls.backbone}
    cfg = {"method": method, "class": recipe["class"], "args": args, "backbone": spec,
           "data": data_section(split, stream, root)}
    # Every schedule section, lowest precedence first: protocol defaults, the recipe, the
    # backbone's defaults (a Transformer's optimiser), the recipe's settings for this backbone,
    # the card's schedule, the card's values for this method class, the card's values for this
    # backbone; --set comes last.
    from .signatures import backbone_defaults
    name = spec["name"]
    from .defaults import SPEED as SPEED_DEFAULTS
    defaults = {**PROTOCOL_DEFAULTS, "speed": SPEED_DEFAULTS}
    layers = [recipe, backbone_defaults(name), (recipe.get("backbones") or {}).get(name),
              schedule, per_class, (schedule.get("backbones") or {}).get(name)]
    for section in ("pretrain", "linear", *defaults):
        value = defaults.get(section, {})
        for layer in layers:
            value = deep_update(value, (layer or {}).get(section) or {})
        cfg[section] = value
    # A backbone argument the spec leaves at its default can still be set: --set backbone.depth=4.
    from .signatures import backbone_parameters
    for text in overrides:
        path, _ = parse_override(text)
        params = backbone_parameters(spec["name"])
        if len(path) == 2 and path[0] == "backbone" and path[1] not in spec and path[1] in params:
            spec[path[1]] = params[path[1]]
    # `--set init.KEY=V` sets KEY in phase 1 only: a phase-2 ablation can keep its phase 1.
    own = [o for o in overrides if not o.startswith("init.")]
    phase1 = [o[len("init."):] for o in overrides if o.startswith("init.")]
    if phase1 and not recipe.get("init"):
        raise ConfigError(f"--set 'init.{phase1[0]}': {method} has no phase 1 (its recipe has no init)")
    for o in phase1:
        if o.startswith("backbone."):
            raise ConfigError(f"--set 'init.{o}': phase 1 has phase 2's backbone; set backbone.* instead")
    cfg = apply_overrides(cfg, own, skip_missing)
    if recipe.get("init"):
        # The pretraining this one starts from: the init recipe on the same split, stream and
        # backbone, with the overrides that exist in it. Its whole config enters this hash.
        parent = apply_overrides(resolve(recipe["init"], split, stream=stream, root=root,
                                         backbone=cfg["backbone"]["name"]),
                                 own, skip_missing=True)
        parent = apply_overrides(parent, phase1, skip_missing, prefix="init.")
        parent["backbone"] = dict(cfg["backbone"])
        cfg["init"] = parent
    from .signatures import backbone_args
    backbone_args(cfg["backbone"])  # validates the backbone name and its keys
    # How the config was asked for (outside the hash): a leaderboard's canonical rows are those
    # run at the recipe's and card's settings, with no --set.
    cfg["run"] = {"overrides": list(overrides)}
    return cfg


def with_weights(cfg: dict, sha256: str, name: str, path: Path | None = None) -> dict:
    """``cfg`` evaluating released weights instead of pretraining: the checkpoint's SHA-256 and
    file name enter the pretraining's hash (such rows never share one with trained rows); where
    the file lies is a path, outside it. Nothing is trained, so the recipe's training settings
    (``args``, ``pretrain``, a phase 1 in ``init``) are dropped: a change to them leaves the
    released rows as they are."""
    cfg = {k: copy.deepcopy(v) for k, v in cfg.items() if k not in ("args", "pretrain", "init")}
    cfg["weights"] = {"sha256": sha256, "name": name}
    if path is not None:
        cfg.setdefault("paths", {})["weights"] = str(path)
    return cfg


def data_section(split_or_dataset: str, stream: str = "joint", root: Path | None = None) -> dict:
    """The ``data`` section of a config: which prepared data, split and stream."""
    if stream not in STREAMS:
        raise ConfigError(f"unknown stream {stream!r}{did_you_mean(stream, STREAMS)} "
                          f"(streams: {', '.join(STREAMS)})")
    card_name, split = resolve_dataset(split_or_dataset, root)
    card = load_card(card_name, root)
    return {"dataset": card_name, "split": split, "stream": stream,
            "frames": card.get("frames", 50), "fingerprint": _fingerprint(card)}


def _fingerprint(card: dict) -> str:
    """What the data is (generator settings and version, or the prepared files' checksum), so a
    changed dataset never shares a config hash with the old one."""
    from .registry import DATASETS
    return DATASETS.get(card.get("kind", card["name"])).fingerprint(card)


def pretrain_section(cfg: dict) -> dict:
    """The part of a config that determines the pretrained encoder (a two-phase method's:
    its parent's too, not the parent's evaluation settings)."""
    out = {k: cfg[k] for k in ("method", "class", "args", "backbone", "data", "pretrain", "weights")
           if k in cfg}
    if cfg.get("init"):
        out["init"] = pretrain_section(cfg["init"])
    return out
