import torch

from skelbench import augment, skeleton
from skelbench.skeleton import NTU25


def batch(n=6, t=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, t, 25, 2, generator=g)


def test_same_generator_seed_same_output():
    x = batch()
    for f in (augment.temporal_crop, augment.shear):
        a = f(x, torch.Generator().manual_seed(7))
        b = f(x, torch.Generator().manual_seed(7))
        torch.testing.assert_close(a, b)


def test_samples_get_different_parameters():
    # The same clip repeated in a batch must come out differently for different samples.
    x = batch(n=1).repeat(8, 1, 1, 1, 1)
    for f in (augment.temporal_crop, augment.shear):
        out = f(x, torch.Generator().manual_seed(1))
        distinct = {tuple(o.flatten()[:50].tolist()) for o in out}
        assert len(distinct) > 1, f.__name__


def test_temporal_crop_is_a_shift_of_the_mirror_padded_clip():
    t, ratio = 12, 6
    p = t // ratio
    x = torch.arange(t, dtype=torch.float32).view(1, 1, t, 1, 1).expand(16, 3, t, 25, 2)
    out = augment.temporal_crop(x, torch.Generator().manual_seed(0), ratio)
    padded = torch.cat([torch.arange(p).flip(0), torch.arange(t), torch.arange(t - p, t).flip(0)]).float()
    starts = set()
    for o in out:
        seq = o[0, :, 0, 0]
        start = next(s for s in range(2 * p + 1) if torch.equal(seq, padded[s:s + t]))
        starts.add(start)
    assert starts <= set(range(2 * p + 1)) and len(starts) > 1


def test_shear_matrix_has_unit_diagonal_and_bounded_offdiagonal():
    x = torch.eye(3).view(3, 3, 1, 1, 1).permute(1, 0, 2, 3, 4).contiguous()  # columns e_i
    x = x.view(1, 3, 3, 1, 1).expand(5, 3, 3, 1, 1)                           # t indexes e_i
    out = augment.shear(x, torch.Generator().manual_seed(0), amplitude=0.5)
    s = out[..., 0, 0]                                                       # (n, 3, 3) = S
    torch.testing.assert_close(torch.diagonal(s, dim1=1, dim2=2), torch.ones(5, 3))
    off = s[:, ~torch.eye(3, dtype=torch.bool)]
    assert off.abs().max() <= 0.5 and off.abs().min() > 0


def test_streams():
    x = batch(n=2)
    m = augment.motion(x)
    torch.testing.assert_close(m[:, :, 3], x[:, :, 4] - x[:, :, 3])
    assert (m[:, :, -1] == 0).all()
    b = augment.bone(x, NTU25)
    assert (b[:, :, :, skeleton.NTU25.center_index] == 0).all()
    elbow, shoulder = skeleton.NTU25.J["left_elbow"], skeleton.NTU25.J["left_shoulder"]
    torch.testing.assert_close(b[:, :, :, elbow], x[:, :, :, elbow] - x[:, :, :, shoulder])
