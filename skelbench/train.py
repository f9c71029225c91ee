"""The one pretraining loop every method shares.

Data is already on the device; each epoch draws a permutation from the run's generator and
takes ``batch_size`` indices at a time (the last partial batch is dropped, as the papers do).
A checkpoint is written after every epoch (temp file + rename) holding the method (encoders,
queue, pointer), optimiser, scheduler, AMP state, epoch and every RNG state, so ``resume``
continues the same run.
"""
from __future__ import annotations

import math
import os
import pickle
import re
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import torch

from . import dist
from . import results as R
from .data import Split
from .errors import CheckpointError, NonFiniteLoss  # noqa: F401  (the CLI catches them)
from .methods import Method
from .skeleton import require_same




def build_optimizer(params, spec: dict, fused: bool = False) -> torch.optim.Optimizer:
    """SGD or AdamW from a schedule section; ``fused``: one kernel for the whole step."""
    name = spec.get("optimizer", "sgd")
    extra = {"fused": True} if fused else {}
    if name == "sgd":
        return torch.optim.SGD(params, lr=spec["lr"], momentum=spec.get("momentum", 0.9),
                               weight_decay=spec.get("weight_decay", 0.0),
                               nesterov=spec.get("nesterov", False), **extra)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=spec["lr"], weight_decay=spec.get("weight_decay", 0.0),
                                 betas=tuple(spec.get("betas", (0.9, 0.999))), **extra)
    raise ValueError(f"unknown optimizer {name!r} (sgd, adamw)")


def lr_factor(step: int, steps_per_epoch: int, spec: dict) -> float:
    """The learning-rate multiplier at optimiser step ``step``: a linear warm-up over
    ``warmup_epochs`` (0 = none, as the papers), then x``lr_gamma`` at each epoch of ``lr_steps``
    or, with ``lr_schedule: cosine``, a half cosine from 1 to 0 over the remaining steps."""
    warmup = spec.get("warmup_epochs", 0) * steps_per_epoch
    if step < warmup:
        return (step + 1) / warmup
    if spec.get("lr_schedule", "step") == "cosine":
        total = max(int(spec["epochs"]) * steps_per_epoch - warmup, 1)
        return 0.5 * (1 + math.cos(math.pi * min(step - warmup, total) / total))
    epoch = step // steps_per_epoch
    return spec.get("lr_gamma", 0.1) ** sum(epoch >= m for m in spec.get("lr_steps", []))


def build_scheduler(optimizer, spec: dict, steps_per_epoch: int):
    """Stepped once per optimiser step."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, steps_per_epoch, spec))


def optimiser_step(method: Method, optimizer, loss: torch.Tensor, scheduler=None) -> None:
    """Backward, optimiser (and scheduler) step, then the method's post-step hooks (EMA
    bookkeeping, enqueue): one training step as every loop here takes it."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if scheduler is not None:
        scheduler.step()
    method.on_step_end()


def autocast(device: torch.device, enabled: bool):
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def save_checkpoint(path: Path, state: dict) -> None:
    """Write to a temp file beside ``path``, then rename: the previous checkpoint stays whole
    until the new one is complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict:
    """Tensors and plain containers only (``weights_only=True``): a checkpoint that would need
    arbitrary code to unpickle is refused, as is a truncated one, each with what to do."""
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(e))
        reason = f"it names {found.group(1)}" if found else type(e).__name__
        raise CheckpointError(
            f"{path}: refused: it holds objects other than tensors and plain containers, which "
            f"skelbench does not unpickle (weights_only=True; {reason}). Use a checkpoint "
            "skelbench wrote, or delete its run folder to train again") from None
    except Exception as e:
        raise CheckpointError(
            f"{path}: truncated or corrupt ({type(e).__name__}: {e}); delete its run folder "
            "(or pass --no-resume) to train again") from None


def rng_state(generator: torch.Generator, views: torch.Generator | None = None) -> dict:
    state = {"torch": torch.get_rng_state(), "generator": generator.get_state()}
    if views is not None and views is not generator:
        state["views"] = views.get_state()
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(generator: torch.Generator, state: dict,
                  views: torch.Generator | None = None) -> None:
    torch.set_rng_state(state["torch"])
    generator.set_state(state["generator"])
    if "views" in state and views is not None:
        views.set_state(state["views"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def pretrain(method: Method, split: Split, spec: dict, *, seed: int, checkpoint: Path,
             device: torch.device, resume: bool = False, progress=None,
             speed: dict | None = None, sync_bn: bool = False, label: str = "pretrain",
             on_epoch=None) -> dict:
    """Train ``method`` on ``split``'s training set; return throughput figures. ``speed``: the
    settings of :func:`skelbench.speed.effective` (default: none); ``label`` names the progress
    (``finetune`` for the finetuning protocols); ``on_epoch(method, epoch) -> {name: value}``
    adds values to the epoch's history (the learning-curve monitor) without touching training.

    Under torchrun the batch size is global: every rank draws the same permutation (the run's
    generator) and takes its slice of each global batch, augments it with its own generator and
    averages gradients through DDP. Batch-level pairings (TranCLR's partners, ActCLR's anchor)
    are formed within each rank's slice."""
    world, rank = dist.world_size(), dist.rank()
    generator = torch.Generator(device=device).manual_seed(seed)
    # Alone, one generator orders and augments (as always); under DDP each rank augments with
    # its own, so the ranks' views differ while the data order stays shared.
    rank_seed = seed + 7919 * (rank + 1)
    views = generator if world == 1 else torch.Generator(device=device).manual_seed(rank_seed)
    epochs, global_batch = int(spec["epochs"]), int(spec["batch_size"])
    batch = dist.local_batch(global_batch)
    n = len(split.x_train)
    steps_per_epoch = n // global_batch
    if method.pretrains and steps_per_epoch == 0:
        raise ValueError(f"batch_size {global_batch} is larger than the training set ({n} samples)")
    model = method
    if world > 1 and method.pretrains:
        if sync_bn:
            if device.type != "cuda":
                raise ValueError("--sync-bn needs CUDA devices (SyncBatchNorm has no CPU kernel)")
            method = torch.nn.SyncBatchNorm.convert_sync_batchnorm(method)
        torch.manual_seed(rank_seed)                    # dropout masks differ per rank too
        # Buffers are not broadcast: queues are identical by construction (all ranks' keys),
        # BN statistics stay per rank as in the original single-GPU code.
        model = torch.nn.parallel.DistributedDataParallel(
            method, device_ids=[device.index] if device.type == "cuda" else None,
            **dist.no_buffer_sync())
    if not method.pretrains:   # the untrained floor: BN statistics of the training clips only
        estimate_bn_statistics(method.encoder, split.x_train, method.stream, seed)
        if dist.is_main():
            save_checkpoint(checkpoint, {"method": method.state_dict(), "epoch": 0,
                                         "layout": method.layout.name})
        return {"samples_per_s": None, "step_ms": None, "epochs_run": 0, "history": {}}
    params = [p for p in method.parameters() if p.requires_grad]
    optimizer = build_optimizer(params, spec, fused=bool(speed and speed["fused_optimizer"]))
    scheduler = build_scheduler(optimizer, spec, max(steps_per_epoch, 1))
    start_epoch, history = 0, {}
    if resume and checkpoint.is_file():
        state = load_checkpoint(checkpoint, device)
        method.load_state_dict(state["method"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        ranks = state.get("rng_ranks")
        set_rng_state(generator, ranks[rank] if ranks else state["rng"], views)
        start_epoch = int(state["epoch"])
        # (Checkpoints of earlier versions kept the loss alone.)
        history = state.get("history") or {"loss": state.get("loss_history", [])}

    def save(epoch: int) -> None:
        rng = rng_state(generator, views)
        ranks = dist.gather_object(rng)                 # every rank's RNG, for an exact resume
        if dist.is_main():
            save_checkpoint(checkpoint, {
                "method": method.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "epoch": epoch, "rng": rng,
                "layout": method.layout.name,
                **({"rng_ranks": ranks} if world > 1 else {}), "history": history})

    use_amp = spec.get("amp", True)
    log = R.EpochLog(checkpoint.parent) if dist.is_main() else None
    method.train()
    step_times = []
    task = progress.add_task(label, total=(epochs - start_epoch) * steps_per_epoch) if progress else None
    for epoch in range(start_epoch, epochs):
        order = torch.randperm(n, generator=generator, device=device)
        sums = {}               # every scalar the step returns, summed on the device
        for step in range(steps_per_epoch):
            t0 = time.perf_counter()
            start = step * global_batch + rank * batch
            idx = order[start:start + batch]
            with autocast(device, use_amp):
                out = model(split.x_train[idx], split.y_train[idx], epoch, views)
            loss = out["loss"]
            if not torch.isfinite(loss):
                raise NonFiniteLoss(f"loss is {loss.item()} at epoch {epoch + 1}, step {step + 1}: "
                                    "lower the learning rate or check the data for outliers")
            optimiser_step(method, optimizer, loss, scheduler)
            for key, value in out.items():
                sums[key] = sums.get(key, 0) + value.detach().float()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            step_times.append(time.perf_counter() - t0)
            if progress is not None:
                progress.update(task, advance=1, loss=loss.item(),
                                rate=global_batch / step_times[-1], epoch=f"{epoch + 1}/{epochs}")
        for key, total in sums.items():
            history.setdefault(key, []).append(round(dist.mean(total).item() / steps_per_epoch, 5))
        if on_epoch is not None:
            for key, value in on_epoch(method, epoch + 1).items():
                history.setdefault(key, []).append(value)
        save(epoch + 1)
        if log is not None:
            log.epoch(history, epoch + 1)
    if log is not None:
        log.close()
    dist.barrier()          # the last checkpoint is complete before any rank reads it
    median = sorted(step_times)[len(step_times) // 2] if step_times else None
    return {"samples_per_s": round(global_batch / median, 1) if median else None,
            "step_ms": round(1e3 * median, 2) if median else None,
            "epochs_run": epochs - start_epoch, "steps_per_epoch": steps_per_epoch,
            "history": history}


def encoder_state(checkpoint: Path, device: torch.device | str = "cpu", layout=None) -> dict:
    """The evaluated encoder's weights from a pretraining checkpoint (``encoder.`` prefix);
    refused when ``layout`` is given and the checkpoint was trained on another one."""
    state = load_checkpoint(checkpoint, device)
    if layout is not None:
        require_same(layout, state.get("layout"), f"checkpoint {checkpoint}")
    state = state["method"]
    return {k[len("encoder."):]: v for k, v in state.items() if k.startswith("encoder.")}



@torch.no_grad()
def estimate_bn_statistics(encoder: torch.nn.Module, x: torch.Tensor, stream: str,
                           seed: int = 0, batch_size: int = 256) -> None:
    """Set BN running statistics to their exact average over ``x`` (no labels, no gradient),
    in shuffled batches: a batch of one class would understate the variance ("precise BN").

    An untrained encoder keeps BN's initial statistics (mean 0, var 1) in eval mode, and with
    the papers' N(0, 0.02) weights its features then shrink to ~1e-8: a linear head sees noise.
    The random-init floor is the untrained encoder with statistics of the training data.
    """
    from .augment import to_stream
    bns = [m for m in encoder.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None          # cumulative average over the batches below
    encoder.train()
    for m in encoder.modules():
        if isinstance(m, torch.nn.Dropout):
            m.eval()                # statistics as the frozen encoder will see its inputs
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed)).to(x.device)
    for i in range(0, len(x), batch_size):
        encoder(to_stream(x[order[i:i + batch_size]], stream, encoder.layout))
    for bn in bns:
        bn.momentum = 0.1
