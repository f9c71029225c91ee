"""The Python API under the CLI: run (method x dataset x seed) cells and their protocols."""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from . import config as C
from . import results as R
from .backbones import build_backbone
from .data import load_split
from .methods import build_method
from .protocols.features import extract, freeze
from .protocols.linear import train_linear
from .train import encoder_state, pretrain

PROTOCOL_NAMES = ("linear",)


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
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
    progress: object = None
    _splits: dict = field(default_factory=dict)

    def split(self, cfg: dict):
        key = (cfg["data"]["dataset"], cfg["data"]["split"])
        if key not in self._splits:
            self._splits[key] = load_split(key[1], key[0], self.device)
        split = self._splits[key]
        if split.x_train.shape[2] != cfg["data"]["frames"]:
            raise C.ConfigError(
                f"data.frames is {cfg['data']['frames']} but the prepared {key[0]} data has "
                f"{split.x_train.shape[2]} frames: the frame count is a dataset-card setting "
                f"(datasets/{key[0]}.yaml), not a --set override")
        return split

    def pretrain(self, cfg: dict, seed: int) -> dict:
        """The finished pretraining record of (cfg, seed): reused, resumed or trained now."""
        section = C.pretrain_section(cfg)
        digest = C.config_hash(section)
        done = R.find_done(self.results_dir, "pretrain", digest, seed)
        if done is not None:
            self.log(f"reusing pretraining {done['run_id']}")
            return done
        parent = self.pretrain(cfg["init"], seed) if cfg.get("init") else None
        split = self.split(cfg)
        previous = R.find_resumable(self.results_dir, digest, seed) if self.resume else None
        if previous is not None:
            record = R.Record(self.results_dir / "runs" / previous["run_id"], previous)
            record.update(status="running", pid=os.getpid(), host=socket.gethostname())
            record.save()
            self.log(f"resuming pretraining {record['run_id']}")
        else:
            record = R.start_record(self.results_dir, kind="pretrain", cfg=section,
                                    config_hash=digest, seed=seed,
                                    parent_run_id=parent["run_id"] if parent else None,
                                    global_batch=cfg["pretrain"]["batch_size"],
                                    epochs=cfg["pretrain"]["epochs"],
                                    hardware=hardware(self.device))
        try:
            torch.manual_seed(seed)
            method = build_method(cfg, split.num_classes).to(self.device)
            if parent is not None:     # both encoders start from the parent's query encoder
                weights = encoder_state(self.results_dir / "runs" / parent["run_id"] / "checkpoint.pt",
                                        self.device)
                method.encoder.load_state_dict(weights)
                if hasattr(method, "key_encoder"):
                    method.key_encoder.load_state_dict(weights)
            throughput = pretrain(method, split, cfg["pretrain"], seed=seed,
                                  checkpoint=record.run_dir / "checkpoint.pt", device=self.device,
                                  resume=previous is not None, progress=self.progress)
        except BaseException as e:
            record.fail(e)
            raise
        record.finish(history={"loss": throughput.pop("loss_history")}, throughput=throughput)
        return record

    def linear(self, cfg: dict, seed: int) -> dict:
        digest = C.config_hash({"pretrain": C.pretrain_section(cfg), "linear": cfg["linear"]})
        done = R.find_done(self.results_dir, "linear", digest, seed)
        if done is not None:
            self.log(f"linear: already done in {done['run_id']}")
            return done
        parent = self.pretrain(cfg, seed)
        split = self.split(cfg)
        record = R.start_record(self.results_dir, kind="linear", cfg=cfg, config_hash=digest,
                                seed=seed, parent_run_id=parent["run_id"], selection="last",
                                global_batch=cfg["linear"]["batch_size"],
                                epochs=cfg["linear"]["epochs"], hardware=hardware(self.device))
        try:
            torch.manual_seed(seed)
            encoder = build_backbone(cfg["backbone"]).to(self.device)
            checkpoint = self.results_dir / "runs" / parent["run_id"] / "checkpoint.pt"
            encoder.load_state_dict(encoder_state(checkpoint, self.device))
            freeze(encoder)
            stream = cfg["data"]["stream"]
            train_feat = extract(encoder, split.x_train, stream)
            test_feat = extract(encoder, split.x_test, stream)
            generator = torch.Generator(device=self.device).manual_seed(seed)
            out = train_linear(train_feat, split.y_train, test_feat, split.y_test,
                               split.num_classes, cfg["linear"], generator)
            np.savez_compressed(record.run_dir / "logits.npz",
                                logits=out["logits"].float().cpu().numpy(),
                                labels=split.y_test.cpu().numpy())
        except BaseException as e:
            record.fail(e)
            raise
        record.finish(metrics=out["metrics"], history={"test_top1": out["history"]})
        return record

    def run(self, cfg: dict, seed: int, protocols=("linear",)) -> list[dict]:
        records = []
        for protocol in protocols:
            if protocol not in PROTOCOL_NAMES:
                raise C.ConfigError(f"unknown protocol {protocol!r} ({', '.join(PROTOCOL_NAMES)})")
            records.append(getattr(self, protocol)(cfg, seed))
        return records


def hardware(device: torch.device) -> dict:
    if device.type == "cuda":
        return {"device": torch.cuda.get_device_name(device), "n_devices": torch.cuda.device_count()}
    import platform
    return {"device": f"cpu ({platform.processor() or platform.machine()}, "
                      f"{torch.get_num_threads()} threads)", "n_devices": 1}
