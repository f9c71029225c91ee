"""AimCLR's components on hand-checked values, and the extreme augmentation set."""
import math

import torch
from torch.nn import functional as F

from skelbench import augment, skeleton
from skelbench.losses import moco_logits, multi_positive_nce, soft_cross_entropy
from skelbench.methods.aimclr import AimCLR, attention_drop, simam_attention
from skelbench.backbones.stgcn import STGCN
from skelbench.skeleton import NTU25


def test_simam_energy_on_a_small_map():
    f = torch.tensor([0.0, 0.0, 0.0, 4.0]).view(1, 1, 2, 2)      # mean 1, d = 1, 1, 1, 9
    var = 12 / 3
    expected = torch.sigmoid(torch.tensor([1, 1, 1, 9]) / (4 * (var + 1e-4)) + 0.5).view(1, 1, 2, 2)
    torch.testing.assert_close(simam_attention(f), expected)
    assert 0.62 < simam_attention(torch.randn(2, 3, 4, 5)).min() < 1


def test_attention_drop_removes_high_attention_joints_then_elements():
    # Two joints: joint 1 has an outlier (high energy: mean attention 0.695); joint 0 does not.
    f = torch.zeros(1, 1, 4, 2)
    f[0, 0, :, 0] = torch.tensor([1.0, 1.1, 0.9, 1.0])
    f[0, 0, 0, 1] = 30.0
    att = simam_attention(f)
    assert att[..., 1].mean() >= 0.69 > att[..., 0].mean()
    out = attention_drop(f, 0.69)
    assert (out[..., 1] == 0).all()
    # Joint drop rescales by 8/4 = 2; then elements with attention < 0.7 are kept, rescaled by
    # 8 / (their count).
    kept = (att < 0.69)
    expected = f * torch.tensor([1.0, 0.0]) * 2 * kept * (8 / kept.sum())
    torch.testing.assert_close(out, expected)


def test_d3m_and_nnm_positive_set():
    q = F.normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), dim=1)
    k = F.normalize(torch.tensor([[1.0, 0.1], [0.1, 1.0]]), dim=1)
    queue = F.normalize(torch.tensor([[1.0, 0.2], [0.0, 1.0], [-1.0, 0.0]]), dim=1)
    logits = moco_logits(q, k, queue, 0.1)
    target = logits.softmax(1)
    # Cross-entropy against itself is the entropy.
    entropy = -(target * target.log()).sum(1).mean()
    torch.testing.assert_close(soft_cross_entropy(logits, target), entropy)
    m = AimCLR(STGCN(width=4, hidden_dim=16), num_classes=2, queue_size=3, feature_dim=2, topk=1)
    m.queue.copy_(queue)
    q_e = F.normalize(torch.tensor([[0.0, 1.0], [0.0, 1.0]]), dim=1)   # neighbour: entry 1
    mask = m.mined_positives(logits, q_e, q_e)
    # Row 0: key, own nearest (entry 0), extreme's nearest (entry 1); row 1: key and entry 1 once.
    assert mask.tolist() == [[True, True, True, False], [True, False, True, False]]
    log_p = logits.log_softmax(1)
    expected = -((log_p[0, 0] + log_p[0, 1] + log_p[0, 2]) / 3 + (log_p[1, 0] + log_p[1, 2]) / 2) / 2
    torch.testing.assert_close(multi_positive_nce(logits, mask), expected)


def test_rotation_matches_sequential_axis_rotations():
    angles = torch.tensor([[30.0, 0.5, 0.25]])
    r = augment.rotation_matrices(angles)[0]
    a = [math.radians(v) for v in (30.0, 0.5, 0.25)]
    rx = torch.tensor([[1, 0, 0], [0, math.cos(a[0]), math.sin(a[0])], [0, -math.sin(a[0]), math.cos(a[0])]])
    ry = torch.tensor([[math.cos(a[1]), 0, -math.sin(a[1])], [0, 1, 0], [math.sin(a[1]), 0, math.cos(a[1])]])
    rz = torch.tensor([[math.cos(a[2]), math.sin(a[2]), 0], [-math.sin(a[2]), math.cos(a[2]), 0], [0, 0, 1]])
    torch.testing.assert_close(r, (rz @ ry @ rx).float())
    x = torch.randn(64, 3, 4, 25, 2)
    out = augment.rotate(x, torch.Generator().manual_seed(0))
    torch.testing.assert_close(out.norm(dim=1), x.norm(dim=1), rtol=1e-4, atol=1e-5)   # a rotation


def test_blur_kernel_faithful_is_unnormalised():
    x = torch.zeros(1, 3, 31, 25, 2)
    x[:, :, 15] = 1.0                                   # an impulse in time
    g = torch.Generator().manual_seed(0)
    out = augment.gaussian_blur(x, g, p=1.0, faithful=True)
    sigma = torch.rand(1, generator=torch.Generator().manual_seed(0)).item() * 1.9 + 0.1
    k = torch.exp(-torch.arange(-7, 8.0) ** 2 / (2 * sigma ** 2))
    torch.testing.assert_close(out[0, 0, 8:23, 0, 0], k)            # the kernel itself, sum > 1
    norm = augment.gaussian_blur(x, torch.Generator().manual_seed(0), p=1.0, faithful=False)
    torch.testing.assert_close(norm[0, 0, :, 0, 0].sum(), torch.tensor(1.0))


def test_flip_axis_mask_and_per_sample_choices():
    x = torch.randn(256, 3, 4, 25, 2)
    g = torch.Generator().manual_seed(1)
    flipped = augment.flip(x, g, p=0.5, layout=NTU25)
    perm = list(skeleton.NTU25.flip)
    is_flipped = [(flipped[i] == x[i][:, :, perm]).all().item() for i in range(len(x))]
    assert 90 < sum(is_flipped) < 166                  # about half, chosen per sample
    masked = augment.axis_mask(x, torch.Generator().manual_seed(2), p=1.0)
    zero_channels = (masked == 0).all(dim=(2, 3, 4)).sum(dim=1)
    assert (zero_channels == 1).all()
    assert len({int((masked[i] == 0).all(dim=(1, 2, 3)).nonzero()) for i in range(len(x))}) == 3
    a = augment.extreme(x, torch.Generator().manual_seed(3), layout=NTU25)
    b = augment.extreme(x, torch.Generator().manual_seed(3), layout=NTU25)
    torch.testing.assert_close(a, b)


def test_speed_resizes_into_a_zero_buffer():
    x = torch.arange(8.0).view(1, 1, 8, 1, 1).expand(4, 3, 8, 25, 2).contiguous()
    out = augment.speed(x, torch.Generator().manual_seed(0), p=1.0)
    r = torch.rand(4, generator=torch.Generator().manual_seed(0)) + 0.5
    for i in range(4):
        length = int(8 * r[i])
        ref = torch.clamp((torch.arange(8.0) + 0.5) * 8 / length - 0.5, 0, 7)   # linear ramp
        ref[length:] = 0
        torch.testing.assert_close(out[i, 0, :, 0, 0], ref)


def test_bone_rescale_keeps_directions_and_shrinks_lengths():
    x = torch.randn(6, 3, 5, 25, 2)
    out = augment.bone_rescale(x, torch.Generator().manual_seed(0), layout=NTU25)
    parent = list(skeleton.NTU25.bone_parent)
    before, after = x - x[:, :, :, parent], out - out[:, :, :, parent]
    torch.testing.assert_close(out[:, :, :, skeleton.NTU25.center_index], x[:, :, :, skeleton.NTU25.center_index])
    ratio = after.norm(dim=1) / before.norm(dim=1).clamp(min=1e-9)              # (n, T, V, M)
    ratio = torch.cat([ratio[:, :, :skeleton.NTU25.center_index], ratio[:, :, skeleton.NTU25.center_index + 1:]], dim=2)
    assert (ratio <= 0.5 + 1e-5).all() and (ratio >= 0).all()
    assert torch.allclose(ratio, ratio[:, :1].expand_as(ratio), atol=1e-4)     # one factor per bone
    cos = F.cosine_similarity(after, before, dim=1)
    keep = before.norm(dim=1) > 1e-6
    assert (cos[keep] > 0.999).all()
