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


def neighbour_kl(q: torch.Tensor, target: torch.Tensor, memory: torch.Tensor, topk: int,
                 tau_target: float, tau_query: float, dedup: float | None = None,
                 square_query: bool = False) -> torch.Tensor:
    """KL(softmax(s_t / tau_target) || softmax(s_q / tau_query)) over the top-k memory entries by
    target similarity s_t = t.M, with s_q = q.M at the same entries; mean over the batch. ``q`` and
    ``target`` are L2-normalised here; the target gets no gradient. ``dedup``: target similarities
    above it count as -1 (near-duplicates of the target); ``square_query``: s_q = (q.M)^2."""
    q, target = F.normalize(q, dim=1), F.normalize(target.detach(), dim=1)
    s_t = target @ memory.t()
    if dedup is not None:
        s_t = torch.where(s_t > dedup, torch.full_like(s_t, -1.0), s_t)
    s_t, index = s_t.topk(min(topk, memory.shape[0]), dim=1)
    s_q = (q @ memory.t()).gather(1, index)
    if square_query:
        s_q = s_q ** 2
    log_t = F.log_softmax(s_t / tau_target, dim=1)
    return (log_t.exp() * (log_t - F.log_softmax(s_q / tau_query, dim=1))).sum(dim=1).mean()


def soft_alignment(q: torch.Tensor, target: torch.Tensor, memory: torch.Tensor, topk: int = 8192,
                   tau_q: float = 0.1, tau_k: float = 0.05) -> torch.Tensor:
    """TranCLR's soft alignment: the query's neighbour spectrum follows the target's, sharpened
    (tau_k < tau_q), over the target's top-k memory neighbours."""
    return neighbour_kl(q, target, memory, topk, tau_k, tau_q)


def relational_kl(q: torch.Tensor, teacher: torch.Tensor, memory: torch.Tensor, topk: int = 8192,
                  tau_t: float = 0.04, tau_s: float = 0.1, dedup: float = 0.95) -> torch.Tensor:
    """ActCLR's loss as its code computes it: entries above ``dedup`` dropped from the teacher's
    top-k, and the student's similarities squared."""
    return neighbour_kl(q, teacher, memory, topk, tau_t, tau_s, dedup=dedup, square_query=True)
