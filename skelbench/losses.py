"""Losses as pure functions over tensors."""
from __future__ import annotations

import torch
from torch.nn import functional as F


def moco_logits(q: torch.Tensor, k: torch.Tensor, queue: torch.Tensor,
                temperature: float) -> torch.Tensor:
    """[q.k, q.Q] / T for L2-normalised q, k (N, D) and a queue (K, D): shape (N, 1 + K)."""
    positive = (q * k).sum(dim=1, keepdim=True)
    negative = q @ queue.t()
    return torch.cat([positive, negative], dim=1) / temperature


def info_nce(q: torch.Tensor, k: torch.Tensor, queue: torch.Tensor,
             temperature: float = 0.07) -> torch.Tensor:
    """MoCo InfoNCE: -log exp(q.k/T) / (exp(q.k/T) + sum_j exp(q.Q_j/T)), mean over the batch."""
    logits = moco_logits(q, k, queue, temperature)
    return F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long, device=q.device))
