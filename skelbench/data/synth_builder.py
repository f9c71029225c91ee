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
        for key in ("raw_length", "onset", "offset", "classes"):
            if gen.get(key) is not None:
                gen[key] = tuple(gen[key])
        return synth.SynthConfig(frames=card.get("frames", 50), **gen)

    @classmethod
    def fingerprint(cls, card: dict) -> str:
        settings = {k: v for k, v in dataclasses.asdict(cls.settings(card)).items()
                    if not (k == "classes" and v is None)}   # all classes: as before the option
        key = json.dumps({"version": synth.VERSION, **settings}, sort_keys=True)
        return hashlib.sha256(key.encode()).hexdigest()[:16]

    @classmethod
    def build(cls, card: dict, out) -> None:
        settings = cls.settings(card)
        data, meta = synth.generate(settings)
        info = {"dataset": card["name"],
                "classes": [c.name for c in synth.class_set(settings.classes)],
                "frames": settings.frames, "source": "embedded generator skelbench.data.synth",
                "preprocessing": "origin at person 0's spine base in frame 0; no rotation",
                "generator": dataclasses.asdict(settings), "fingerprint": cls.fingerprint(card)}
        write_prepared(out, data, meta, info)
