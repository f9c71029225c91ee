"""Reference suites: a named grid in ``results/<name>/suite.yaml`` (methods, their seeds,
protocols, feature-BN settings), run by ``skelbench run --suite NAME``. Its records live
beside it in ``results/<name>/runs/`` (JSON only in git), so ``skelbench compare`` rebuilds the
leaderboard from the repository alone and a rerun reuses every record whose config hash
matches. ``--full`` runs the same grid at the recipes' own pretraining schedules and backbone
(the papers' regime; a GPU's job) into ``results/<name>-full/``."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import config as C

KEYS = {"description", "dataset", "protocols", "rows", "variants", "full"}
ROW_KEYS = {"method", "seeds", "protocols", "backbone", "weights"}


@dataclass
class Suite:
    name: str
    path: Path
    spec: dict

    def results_dir(self, full: bool = False) -> Path:
        return self.path.parent.parent / f"{self.name}-full" if full else self.path.parent


def suite_names(root: Path | None = None) -> list[str]:
    return sorted(p.parent.name for p in ((root or C.project_root()) / "results").glob("*/suite.yaml"))


def load_suite(name: str, root: Path | None = None) -> Suite:
    from .registry import did_you_mean
    path = (root or C.project_root()) / "results" / name / "suite.yaml"
    if not path.is_file():
        raise C.ConfigError(f"no suite {name!r} (results/{name}/suite.yaml)"
                            f"{did_you_mean(name, suite_names(root))}")
    return read_suite(path)


def read_suite(path: Path) -> Suite:
    """The suite in ``path`` (results/NAME/suite.yaml), checked."""
    spec = C.load_yaml(path)
    for key in spec:
        if key not in KEYS:
            raise C.ConfigError(f"{path}: unknown key {key!r} (known: {', '.join(sorted(KEYS))})")
    for i, row in enumerate(spec.get("rows") or []):
        extra = set(row) - ROW_KEYS
        if "method" not in row or extra:
            raise C.ConfigError(f"{path}: rows[{i}] needs 'method' and takes only "
                                f"{', '.join(sorted(ROW_KEYS))}")
        weights = row.get("weights")
        if weights is not None and (not isinstance(weights, dict) or set(weights) != {"sha256", "name"}):
            raise C.ConfigError(f"{path}: rows[{i}].weights names released weights by "
                                "{sha256: ..., name: FILE}")
    if not spec.get("rows") or not spec.get("dataset"):
        raise C.ConfigError(f"{path}: a suite names a dataset and at least one row")
    return Suite(path.parent.name, path, spec)


def full_overrides(method: str, full: dict, root: Path | None = None) -> list[str]:
    """--set overrides for the recipe's own pretraining schedule (the card's is replaced), then
    the suite's ``full.set`` where the method has the key."""
    recipe = C.load_recipe(method, root)        # an alias comes back as the recipe it names
    out = [f"pretrain.{k}={v!r}" if isinstance(v, str) else f"pretrain.{k}={v}"
           for k, v in recipe["pretrain"].items()]
    return out + list(full.get("set") or [])


def cells(suite: Suite, full: bool = False, root: Path | None = None) -> list[tuple[dict, list, list]]:
    """(resolved config, seeds, protocols) for every row under every feature-BN variant."""
    spec = suite.spec
    variants = spec.get("variants") or {"": []}
    full_spec = spec.get("full") or {}
    if full and not full_spec:
        raise C.ConfigError(f"{suite.path}: no 'full' section, so --full has nothing to run")
    out = []
    for row in spec["rows"]:
        protocols = list(row.get("protocols") or spec.get("protocols") or ["linear"])
        seeds = [int(s) for s in row.get("seeds", [0])]
        extra = full_overrides(row["method"], full_spec, root) if full else []
        backbone = full_spec.get("backbone") if full else row.get("backbone")
        for overrides in variants.values():
            # A suite-wide key the method lacks (args.mining_epoch for SkeletonCLR) is left out.
            cfg = C.resolve(row["method"], spec["dataset"], backbone=backbone,
                            overrides=extra + list(overrides or []), root=root, skip_missing=True)
            if row.get("weights"):          # found by checksum under $SKELBENCH_WEIGHTS
                cfg = C.with_weights(cfg, row["weights"]["sha256"], row["weights"]["name"])
            if full and cfg.get("init"):
                # The parent at its own recipe's schedule (AimCLR's 300 epochs under ActCLR's 350).
                parent = cfg["init"]["method"]
                cfg["init"] = C.resolve(parent, spec["dataset"], backbone=backbone, root=root,
                                        overrides=full_overrides(parent, full_spec, root),
                                        skip_missing=True)
            out.append((cfg, seeds, protocols))
    return out
