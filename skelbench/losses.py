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


def soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """-sum_j target_j log softmax(logits)_j, mean over the batch (target rows sum to 1)."""
    return -(target * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


def multi_positive_nce(logits: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """-(1/|P|) sum_{j in P} log softmax(logits)_j with P the True entries of ``positives``
    (a (N, 1+K) bool mask), mean over the batch."""
    log_p = F.log_softmax(logits, dim=1)
    return -((log_p * positives).sum(dim=1) / positives.sum(dim=1)).mean()


def soft_alignment(q: torch.Tensor, target: torch.Tensor, memory: torch.Tensor, topk: int = 8192,
                   tau_q: float = 0.1, tau_k: float = 0.05) -> torch.Tensor:
    """TranCLR's soft alignment: KL(softmax(p_k / tau_k) || softmax(p_q / tau_q)) over the top-k
    memory entries nearest the target, p_* the cosine similarities of target and query to them;
    mean over the batch. ``q`` and ``target`` are L2-normalised here; the target gets no gradient."""
    q, target = F.normalize(q, dim=1), F.normalize(target.detach(), dim=1)
    sims_k = target @ memory.t()
    k = min(topk, memory.shape[0])
    p_k, index = sims_k.topk(k, dim=1)
    p_q = (q @ memory.t()).gather(1, index)
    log_t = F.log_softmax(p_k / tau_k, dim=1)
    return (log_t.exp() * (log_t - F.log_softmax(p_q / tau_q, dim=1))).sum(dim=1).mean()
