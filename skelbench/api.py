"""The Python API under the CLI: run (method x dataset x seed) cells and their protocols."""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from . import config as C
from . import dist
from . import results as R
from . import speed
from .backbones import build_backbone
from .data import load_split
from .methods import build_method
from .methods.base import FRESH, carry_plan, load_parent
from .protocols.features import extract, freeze
from .protocols.monitor import monitor
from .registry import PROTOCOLS
from .skeleton import require_same
from .train import encoder_state, estimate_bn_statistics, load_checkpoint, pretrain


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise C.ConfigError(f"--device {name}: not a device; use auto, cpu, cuda or cuda:N") from None
    if device.type not in ("cpu", "cuda"):
        raise C.ConfigError(f"--device {name}: skelbench runs on cpu or cuda (auto picks)")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise C.ConfigError("--device cuda asked for, but torch sees no CUDA device")
    return device


@dataclass
class Runner:
    """Runs cells, reusing finished pretrainings and protocol runs found in ``results_dir``."""
    results_dir: Path
    device: torch.device
    resume: bool = True
    log: Callable[[str], None] = print
    sync_bn: bool = False       # under torchrun on GPUs: BN statistics over the global batch
    progress: object = None
    on_result: Callable[[dict], None] | None = None     # each protocol record, as it is ready
    _splits: dict = field(default_factory=dict)
    _features: dict = field(default_factory=dict)
    _announced: set = field(default_factory=set)

    def split(self, cfg: dict):
        """The split of ``cfg`` (a config, or a config's data section), loaded once."""
        data = cfg.get("data", cfg)
        key = (data["dataset"], data["split"])
        if key not in self._splits:
            # Under torchrun rank 0 loads (and builds an embedded set) first, the others after.
            if not dist.is_main():
                dist.barrier()
            self.log(f"loading {key[1]} ({key[0]}; an embedded set is generated on first use)")
            self._splits[key] = load_split(key[1], key[0], self.device)
            if dist.is_main():
                dist.barrier()
        split = self._splits[key]
        if split.x_train.shape[2] != data["frames"]:
            raise C.ConfigError(
                f"data.frames is {data['frames']} but the prepared {key[0]} data has "
                f"{split.x_train.shape[2]} frames: the frame count is a dataset-card setting "
                f"(datasets/{key[0]}.yaml), not a --set override")
        return split

    def pretrain(self, cfg: dict, seed: int, need_checkpoint: bool = True) -> dict:
        """The finished pretraining record of (cfg, seed): reused, resumed or trained now. A
        record without its checkpoint (committed records carry JSON only) serves as a record,
        and is trained again when a protocol needs the encoder."""
        section = C.pretrain_section(cfg)
        digest = C.config_hash(section)
        done = R.find_done(self.results_dir, "pretrain", digest, seed)
        if done is not None and need_checkpoint and not (self.run_path(done) / "checkpoint.pt").is_file():
            self.log(f"pretraining {done['run_id']} has no checkpoint here (records carry JSON "
                     "only): training it again")
            done = None
        if done is not None:
            if done["run_id"] not in self._announced:
                self._announced.add(done["run_id"])
                self.log(f"reusing pretraining {done['run_id']}")
            return done
        if cfg.get("weights"):
            return self.released(cfg, seed, digest)
        parent = self.pretrain(cfg["init"], seed) if cfg.get("init") else None
        split = self.split(cfg)
        settings = speed.effective(cfg.get("speed"), self.device)
        speed.apply(settings)
        previous = R.find_resumable(self.results_dir, digest, seed) if self.resume else None
        if previous is not None:
            record = R.Record(self.results_dir / "runs" / previous["run_id"], previous)
            record.resume(pid=os.getpid(), host=socket.gethostname(), speed=settings)
            self.log(f"resuming pretraining {record['run_id']}")
        else:
            record = R.start_record(self.results_dir, kind="pretrain", cfg=section,
                                    config_hash=digest, seed=seed,
                                    parent_run_id=parent["run_id"] if parent else None,
                                    global_batch=cfg["pretrain"]["batch_size"],
                                    epochs=cfg["pretrain"]["epochs"],
                                    hardware=hardware(self.device), speed=settings,
                                    layout=split.layout.name, **distributed(self.sync_bn))
            self.log(f"pretraining {cfg['method']} seed {seed}: config {digest[:12]}, record "
                     f"{record.path}")
        try:
            torch.manual_seed(seed)
            method = build_method(cfg, split.num_classes, split.layout).to(self.device)
            speed.compile_encoders(method, settings)
            if parent is not None:
                # The whole parent model, key side from its query side; a fresh queue (a resumed
                # run then continues from its own checkpoint).
                path = self.run_path(parent) / "checkpoint.pt"
                state = load_checkpoint(path, self.device)
                require_same(split.layout, state.get("layout"), f"parent pretraining {path}")
                carried = load_parent(method, state["method"], str(path))
                record.update(init={"parent_run_id": parent["run_id"], "carried": carried,
                                    "fresh": [n for n in FRESH if n in method.state_dict()]})
                record.save()
            watch = (cfg.get("run") or {}).get("monitor")
            throughput = pretrain(method, split, cfg["pretrain"], seed=seed,
                                  checkpoint=record.run_dir / "checkpoint.pt", device=self.device,
                                  resume=previous is not None, progress=self.progress,
                                  speed=settings, sync_bn=self.sync_bn,
                                  on_epoch=monitor(split, cfg, seed, **watch) if watch else None)
        except BaseException as e:
            record.fail(e)
            raise
        record.finish(history=throughput.pop("history"), throughput=throughput)
        spread = record["history"].get("key_std", [None])[-1]
        dim = method.queue.shape[1] if spread is not None else None      # the keys' dimension
        if spread is not None and spread < 0.1 / dim ** 0.5:
            self.log(f"warning: {record['run_id']}: key_std {spread:.4f} in the last epoch, under a "
                     f"tenth of the {dim ** -0.5:.3f} of keys spread over the sphere: the embedding "
                     "has collapsed (docs/results.md)")
        return record

    def released(self, cfg: dict, seed: int, digest: str) -> dict:
        """A pretraining record for released weights: the checkpoint's encoder (and classifier)
        checked against the data and written as this project's checkpoint; nothing trained."""
        from .weights import find_weights, read_weights
        split = self.split(cfg)
        path = find_weights(cfg["weights"], (cfg.get("paths") or {}).get("weights"))
        record = R.start_record(self.results_dir, kind="pretrain", cfg=C.pretrain_section(cfg),
                                config_hash=digest, seed=seed, global_batch=None, epochs=0,
                                hardware=hardware(self.device), layout=split.layout.name)
        try:
            encoder = build_backbone(cfg["backbone"], split.layout)
            weights = read_weights(path, encoder, split.layout)
            state = {f"encoder.{k}": v for k, v in weights.encoder.items()}
            if weights.classifier is not None:
                state.update({"classifier.weight": weights.classifier[0],
                              "classifier.bias": weights.classifier[1]})
            from .train import save_checkpoint
            save_checkpoint(record.run_dir / "checkpoint.pt",
                            {"method": state, "epoch": 0, "layout": split.layout.name})
        except BaseException as e:
            record.fail(e)
            raise
        record.finish(released=weights.describe(), history={}, throughput={})
        self.log(f"released weights {path.name} (sha256 {weights.sha256[:12]}): "
                 f"{', '.join(weights.describe()['loaded'])} loaded -> {record['run_id']}")
        return record

    def evaluate(self, cfg: dict, seed: int, protocol: str, files: tuple = ()) -> dict:
        """The finished record of ``protocol`` on (cfg, seed): found, or run now (pretraining
        first if needed). ``files``: what another protocol reads beside the record (a linear
        run's logits); a record without them here (committed records carry JSON only) is
        run again."""
        fn = PROTOCOLS.get(protocol)
        cfg = protocol_config(cfg, protocol)
        digest = protocol_hash(cfg, protocol)
        done = R.find_done(self.results_dir, protocol, digest, seed)
        missing = [f for f in files if done is not None and not (self.run_path(done) / f).is_file()]
        if missing:
            self.log(f"{protocol} {done['run_id']} has no {', '.join(missing)} here: running it again")
            done = None
        if done is not None:
            self.log(f"{protocol}: already done in {done['run_id']}")
            if self.on_result:
                self.on_result(done)
            return done
        parent = self.pretrain(cfg, seed, need_checkpoint=getattr(fn, "needs_encoder", True))
        section = fn.sections[-1]
        spec = cfg.get(section, {})
        extra = {"target": cfg["transfer"]["target"]} if "transfer" in fn.sections else {}
        record = R.start_record(self.results_dir, kind=protocol,
                                cfg=with_own_overrides(cfg, fn.sections), config_hash=digest,
                                seed=seed, parent_run_id=parent["run_id"],
                                global_batch=spec.get("batch_size"), epochs=spec.get("epochs"),
                                hardware=hardware(self.device), **extra)
        self.log(f"{protocol} {cfg['method']} seed {seed}: config {digest[:12]}, record {record.path}")
        try:
            torch.manual_seed(seed)
            out = fn(Context(self, cfg, seed, fn.sections, parent, record.run_dir))
        except BaseException as e:
            record.fail(e)
            raise
        record.finish(**out)
        if self.on_result:
            self.on_result(record)
        return record

    def features(self, parent: dict, cfg: dict, split) -> tuple[torch.Tensor, torch.Tensor]:
        """Frozen, pooled features of a pretraining on a split, extracted once per process."""
        stream = cfg["data"]["stream"]
        bn = cfg["features"]["bn"]
        if bn not in ("running", "precise"):     # (checked before any encoder is built)
            raise C.ConfigError(f"features.bn is {bn!r}: running (the statistics training left, "
                                "as the papers) or precise (re-estimated on clean training clips)")
        key = (parent["run_id"], split.name, stream, bn)
        if key not in self._features:
            self.log(f"features of {parent['run_id']} on {split.name} "
                     f"({len(split.x_train)} + {len(split.x_test)} clips, BN {bn})")
            encoder = self.frozen_encoder(parent, cfg, split)
            self._features[key] = (extract(encoder, split.x_train, stream),
                                   extract(encoder, split.x_test, stream))
        return self._features[key]

    def frozen_encoder(self, parent: dict, cfg: dict, split) -> torch.nn.Module:
        """The pretraining's encoder as the frozen protocols see it: eval mode, no gradients,
        BN statistics as ``features.bn`` says (re-estimated on ``split``'s training clips)."""
        encoder = self.encoder(cfg, parent, split.layout)
        if cfg["features"]["bn"] == "precise":
            estimate_bn_statistics(encoder, split.x_train, cfg["data"]["stream"], parent["seed"])
        return freeze(encoder)

    def encoder(self, cfg: dict, parent: dict, layout) -> torch.nn.Module:
        """The pretraining's encoder for data of ``layout`` (refused if trained on another)."""
        encoder = build_backbone(cfg["backbone"], layout).to(self.device)
        encoder.load_state_dict(encoder_state(self.run_path(parent) / "checkpoint.pt", self.device,
                                              layout))
        return encoder

    def run_path(self, record: dict) -> Path:
        return self.results_dir / "runs" / record["run_id"]

    def run(self, cfg: dict, seed: int, protocols=("linear",)) -> list[dict]:
        for protocol in protocols:
            PROTOCOLS.get(protocol)     # every name checked before anything runs
        return [self.evaluate(cfg, seed, protocol) for protocol in protocols]


@dataclass
class Context:
    """What a protocol function sees of its run."""
    runner: Runner
    cfg: dict
    seed: int
    sections: tuple
    parent: dict            # the pretraining record
    run_dir: Path

    @property
    def device(self) -> torch.device:
        return self.runner.device

    @property
    def progress(self):
        return self.runner.progress

    def eval_split(self):
        """The split evaluated on: the transfer target for transfer protocols."""
        if "transfer" in self.sections:
            return self.runner.split(self.cfg["transfer"]["data"])
        return self.runner.split(self.cfg)

    def features(self, split):
        return self.runner.features(self.parent, self.cfg, split)

    def encoder(self) -> torch.nn.Module:
        return self.runner.encoder(self.cfg, self.parent, self.eval_split().layout)

    def requires(self, protocol: str, files: tuple = ()) -> dict:
        """The finished record of another protocol on the same pretraining (with ``files``
        beside it), run first if needed."""
        return self.runner.evaluate(self.cfg, self.seed, protocol, files)

    def frozen_encoder(self, split) -> torch.nn.Module:
        return self.runner.frozen_encoder(self.parent, self.cfg, split)

    def run_path(self, record: dict) -> Path:
        return self.runner.run_path(record)


def protocol_hash(cfg: dict, protocol: str) -> str:
    """What a protocol's result depends on: the pretraining and the protocol's sections."""
    sections = PROTOCOLS.get(protocol).sections
    return C.config_hash({"pretrain": C.pretrain_section(cfg), "protocol": protocol,
                          **{s: cfg[s] for s in sections}})


def with_own_overrides(cfg: dict, sections: tuple) -> dict:
    """``cfg`` keeping, of its --set overrides, those that reach what this run depends on (its
    pretraining and its protocol's sections): ``--set continuity.pairs=12`` leaves a linear
    run canonical."""
    own = set(C.pretrain_section(cfg)) | set(sections)
    kept = [o for o in (cfg.get("run") or {}).get("overrides", [])
            if o.split("=", 1)[0].split(".", 1)[0] in own]
    return {**cfg, "run": {**(cfg.get("run") or {}), "overrides": kept}}


def protocol_config(cfg: dict, protocol: str) -> dict:
    """The config a protocol runs with: for transfer protocols, with the target's data."""
    return with_target(cfg) if "transfer" in PROTOCOLS.get(protocol).sections else cfg


def with_target(cfg: dict) -> dict:
    """``cfg`` with ``transfer.data``: the target split's data section (frames must match)."""
    target = cfg["transfer"]["target"]
    if not target:
        raise C.ConfigError(f"{cfg['data']['dataset']}: transfer needs a target split: pass "
                            "--set transfer.target=SPLIT or name one in the card's schedule")
    data = C.data_section(target, cfg["data"]["stream"])
    if data["frames"] != cfg["data"]["frames"]:
        raise C.ConfigError(f"transfer target {target} has {data['frames']} frames, the source "
                            f"{cfg['data']['split']} {cfg['data']['frames']}: prepare both alike")
    return {**cfg, "transfer": {**cfg["transfer"], "data": data}}


def distributed(sync_bn: bool) -> dict:
    """What a pretraining record says about data parallelism (nothing when alone)."""
    if dist.world_size() == 1:
        return {}
    return {"sync_bn": sync_bn,
            # Batch-level pairings see one rank's slice of the global batch.
            "batch_pairing": "within each rank's slice (TranCLR partners, ActCLR's anchor)"}


def hardware(device: torch.device) -> dict:
    if device.type == "cuda":
        return {"device": torch.cuda.get_device_name(device), "n_devices": torch.cuda.device_count()}
    # The CPU model and the vector ISA torch dispatches to: the same seed and config give
    # different numbers on CPUs whose kernels differ, so a record says which ran it.
    return {"device": f"cpu ({cpu_model()}, {torch.backends.cpu.get_cpu_capability()}, "
                      f"{torch.get_num_threads()} threads)", "n_devices": 1}


def cpu_model() -> str:
    import platform
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def plan(jobs: list[tuple[dict, list, list]], results_dir: Path) -> list:
    """(cfg, seed, kind, state) for every run of ``jobs`` ((cfg, seeds, protocols) each), in run
    order: each pretraining (a two-phase method's parent first) once, before its protocols.
    state: 'done', 'to do', or for a pretraining whose record has no checkpoint here 'record'
    (trained again if a protocol still to do needs the encoder)."""
    done, with_checkpoint = set(), set()
    for path, r, _ in R.iter_records(results_dir):         # the records are read once
        if r and r["status"] == "done":
            done.add((r["kind"], r["config_hash"], r["seed"]))
            if r["kind"] == "pretrain" and (path.parent / "checkpoint.pt").is_file():
                with_checkpoint.add((r["config_hash"], r["seed"]))
    rows, seen = [], set()

    def pretraining(cfg, seed):
        if cfg.get("init"):
            pretraining(cfg["init"], seed)
        key = (C.config_hash(C.pretrain_section(cfg)), seed)
        if key not in seen:
            seen.add(key)
            state = ("done" if key in with_checkpoint else
                     "record" if ("pretrain", *key) in done else "to do")
            rows.append((cfg, seed, "pretrain", state))

    for cfg, seeds, protocols in jobs:
        for seed in seeds:
            pretraining(cfg, seed)
            for protocol in protocols:
                digest = protocol_hash(protocol_config(cfg, protocol), protocol)
                rows.append((cfg, seed, protocol,
                             "done" if (protocol, digest, seed) in done else "to do"))
    return rows


def init_plan(cfg: dict) -> dict | None:
    """For a two-phase config: the parent method and what the child takes from it (models built
    on the CPU, nothing trained), as ``skelbench run --dry-run --show-config`` prints it."""
    if not cfg.get("init"):
        return None
    layout = C.card_layout(cfg["data"]["dataset"])
    child, parent = build_method(cfg, 2, layout), build_method(cfg["init"], 2, layout)
    _, carried = carry_plan(child.state_dict(), parent.state_dict(), cfg["init"]["method"])
    return {"parent": cfg["init"]["method"],
            "parent_pretrain_hash": C.config_hash(C.pretrain_section(cfg["init"]))[:12],
            "carried": carried, "fresh": [n for n in FRESH if n in child.state_dict()]}
