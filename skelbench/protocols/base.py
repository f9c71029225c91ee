"""The protocol decorator (its own module, so that protocol modules and the package that
imports them form no circle)."""
from __future__ import annotations

from ..registry import PROTOCOLS


def protocol(name: str, *sections: str, needs_encoder: bool = True):
    """Register ``fn`` as protocol ``name``, depending on config ``sections``; ``needs_encoder``:
    it reads the pretrained encoder (not only other records)."""
    def wrap(fn):
        fn.sections = sections
        fn.needs_encoder = needs_encoder
        return PROTOCOLS.register(name)(fn)
    return wrap
