"""Distributed data parallel under ``torchrun``: off unless ``WORLD_SIZE`` is set.

One code path: with one process every helper here is the identity. Under torchrun each rank
holds the whole (device-resident) dataset, takes its slice of every global batch, and averages
gradients through ``DistributedDataParallel``; MoCo queues enqueue the keys of all ranks, so
every rank holds the same queue. Only rank 0 writes records and checkpoints.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist


def init(device_name: str = "auto") -> torch.device | None:
    """Join the process group torchrun describes (NCCL on GPUs, gloo on CPU); return this
    rank's device, or None when not launched by torchrun."""
    if "WORLD_SIZE" not in os.environ or dist.is_initialized():
        return None
    cuda = torch.cuda.is_available() and device_name in ("auto", "cuda")
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group("nccl" if cuda else "gloo")
    return torch.device("cuda", torch.cuda.current_device()) if cuda else torch.device("cpu")


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def is_main() -> bool:
    return rank() == 0


def local_batch(global_batch: int) -> int:
    """The recipe's batch is global; each rank takes an equal share."""
    world = world_size()
    if global_batch % world:
        raise ValueError(f"batch_size {global_batch} is not divisible by the world size {world}: "
                         f"set pretrain.batch_size to a multiple of {world}")
    return global_batch // world


def gather_cat(x: torch.Tensor) -> torch.Tensor:
    """All ranks' ``x`` concatenated along dim 0, in rank order (no gradient)."""
    if not active():
        return x
    parts = [torch.empty_like(x) for _ in range(world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts)


def broadcast_object(obj):
    """Rank 0's ``obj`` on every rank."""
    if not active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    if active():
        dist.barrier()


def gather_object(obj) -> list:
    """Every rank's ``obj``, in rank order, on every rank."""
    if not active():
        return [obj]
    out = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def mean(x: torch.Tensor) -> torch.Tensor:
    """The mean of ``x`` over ranks."""
    if not active():
        return x
    x = x.detach().clone()
    dist.all_reduce(x)
    return x / world_size()


def close() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def no_buffer_sync() -> dict:
    """DDP's option for not broadcasting buffers at every forward, under its name in this torch."""
    import inspect
    params = inspect.signature(torch.nn.parallel.DistributedDataParallel).parameters
    return {"forward_sync_buffers": False} if "forward_sync_buffers" in params else {"broadcast_buffers": False}
