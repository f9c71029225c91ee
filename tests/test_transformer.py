"""The spatio-temporal Transformer: shapes, layouts, padding, methods on it, its optimiser."""
import pytest
import torch

from skelbench import config as C
from skelbench.backbones import build_backbone
from skelbench.backbones.transformer import STTransformer
from skelbench.methods.actclr import ActCLR
from skelbench.methods.aimclr import AimCLR
from skelbench.methods.skeletonclr import SkeletonCLR
from skelbench.methods.tranclr import TranCLR
from skelbench.train import lr_factor


def tiny(attention, **kw):
    torch.manual_seed(0)
    return STTransformer(depth=2, dim=16, heads=2, attention=attention, max_frames=32, **kw)


@pytest.mark.parametrize("attention", ["joint", "factorised"])
@pytest.mark.parametrize("persons", [1, 2])
@pytest.mark.parametrize("frames", [12, 13])
def test_shapes(attention, persons, frames):
    net = tiny(attention).eval()
    x = torch.randn(3, 3, frames, 25, persons)
    fmap = net.forward_features(x)
    assert fmap.shape == (3 * persons, 16, -(-frames // 4), 25)    # odd T: zero-padded tubelet
    out = net(x)
    assert out.shape == (3, 16) and net.out_dim == 16
    torch.testing.assert_close(out, net.pool(fmap, persons))


def test_odd_length_is_padded_with_zero_frames():
    net = tiny("joint").eval()
    x = torch.randn(2, 3, 13, 25, 1)
    padded = torch.cat([x, torch.zeros(2, 3, 3, 25, 1)], dim=2)
    torch.testing.assert_close(net(x), net(padded))


def test_layouts_differ_and_persons_are_encoded_apart():
    x = torch.randn(2, 3, 8, 25, 2)
    assert not torch.allclose(tiny("joint")(x), tiny("factorised")(x))
    net = tiny("factorised").eval()
    # Person 1 never attends to person 0: changing person 1 leaves person 0's tokens alone.
    y = x.clone()
    y[..., 1] += 1.0
    torch.testing.assert_close(net.forward_features(x)[0::2], net.forward_features(y)[0::2])


def test_too_long_clips_and_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="max_frames"):
        tiny("joint")(torch.randn(1, 3, 40, 25, 1))
    with pytest.raises(ValueError, match="attention"):
        tiny("diagonal")
    with pytest.raises(ValueError, match="divisible"):
        STTransformer(dim=10, heads=4)


def test_registered_sizes_use_timm_blocks():
    from timm.layers import Attention
    small = build_backbone({"name": "transformer-small"}, "ntu25")
    assert sum(isinstance(m, Attention) for m in small.modules()) == 8   # 4 blocks x (space, time)
    big = build_backbone({"name": "transformer"}, "ntu25")
    assert big.out_dim == 256 and len(big.blocks) == 8


@pytest.mark.parametrize("cls", [SkeletonCLR, AimCLR, ActCLR, TranCLR])
def test_every_method_trains_on_the_transformer(cls):
    torch.manual_seed(0)
    m = cls(tiny("factorised"), num_classes=5, queue_size=16, feature_dim=8)
    opt = torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=1e-3)
    x = torch.randn(8, 3, 12, 25, 2)
    out = m.training_step(x, torch.zeros(8, dtype=torch.long), 0, torch.Generator().manual_seed(0))
    opt.zero_grad()
    out["loss"].backward()
    assert torch.isfinite(out["loss"])
    assert m.encoder.embed.weight.grad is not None and m.encoder.embed.weight.grad.abs().sum() > 0


def test_transformer_brings_its_optimiser_and_recipes_or_cards_override_it(project):
    cfg = C.resolve("skeletonclr", "synth-xsub", backbone="transformer-small")
    assert cfg["pretrain"]["optimizer"] == "adamw" and cfg["pretrain"]["lr_schedule"] == "cosine"
    assert cfg["pretrain"]["betas"] == [0.9, 0.95]
    stgcn = C.resolve("skeletonclr", "synth-xsub")
    assert stgcn["pretrain"]["optimizer"] == "sgd" and "lr_schedule" not in stgcn["pretrain"]
    recipe = project / "methods" / "skeletonclr.yaml"
    recipe.write_text(recipe.read_text() + "backbones:\n  transformer-small: {pretrain: {lr: 0.0002}}\n")
    assert C.resolve("skeletonclr", "synth-xsub", backbone="transformer-small")["pretrain"]["lr"] == 2e-4
    cfg = C.resolve("skeletonclr", "synth-xsub", backbone="transformer-small",
                    overrides=["pretrain.lr=0.0003", "backbone.depth=2"])
    assert cfg["pretrain"]["lr"] == 3e-4


def test_cosine_schedule_after_warmup():
    spec = {"epochs": 10, "warmup_epochs": 2, "lr_schedule": "cosine"}
    factors = [lr_factor(s, 5, spec) for s in range(50)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert factors[10] == pytest.approx(1.0) and factors[30] == pytest.approx(0.5)
    assert all(a >= b for a, b in zip(factors[10:], factors[11:])) and factors[-1] < 0.01
