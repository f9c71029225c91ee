"""Frozen-encoder features, extracted once (no augmentation) for every frozen protocol."""
from __future__ import annotations

import torch
from torch import nn

from ..augment import to_stream


def freeze(encoder: nn.Module) -> nn.Module:
    """eval() (BN running statistics, no dropout) and no gradients."""
    encoder.eval()
    for p in encoder.parameters():
        p.requires_grad_(False)
    return encoder


@torch.no_grad()
def pooled(encoder: nn.Module, x: torch.Tensor, stream: str, batch_size: int | None = None) -> torch.Tensor:
    """Pooled features (N, D) of ``x`` (N, C, T, V, M) in float32, the encoder left as it is; in
    batches of 1,024 on a GPU (inference only: memory allows it, and fewer launches), 256 on CPU."""
    batch_size = batch_size or (1024 if x.device.type == "cuda" else 256)
    chunks = [encoder(to_stream(x[i:i + batch_size], stream, encoder.layout)).float()
              for i in range(0, len(x), batch_size)]
    return torch.cat(chunks)


def extract(encoder: nn.Module, x: torch.Tensor, stream: str, batch_size: int | None = None) -> torch.Tensor:
    """``pooled`` features of the frozen encoder (``freeze``)."""
    return pooled(freeze(encoder), x, stream, batch_size)
