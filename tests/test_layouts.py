"""Skeleton layouts as values: ntu25 unchanged, kinect-v1-20's graph, flip and parts, every
augmentation and method on a kinect-v1-20 batch, and encoders of another layout refused."""
from __future__ import annotations

import copy

import pytest
import torch

from skelbench import augment
from skelbench.backbones.graph import spatial_partition
from skelbench.backbones.stgcn import STGCN
from skelbench.errors import ConfigError
from skelbench.skeleton import KINECT_V1_20, LAYOUTS, NTU25, Layout, get_layout, require_same

# ntu25 as it was defined before layouts were values (module constants, 0-based).
NTU_BONE_PARENT = (1, 20, 20, 2, 20, 4, 5, 6, 20, 8, 9, 10, 0, 12, 13, 14, 0, 16, 17, 18, 20,
                   22, 7, 24, 11)
NTU_FLIP = (0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 16, 17, 18, 19, 12, 13, 14, 15, 20, 23, 24, 21, 22)
# CTR-GCN's NW-UCLA graph, 1-based.
UCLA_EDGES = {(1, 2), (2, 3), (4, 3), (5, 3), (6, 5), (7, 6), (8, 7), (9, 3), (10, 9), (11, 10),
              (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18), (20, 19)}


def test_ntu25_is_unchanged():
    assert NTU25.num_joints == 25 and NTU25.bodies == 2
    assert NTU25.bone_parent == NTU_BONE_PARENT
    assert NTU25.flip == NTU_FLIP
    assert NTU25.center_index == 20
    assert NTU25.body_parts["left_arm"] == (4, 5, 6, 7, 21, 22)


def test_kinect_v1_20_graph_has_20_nodes_and_ctrgcns_19_edges():
    assert KINECT_V1_20.num_joints == 20 and KINECT_V1_20.bodies == 1
    assert {(a + 1, b + 1) for a, b in KINECT_V1_20.edges} == UCLA_EDGES
    assert spatial_partition(KINECT_V1_20).shape == (3, 20, 20)
    model = STGCN(width=4, hidden_dim=8, dropout=0.0, layout="kinect-v1-20")
    assert model(torch.randn(2, 3, 16, 20, 1)).shape == (2, 8)


@pytest.mark.parametrize("layout", list(LAYOUTS.values()), ids=list(LAYOUTS))
def test_flip_is_an_involution_swapping_each_left_joint_with_its_right_twin(layout):
    flip = layout.flip
    assert all(flip[flip[v]] == v for v in range(layout.num_joints))
    for v, name in enumerate(layout.joints):
        twin = layout.joints[flip[v]]
        if name.startswith("left_"):
            assert twin == "right_" + name[5:]
        elif name.startswith("right_"):
            assert twin == "left_" + name[6:]
        else:
            assert flip[v] == v


@pytest.mark.parametrize("layout", list(LAYOUTS.values()), ids=list(LAYOUTS))
def test_body_parts_are_disjoint_and_cover_every_joint(layout):
    members = [j for joints in layout.body_parts.values() for j in joints]
    assert sorted(members) == list(range(layout.num_joints))
    assert list(layout.body_parts) == ["trunk", "left_arm", "right_arm", "left_leg", "right_leg"]
    parent = layout.bone_parent
    assert parent[layout.center_index] == layout.center_index
    assert layout.root_outward[0] == layout.center_index


def test_an_inconsistent_layout_is_refused_where_it_is_defined():
    fields = {f: getattr(KINECT_V1_20, f) for f in ("joints", "edges", "center", "parts",
                                                    "length_joint", "shoulders", "bodies")}
    with pytest.raises(ValueError, match="tree"):
        Layout(name="bad", **{**fields, "edges": fields["edges"][:-1]})
    with pytest.raises(ValueError, match="disjoint"):
        parts = dict(fields["parts"])
        Layout(name="bad", **{**fields, "parts": tuple({**parts, "trunk": (0, 1, 2)}.items())})
    with pytest.raises(ConfigError, match="kinect-v1-20"):
        get_layout("kinect-v1")


def test_copies_share_the_layout():
    model = STGCN(width=4, hidden_dim=8, layout=KINECT_V1_20)
    assert copy.deepcopy(model).layout is KINECT_V1_20


def test_a_mismatched_layout_is_refused_naming_both():
    with pytest.raises(ConfigError, match=r"checkpoint x\.pt is for the ntu25 .* data is kinect-v1-20"):
        require_same("kinect-v1-20", "ntu25", "checkpoint x.pt")
    require_same(NTU25, None, "an old checkpoint")          # no layout recorded: ntu25


def test_a_checkpoint_of_another_layout_is_refused(tmp_path):
    from skelbench.train import encoder_state, save_checkpoint
    model = STGCN(width=4, hidden_dim=8)
    save_checkpoint(tmp_path / "c.pt", {"method": {f"encoder.{k}": v for k, v in
                                                   model.state_dict().items()}, "layout": "ntu25"})
    assert encoder_state(tmp_path / "c.pt", layout=NTU25)
    with pytest.raises(ConfigError, match="ntu25.*kinect-v1-20"):
        encoder_state(tmp_path / "c.pt", layout=KINECT_V1_20)


def _batch(n=8, t=20):
    return torch.randn(n, 3, t, 20, 1, generator=torch.Generator().manual_seed(0))


def test_every_augmentation_and_stream_runs_on_a_kinect_v1_20_batch():
    from skelbench.methods.actclr import bone_transfer, swap
    from skelbench.methods.tranclr import atac
    x, g, L = _batch(), torch.Generator().manual_seed(1), KINECT_V1_20
    outputs = [augment.temporal_crop(x, g), augment.shear(x, g), augment.flip(x, g, layout=L),
               augment.rotate(x, g), augment.gaussian_noise(x, g), augment.gaussian_blur(x, g),
               augment.axis_mask(x, g), augment.temporal_flip(x, g), augment.speed(x, g),
               augment.bone_rescale(x, g, layout=L), augment.extreme(x, g, layout=L),
               bone_transfer(x, x.flip(0), L), swap(x, x.flip(0), g, layout=L)[0],
               atac(x, x.flip(0), g, layout=L, window=(4, 8))[0],
               *(augment.to_stream(x, s, L) for s in augment.STREAMS)]
    assert all(o.shape == x.shape and torch.isfinite(o).all() for o in outputs)
    assert augment.part_mask(g, 4, (2, 3), "cpu", L).shape == (4, 20)
    flipped = augment.flip(x, g, p=1.0, layout=L)
    assert torch.equal(flipped[:, :, :, 4], x[:, :, :, 8])        # left shoulder <- right
    assert (augment.bone(x, L)[:, :, :, L.center_index] == 0).all()


@pytest.mark.parametrize("cls", ["skeletonclr", "aimclr", "actclr", "tranclr", "supervised"])
def test_every_method_takes_one_step_on_a_kinect_v1_20_batch(cls):
    from skelbench.methods import METHODS
    kw = {} if cls == "supervised" else {"queue_size": 32, "feature_dim": 8}
    if cls in ("actclr", "tranclr"):
        kw["topk"] = 8
    method = METHODS.get(cls)(STGCN(width=4, hidden_dim=16, dropout=0.0, layout=KINECT_V1_20), 5,
                              **kw)
    before = [p.detach().clone() for p in method.encoder.parameters()]
    opt = torch.optim.SGD([p for p in method.parameters() if p.requires_grad], lr=0.1)
    out = method(_batch(t=24), torch.arange(8) % 5, 0, torch.Generator().manual_seed(0))
    assert torch.isfinite(out["loss"])
    opt.zero_grad()
    out["loss"].backward()
    opt.step()
    method.on_step_end()
    assert any(not torch.equal(a, b) for a, b in zip(before, method.encoder.parameters()))


def test_the_transformer_takes_the_layouts_joint_count():
    from skelbench.backbones import build_backbone
    enc = build_backbone({"name": "transformer-small", "depth": 1, "dim": 16, "heads": 2},
                         "kinect-v1-20")
    assert enc.joint_embed.shape[2] == 20
    assert enc(torch.randn(2, 3, 16, 20, 1)).shape == (2, 16)
