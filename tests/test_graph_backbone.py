import numpy as np
import pytest
import torch

from skelbench import skeleton
from skelbench.backbones.graph import hop_distance, spatial_partition
from skelbench.backbones.stgcn import STGCN, GraphConv


def test_partitions_sum_like_stgcn():
    a = spatial_partition(skeleton.NTU25)
    assert a.shape == (3, 25, 25)
    # Column-normalised adjacency split into 3 subsets: every column sums to 1 over all subsets.
    np.testing.assert_allclose(a.sum(axis=(0, 1)), np.ones(25), rtol=1e-6)
    # Subset 0 is the self-loop part: diagonal 1/deg(i) where deg counts the self-loop.
    deg = (hop_distance(25, skeleton.NTU25.edges) <= 1).sum(axis=0)
    np.testing.assert_allclose(np.diag(a[0]), 1.0 / deg, rtol=1e-6)
    assert np.count_nonzero(a[0] - np.diag(np.diag(a[0]))) == 0
    # Entry [j, i] is the message j -> i. Centripetal (subset 1): the source is farther from the
    # centre than the target, e.g. neck -> spine_shoulder (the centre).
    c, neck = skeleton.NTU25.center_index, skeleton.NTU25.J["neck"]
    assert a[1, neck, c] > 0 and a[2, neck, c] == 0
    # Centrifugal (subset 2): centre -> neck.
    assert a[2, c, neck] > 0 and a[1, c, neck] == 0


def test_partition_keeps_stgcn_max_hop_quirk():
    # Hop distances are cut at max_hop=1, so an edge between two joints both >1 hop from the
    # centre (elbow-wrist) compares inf == inf and lands in subset 1 (root), as in ST-GCN.
    a = spatial_partition(skeleton.NTU25)
    e, w = skeleton.NTU25.J["left_elbow"], skeleton.NTU25.J["left_wrist"]
    assert a[1, e, w] > 0 and a[1, w, e] > 0 and a[2, e, w] == 0


def test_graphconv_equals_conv_then_einsum():
    torch.manual_seed(0)
    adj = torch.from_numpy(spatial_partition(skeleton.NTU25)) * torch.rand(3, 25, 25)
    g = GraphConv(5, 7, 3)
    torch.nn.init.normal_(g.conv.bias)
    x = torch.randn(4, 5, 6, 25)
    reference = torch.einsum("nkctv,kvw->nctw", g.conv(x).view(4, 3, 7, 6, 25), adj)
    torch.testing.assert_close(g(x, adj), reference, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("persons", [1, 2])
def test_stgcn_shapes(persons):
    model = STGCN(width=4, hidden_dim=32)
    x = torch.randn(3, 3, 12, 25, persons)
    feats = model.forward_features(x)
    assert feats.shape == (3 * persons, 32, 3, 25)     # T: 12 -> 6 -> 3
    assert model.pool(feats, persons).shape == (3, 32)
    assert model(x).shape == (3, model.out_dim)


def test_stgcn_width_plan():
    model = STGCN(width=16, hidden_dim=256)
    outs = [b.gcn.c_out for b in model.blocks]
    assert outs == [16, 16, 16, 16, 32, 32, 32, 64, 64, 256]
    assert model.blocks[0].residual is None and isinstance(model.blocks[1].residual, torch.nn.Identity)
    n_params = sum(p.numel() for p in model.parameters())
    assert 0.8e6 < n_params < 0.85e6   # ~0.82 M, as the papers' quarter-width encoder
