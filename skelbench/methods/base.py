"""The method contract and the MoCo base shared by the contrastive methods.

A method owns its views, its loss and its hooks: ``training_step(x, y, epoch, generator)``
returns ``{"loss": tensor, **scalars}``; ``on_step_end()`` runs after the optimiser step
(momentum update bookkeeping, enqueue); ``encoder`` is what every protocol evaluates. Buffers
that must survive a resume (queue, pointer, momentum encoder) are registered buffers/modules,
so they live in ``state_dict``.
"""
from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn import functional as F

from .. import dist
from ..augment import to_stream


class Method(nn.Module):
    #: False for methods that are evaluated without any pretraining (random-init).
    pretrains: bool = True

    def __init__(self, encoder: nn.Module, num_classes: int, stream: str = "joint"):
        super().__init__()
        self.encoder = encoder
        self.num_classes = num_classes
        self.stream = stream

    @property
    def layout(self):
        """The skeleton layout of the data, as the encoder was built for it."""
        return self.encoder.layout

    def to_input(self, x: torch.Tensor) -> torch.Tensor:
        """Augmented joints -> the encoder's input stream (motion/bone after augmentation)."""
        return to_stream(x, self.stream, self.layout)

    def views(self, x: torch.Tensor, epoch: int, generator: torch.Generator) -> tuple:
        """The augmented inputs of a step that need no model (``bench --pipeline-only`` times
        them alone); ``training_step`` draws them first, from the same generator."""
        raise NotImplementedError

    def training_step(self, x: torch.Tensor, y: torch.Tensor, epoch: int,
                      generator: torch.Generator) -> dict:
        raise NotImplementedError

    def on_step_end(self) -> None:
        pass

    def forward(self, x, y, epoch, generator) -> dict:
        # The training step is the forward pass, so DistributedDataParallel can wrap the method.
        return self.training_step(x, y, epoch, generator)


def projector(in_dim: int, out_dim: int) -> nn.Sequential:
    """The SSL papers' 2-layer MLP head: in -> in -> ReLU -> out."""
    head = nn.Sequential(nn.Linear(in_dim, in_dim), nn.ReLU(inplace=True), nn.Linear(in_dim, out_dim))
    init_projector(head)
    return head


def init_projector(head: nn.Module) -> None:
    """The processors' ``weights_init`` on a head: linear weights N(0, 0.02), biases 0."""
    for m in head.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            nn.init.zeros_(m.bias)


class MoCo(Method):
    """Query encoder + projector, an EMA key side, and a queue of L2-normalised keys.

    ``independent_key``: the key side starts as its own random network, not a copy of the query
    side. The official processors build the model (key encoder copied from the query encoder)
    and then call ``model.apply(weights_init)``, which draws every layer again, the key
    encoder's included; only the EMA brings the key side towards the query side.
    """

    def __init__(self, encoder: nn.Module, num_classes: int, stream: str = "joint",
                 queue_size: int = 32768, momentum: float = 0.999, temperature: float = 0.07,
                 feature_dim: int = 128, independent_key: bool = False):
        super().__init__(encoder, num_classes, stream)
        self.momentum, self.temperature = momentum, temperature
        self.projector = projector(encoder.out_dim, feature_dim)
        self.key_encoder = copy.deepcopy(encoder)
        self.key_projector = copy.deepcopy(self.projector)
        if independent_key:
            self.key_encoder.reset_parameters()
            init_projector(self.key_projector)
        for p in (*self.key_encoder.parameters(), *self.key_projector.parameters()):
            p.requires_grad_(False)
        self.register_buffer("queue", F.normalize(torch.randn(queue_size, feature_dim), dim=1))
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))
        self._pending: torch.Tensor | None = None

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.projector(self.encoder(self.to_input(x))), dim=1)

    @torch.no_grad()
    def embed_key(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.key_projector(self.key_encoder(self.to_input(x))), dim=1)

    @torch.no_grad()
    def momentum_update(self) -> None:
        online = [*self.encoder.parameters(), *self.projector.parameters()]
        target = [*self.key_encoder.parameters(), *self.key_projector.parameters()]
        torch._foreach_mul_(target, self.momentum)
        torch._foreach_add_(target, online, alpha=1 - self.momentum)

    def defer_enqueue(self, keys: torch.Tensor) -> None:
        # The queue is part of the autograd graph of this step's logits; it is written only
        # after backward, in on_step_end.
        self._pending = dist.gather_cat(keys.detach())    # every rank's keys: one queue

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        """Write keys at the pointer, wrapping around; the pointer advances by len(keys)."""
        size = self.queue.shape[0]
        keys = keys[-size:]
        index = (self.queue_ptr + torch.arange(len(keys), device=keys.device)) % size
        self.queue.index_copy_(0, index, keys.to(self.queue.dtype))
        self.queue_ptr.copy_((self.queue_ptr + len(keys)) % size)

    def forward(self, x, y, epoch, generator) -> dict:
        out = self.training_step(x, y, epoch, generator)
        if self._pending is not None:
            # Collapse monitor (SimSiam's): the per-dimension std of the L2-normalised keys is
            # about 1/sqrt(D) when they spread over the sphere and 0 when every clip maps to one
            # point, where a relational loss is 0 and InfoNCE sits at ln(K+1).
            out["key_std"] = self._pending.float().std(dim=0).mean()
        return out

    def on_step_end(self) -> None:
        if self._pending is not None:
            self.enqueue(self._pending)
            self._pending = None


# What a two-phase method takes from its parent's checkpoint, as the official loader does
# (ActCLR: ``ignore_weights: [queue]``, ``rename_weights: [encoder_q.encoder_k]``): every tensor
# of the parent's query side under the same name, and the key side from the parent's *query*
# side; the queue (memory) and its pointer start afresh.
KEY_SIDE = {"key_encoder.": "encoder.", "key_projector.": "projector."}
FRESH = ("queue", "queue_ptr")


class InitError(ValueError):
    pass


def carry_plan(own: dict, parent: dict, source: str) -> tuple[dict, list[str]]:
    """What a child with state ``own`` takes from a parent state: ({child name: parent name},
    ``child <- parent`` module names). A tensor of another shape (another backbone) is an error
    naming it; child tensors the parent lacks keep their initialisation."""
    names, carried = {}, {}
    for name, value in own.items():
        if name in FRESH:
            continue
        prefix = next((p for p in KEY_SIDE if name.startswith(p)), None)
        src = KEY_SIDE[prefix] + name[len(prefix):] if prefix else name
        if src not in parent:
            continue
        if parent[src].shape != value.shape:
            raise InitError(f"{source}: parameter {src} has shape {tuple(parent[src].shape)} in "
                            f"the parent, {tuple(value.shape)} in this method's {name}: the "
                            "parent must be trained on the same backbone")
        names[name] = src
        carried[name.split(".", 1)[0]] = src.split(".", 1)[0]
    return names, [k if k == v else f"{k} <- {v}" for k, v in carried.items()]


def load_parent(method: nn.Module, parent: dict, source: str) -> list[str]:
    """Load ``parent`` (the parent method's ``state_dict``) into ``method`` as ``carry_plan``
    says; return what was carried."""
    names, carried = carry_plan(method.state_dict(), parent, source)
    method.load_state_dict({k: parent[v] for k, v in names.items()}, strict=False)
    return carried
