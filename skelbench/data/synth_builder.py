"""Registers the embedded ``synth`` dataset: generated from its card, cached under datasets/."""
from __future__ import annotations

import dataclasses
import hashlib
import json

from ..registry import DATASETS
from . import synth
from .prepared import write_prepared


@DATASETS.register("synth")
class SynthDataset:
    """Procedurally generated NTU-layout actions; no download (see ``skelbench.data.synth``)."""

    @staticmethod
    def settings(card: dict) -> synth.SynthConfig:
        fields = {f.name for f in dataclasses.fields(synth.SynthConfig)}
        gen = dict(card.get("generator") or {})
        unknown = set(gen) - fields
        if unknown:
            raise ValueError(f"datasets/{card['name']}.yaml: unknown generator key(s) "
                             f"{sorted(unknown)}; known: {sorted(fields - {'frames'})}")
        if "cameras" in gen:
            gen["cameras"] = tuple(gen["cameras"])
        if "raw_length" in gen:
            gen["raw_length"] = tuple(gen["raw_length"])
        return synth.SynthConfig(frames=card.get("frames", 50), **gen)

    @classmethod
    def fingerprint(cls, card: dict) -> str:
        key = json.dumps({"version": synth.VERSION, **dataclasses.asdict(cls.settings(card))},
                         sort_keys=True)
        return hashlib.sha256(key.encode()).hexdigest()[:16]

    @classmethod
    def build(cls, card: dict, out) -> None:
        settings = cls.settings(card)
        data, meta = synth.generate(settings)
        info = {"dataset": card["name"], "classes": list(synth.CLASS_NAMES),
                "frames": settings.frames, "source": "embedded generator skelbench.data.synth",
                "preprocessing": "origin at person 0's spine base in frame 0; no rotation",
                "generator": dataclasses.asdict(settings), "fingerprint": cls.fingerprint(card)}
        write_prepared(out, data, meta, info)
