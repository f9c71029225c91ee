"""TranCLR's anchors, cross-anchor weight and soft alignment on hand-checked values."""
import numpy as np
import torch
from torch.nn import functional as F

from skelbench import skeleton
from skelbench.losses import soft_alignment
from skelbench.methods.tranclr import atac, cross_weight, local_substitution
from skelbench.skeleton import NTU25


def test_global_interpolation_is_exact():
    xi, xj = torch.randn(6, 3, 20, 25, 2), torch.randn(6, 3, 20, 25, 2)
    g = torch.Generator().manual_seed(0)
    anchor, lam = atac(xi, xj, g, mode="global", layout=NTU25)
    lam_ref = torch.rand(6, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(lam, lam_ref)
    torch.testing.assert_close(anchor, lam.view(6, 1, 1, 1, 1) * xi + (1 - lam.view(6, 1, 1, 1, 1)) * xj)


def test_local_substitution_touches_only_chosen_parts_and_window():
    n, t = 32, 40
    xi = torch.randn(n, 3, t, 25, 2)
    xj = torch.randn(n, 3, t, 25, 2)
    anchor, mask, lam = local_substitution(xi, xj, torch.Generator().manual_seed(1), (2, 3), (16, 24),
                                           (0.5, 2.0), layout=NTU25)
    torch.testing.assert_close(lam, mask.float().mean(dim=(1, 2)))
    outside = ~mask[:, None, :, :, None].expand_as(xj)
    assert torch.equal(anchor[outside], xj[outside])
    parts = [set(j) for j in skeleton.NTU25.body_parts.values()]
    for i in range(n):
        frames = mask[i].any(dim=1).nonzero().flatten().tolist()
        joints = set(mask[i].any(dim=0).nonzero().flatten().tolist())
        assert 16 <= len(frames) <= 24 and frames == list(range(frames[0], frames[-1] + 1))
        chosen = [p for p in parts if p <= joints]
        assert 2 <= len(chosen) <= 3 and set().union(*chosen) == joints
        assert mask[i].sum() == len(frames) * len(joints)      # a window x parts block
        # Inside, each joint's trajectory is a linear resize of some window of X_i's trajectory:
        # recover it from the ends and compare with a direct np.interp.
        v = min(joints)
        got = anchor[i, :, frames, v, 0].numpy()
        src = xi[i, :, :, v, 0].numpy()
        best = None
        for s0 in range(t):
            for length in range(1, t - s0 + 1):
                pos = s0 + np.arange(len(frames)) * (length - 1) / max(len(frames) - 1, 1)
                ref = np.stack([np.interp(pos, np.arange(t), src[c]) for c in range(3)])
                if np.allclose(ref, got, atol=1e-5):
                    best = (s0, length)
                    break
            if best:
                break
        assert best is not None and 0.5 * len(frames) - 1 <= best[1] <= 2 * len(frames) + 1


def test_both_mode_mixes_global_and_local_per_pair():
    xi, xj = torch.randn(200, 3, 30, 25, 2), torch.randn(200, 3, 30, 25, 2)
    anchor, lam = atac(xi, xj, torch.Generator().manual_seed(2), mode="both", window=(8, 12), layout=NTU25)
    lam5 = lam.view(-1, 1, 1, 1, 1)
    is_global = torch.isclose(anchor, lam5 * xi + (1 - lam5) * xj, atol=1e-6).flatten(1).all(1)
    assert 70 < is_global.sum() < 130


def test_cross_weight_hand_values():
    l1, l2, mu = torch.tensor([0.3]), torch.tensor([0.6]), torch.tensor([0.4])
    # k_h = 0.3 + 0.4, k_c = min(0.3, 0.4) + min(0.7, 0.6) = 0.9 -> 0.7 / 1.6
    torch.testing.assert_close(cross_weight(l1, l2, mu), torch.tensor([0.4375]))
    # With mu = 1 - lambda_2 it is the paper's k_c = min(l1, 1-l2) + min(1-l1, l2).
    paper = (0.3 + 0.4) / ((0.3 + 0.4) + (min(0.3, 0.4) + min(0.7, 0.6)))
    torch.testing.assert_close(cross_weight(l1, l2, 1 - l2), torch.tensor([paper]))
    assert cross_weight(torch.tensor([0.5]), torch.tensor([0.5]), torch.tensor([0.5])).item() == 0.5


def test_soft_alignment_matches_direct_formula_and_pulls_query_to_target_spectrum():
    torch.manual_seed(0)
    memory = F.normalize(torch.randn(50, 8), dim=1)
    q = torch.randn(4, 8, requires_grad=True)
    target = torch.randn(4, 8)
    loss = soft_alignment(q, target, memory, topk=10, tau_q=0.1, tau_k=0.05)
    qn, tn = F.normalize(q, dim=1), F.normalize(target, dim=1)
    total = 0.0
    for b in range(4):
        sims = tn[b] @ memory.t()
        idx = sims.argsort(descending=True)[:10]
        pk = torch.softmax(sims[idx] / 0.05, 0)
        pq = torch.softmax((qn[b] @ memory.t())[idx] / 0.1, 0)
        total = total + (pk * (pk.log() - pq.log())).sum()
    torch.testing.assert_close(loss, total / 4)
    loss.backward()
    with torch.no_grad():
        after = soft_alignment(q - 0.5 * q.grad, target, memory, topk=10)
    assert after < loss
