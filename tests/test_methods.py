import copy

import pytest
import torch

from skelbench.backbones.stgcn import STGCN
from skelbench.methods.actclr import ActCLR
from skelbench.methods.aimclr import AimCLR
from skelbench.methods.baselines import Supervised
from skelbench.methods.skeletonclr import SkeletonCLR
from skelbench.methods.tranclr import TranCLR
from skelbench.train import load_checkpoint, save_checkpoint

MOCO_METHODS = [SkeletonCLR, AimCLR, TranCLR, ActCLR]


def tiny_method(queue_size=16, cls=SkeletonCLR, **kw):
    torch.manual_seed(0)
    return cls(STGCN(width=4, hidden_dim=16), num_classes=5, queue_size=queue_size,
               feature_dim=8, **kw)


def test_queue_pointer_wraps():
    m = tiny_method(queue_size=10)
    keys = torch.nn.functional.normalize(torch.randn(4, 8), dim=1)
    for step in range(3):                       # writes 0-3, 4-7, then 8, 9, 0, 1
        m.enqueue(keys + step)
    assert m.queue_ptr.item() == 2
    torch.testing.assert_close(m.queue[8], keys[0] + 2)
    torch.testing.assert_close(m.queue[1], keys[3] + 2)
    torch.testing.assert_close(m.queue[2], keys[2] + 0)   # untouched since the first step


@pytest.mark.parametrize("cls", MOCO_METHODS)
def test_step_updates_online_by_optimiser_and_key_by_ema(cls):
    m = tiny_method(momentum=0.9, cls=cls)
    x = torch.randn(8, 3, 12, 25, 2)
    before_q = copy.deepcopy(m.encoder.state_dict())
    before_k = {k: v.clone() for k, v in m.key_encoder.named_parameters()}
    online_before = {k: v.clone() for k, v in m.encoder.named_parameters()}
    opt = torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=0.1)
    out = m.training_step(x, torch.zeros(8, dtype=torch.long), 0, torch.Generator().manual_seed(0))
    opt.zero_grad()
    out["loss"].backward()
    assert all(p.grad is None for p in m.key_encoder.parameters())
    opt.step()
    m.on_step_end()
    changed = [k for k, v in m.encoder.state_dict().items() if not torch.equal(v, before_q[k])]
    assert any("weight" in k for k in changed)
    # The key encoder moved only by the EMA of the pre-step online weights (update before keys).
    for k, p in m.key_encoder.named_parameters():
        expected = 0.9 * before_k[k] + 0.1 * online_before[k]
        torch.testing.assert_close(p, expected)
    assert m.queue_ptr.item() == 8


@pytest.mark.parametrize("cls, epoch", [(SkeletonCLR, 0), (AimCLR, 0), (AimCLR, 200), (TranCLR, 0),
                                        (ActCLR, 0)])
def test_loss_decreases_on_a_fixed_batch(cls, epoch):
    m = tiny_method(queue_size=32, cls=cls)
    x = torch.randn(16, 3, 12, 25, 2)
    opt = torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=0.02, momentum=0.9)
    losses = []
    for step in range(20):
        out = m.training_step(x, torch.zeros(16, dtype=torch.long), epoch,
                              torch.Generator().manual_seed(0))   # the same views every step
        opt.zero_grad()
        out["loss"].backward()
        opt.step()       # the queue stays as initialised (no on_step_end): a fixed objective
        losses.append(out["loss"].item())
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3


def test_supervised_loss_decreases():
    torch.manual_seed(0)
    m = Supervised(STGCN(width=4, hidden_dim=16), num_classes=3)
    x, y = torch.randn(12, 3, 12, 25, 2), torch.arange(12) % 3
    opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(10):
        out = m.training_step(x, y, 0, torch.Generator().manual_seed(0))
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        losses.append(out["loss"].item())
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("cls", MOCO_METHODS)
def test_checkpoint_round_trip_keeps_queue_pointer_and_key_encoder(tmp_path, cls):
    m = tiny_method(cls=cls)
    m.enqueue(torch.nn.functional.normalize(torch.randn(5, 8), dim=1))
    with torch.no_grad():
        for p in m.key_encoder.parameters():
            p.add_(1.0)
    save_checkpoint(tmp_path / "c.pt", {"method": m.state_dict()})
    fresh = tiny_method(cls=cls)
    fresh.load_state_dict(load_checkpoint(tmp_path / "c.pt")["method"])
    for k, v in m.state_dict().items():
        torch.testing.assert_close(fresh.state_dict()[k], v)
    assert fresh.queue_ptr.item() == 5


@pytest.mark.parametrize("cls", MOCO_METHODS)
def test_forward_reports_the_spread_of_the_keys_it_enqueues(cls):
    m = tiny_method(cls=cls)
    out = m(torch.randn(8, 3, 12, 25, 2), torch.zeros(8, dtype=torch.long), 0,
            torch.Generator().manual_seed(0))
    torch.testing.assert_close(out["key_std"], m._pending.std(dim=0).mean())


def test_key_spread_is_a_collapse_monitor(monkeypatch):
    # ~1/sqrt(D) for keys spread over the sphere, 0 for one point.
    m = tiny_method()
    x, y, g = torch.randn(64, 3, 12, 25, 2), torch.zeros(64, dtype=torch.long), torch.Generator()
    spread = torch.nn.functional.normalize(torch.randn(64, 8), dim=1)
    monkeypatch.setattr(m, "embed_key", lambda x: spread)
    assert 0.25 < m(x, y, 0, g.manual_seed(0))["key_std"].item() < 0.45     # 1/sqrt(8) = 0.35
    point = torch.nn.functional.normalize(torch.ones(64, 8), dim=1)
    monkeypatch.setattr(m, "embed_key", lambda x: point)
    assert m(x, y, 0, g.manual_seed(0))["key_std"].item() < 1e-6
