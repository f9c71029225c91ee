"""No encoder at all: the preprocessed joint coordinates, flattened. The trivial baseline row
(1-NN on raw coordinates) reads them through the retrieval protocol."""
from __future__ import annotations

from torch import nn

from ..registry import BACKBONES
from ..skeleton import Layout, get_layout


@BACKBONES.register("raw")
class RawCoordinates(nn.Module):
    """(N, C, T, V, M) -> (N, C*T*V*M); nothing to train or initialise."""

    out_dim = None      # depends on the clip's size; no method here puts a head on it

    def __init__(self, layout: str | Layout = "ntu25"):
        super().__init__()
        self.layout = get_layout(layout)

    def forward(self, x):
        return x.flatten(1)

    def reset_parameters(self) -> None:
        pass
