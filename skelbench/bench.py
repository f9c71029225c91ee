"""`skelbench bench`: the cost of one pretraining step, measured.

Steps run exactly as in training (device-resident data, index sampling, the method's views and
loss, optimiser step, hooks). The time spent in ``skelbench.augment`` is measured by wrapping
its functions for the duration of the benchmark (outermost calls only, the device synchronised
around each), so the input-pipeline share is a measurement, not an estimate. ``pipeline_only`` times index
sampling and the method's model-free views (``Method.views``) with no model at all.
``amp_agreement`` is the check that bf16 autocast trains as float32 does.
"""
from __future__ import annotations

import contextlib
import functools
import statistics
import time

import torch
from torch.nn import functional as F

from . import augment, speed
from .data import load_split
from .methods import build_method
from .data.preprocess import resize_time
from .train import autocast, build_optimizer, build_scheduler, optimiser_step


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def timed_augment(device: torch.device, totals: list):
    """Wrap every public function of ``skelbench.augment``; ``totals[0]`` accumulates seconds."""
    depth = [0]
    originals = {name: fn for name, fn in vars(augment).items()
                 if callable(fn) and not name.startswith("_") and getattr(fn, "__module__", "") == augment.__name__}

    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            if depth[0]:
                return fn(*args, **kwargs)
            depth[0] += 1
            _sync(device)
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                _sync(device)
                totals[0] += time.perf_counter() - t0
                depth[0] -= 1
        return inner

    for name, fn in originals.items():
        setattr(augment, name, wrap(fn))
    try:
        yield
    finally:
        for name, fn in originals.items():
            setattr(augment, name, fn)


def resample_frames(x: torch.Tensor, frames: int) -> torch.Tensor:
    """(N, C, T, V, M) -> (N, C, frames, V, M), resized in time as the datasets are prepared:
    data of another shape to time."""
    if frames == x.shape[2]:
        return x
    out = resize_time(x.cpu().numpy().transpose(2, 0, 1, 3, 4), x.shape[2], frames)
    return torch.from_numpy(out.transpose(1, 2, 0, 3, 4).astype("float32")).contiguous().to(x.device)


def bench(cfg: dict, device: torch.device, steps: int = 20, warmup: int = 3,
          batch_size: int | None = None, seed: int = 0, frames: int | None = None,
          pipeline_only: bool = False, train_size: int | None = None, epochs: int = 300,
          bodies: int | None = None) -> dict:
    """Median step time etc. of ``cfg``'s pretraining on ``device``; ``pipeline_only`` times
    index sampling + the method's model-free views alone; ``bodies``: body slots per clip (the
    data's first ``bodies``, absent ones added as zeros), to time a layout's body count against
    another. ``projected_h``: ``epochs`` epochs of
    ``train_size`` samples (default: the split's training set) at the median step."""
    split = load_split(cfg["data"]["split"], cfg["data"]["dataset"], device)
    x_train = resample_frames(split.x_train, frames) if frames else split.x_train
    if bodies:
        pad = max(bodies - x_train.shape[4], 0)
        x_train = torch.nn.functional.pad(x_train[..., :bodies], (0, pad)).contiguous()
    spec = dict(cfg["pretrain"])
    batch = int(batch_size or spec["batch_size"])
    settings = speed.effective(cfg.get("speed"), device)
    speed.apply(settings)
    torch.manual_seed(seed)
    method = build_method(cfg, split.num_classes, split.layout).to(device)
    if not method.pretrains:
        raise ValueError(f"{cfg['method']} has no training step to time")
    speed.compile_encoders(method, settings)
    method.train()
    optimizer = build_optimizer([p for p in method.parameters() if p.requires_grad], spec,
                                fused=settings["fused_optimizer"])
    generator = torch.Generator(device=device).manual_seed(seed)
    use_amp = bool(spec.get("amp", True)) and device.type == "cuda"
    epoch = int(spec["epochs"]) - 1
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    step_s, sample_s, augment_s, warmup_s = [], [], [], []
    for i in range(warmup + steps):
        aug = [0.0]
        _sync(device)
        t0 = time.perf_counter()
        idx = torch.randint(0, len(x_train), (batch,), generator=generator, device=device)
        x, y = x_train[idx], split.y_train[idx]
        _sync(device)
        t1 = time.perf_counter()
        if pipeline_only:
            with torch.no_grad():
                method.views(x, epoch, generator)
        else:
            with timed_augment(device, aug), autocast(device, use_amp):
                out = method.training_step(x, y, epoch, generator)
            optimiser_step(method, optimizer, out["loss"])
        _sync(device)
        t2 = time.perf_counter()
        if i < warmup:
            warmup_s.append(t2 - t0)
        else:
            step_s.append(t2 - t0)
            sample_s.append(t1 - t0)
            augment_s.append((t2 - t1) if pipeline_only else aug[0])
    median = statistics.median(step_s)
    pipeline = [a + s for a, s in zip(augment_s, sample_s)]
    n_train = train_size or len(x_train)
    return {
        "method": cfg["method"], "backbone": cfg["backbone"]["name"], "split": cfg["data"]["split"],
        "stream": cfg["data"]["stream"], "batch_size": batch, "frames": x_train.shape[2],
        "bodies": x_train.shape[4],
        "mode": "pipeline-only" if pipeline_only else "step",
        "steps": steps, "warmup": warmup,
        "step_ms": round(1e3 * median, 2),
        "samples_per_s": round(batch / median, 1),
        "pipeline_share": round(sum(pipeline) / sum(step_s), 4),   # sampling + augmentation
        "augment_ms": round(1e3 * statistics.median(augment_s), 2),
        "sample_ms": round(1e3 * statistics.median(sample_s), 3),
        # The first step pays for cuDNN autotuning and torch.compile; its excess is reported.
        "first_step_s": round(warmup_s[0], 2) if warmup_s else None,
        "projected_h": round(median * (n_train // batch) * epochs / 3600, 3),
        "projected_for": {"train_size": n_train, "epochs": epochs},
        "peak_memory_mb": (round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
                           if device.type == "cuda" else None),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "settings": {"amp_bf16": use_amp, "threads": torch.get_num_threads(), **settings},
    }


def amp_agreement(cfg: dict, device: torch.device, steps: int = 300, batch_size: int | None = None,
                  seed: int = 0, window: int = 20) -> dict:
    """Train the same method from the same seed and batches twice, in float32 and under bf16
    autocast, and compare the two loss curves: the largest and the mean relative gap between their
    ``window``-step running means. The runs part ways step by step (rounding), so the curves, not
    single steps, are what must agree."""
    window = min(window, steps)         # a short check compares shorter running means
    split = load_split(cfg["data"]["split"], cfg["data"]["dataset"], device)
    spec = dict(cfg["pretrain"])
    batch = int(batch_size or spec["batch_size"])
    steps_per_epoch = max(len(split.x_train) // batch, 1)
    curves = {}
    for name, dtype in (("fp32", None), ("bf16", torch.bfloat16)):
        torch.manual_seed(seed)
        method = build_method(cfg, split.num_classes, split.layout).to(device)
        method.train()
        optimizer = build_optimizer([p for p in method.parameters() if p.requires_grad], spec)
        scheduler = build_scheduler(optimizer, spec, steps_per_epoch)
        generator = torch.Generator(device=device).manual_seed(seed)
        losses = []
        for step in range(steps):
            idx = torch.randint(0, len(split.x_train), (batch,), generator=generator, device=device)
            context = (torch.autocast(device.type, dtype=dtype) if dtype is not None
                       else contextlib.nullcontext())
            with context:
                out = method.training_step(split.x_train[idx], split.y_train[idx],
                                           step // steps_per_epoch, generator)
            optimiser_step(method, optimizer, out["loss"], scheduler)
            losses.append(out["loss"].item())
        curves[name] = torch.tensor(losses, dtype=torch.float64)
    kernel = torch.ones(1, 1, window, dtype=torch.float64) / window
    smooth = {k: F.conv1d(v.view(1, 1, -1), kernel).flatten() for k, v in curves.items()}
    gap = (smooth["bf16"] - smooth["fp32"]).abs() / smooth["fp32"].abs().clamp(min=1e-8)
    return {"method": cfg["method"], "backbone": cfg["backbone"]["name"], "steps": steps,
            "batch_size": batch, "window": window, "device": str(device),
            "max_rel_gap": round(gap.max().item(), 4), "mean_rel_gap": round(gap.mean().item(), 4),
            "final_fp32": round(smooth["fp32"][-1].item(), 4),
            "final_bf16": round(smooth["bf16"][-1].item(), 4),
            "loss_fp32": [round(v, 5) for v in curves["fp32"].tolist()],
            "loss_bf16": [round(v, 5) for v in curves["bf16"].tolist()]}
