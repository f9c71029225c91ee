"""ActCLR's components: the actionlet map, the swap and bone transfer, the relational KL, the
curriculum, and its initialisation from an AimCLR pretraining."""
import json

import pytest
import torch
from click.testing import CliRunner
from torch.nn import functional as F

from skelbench import skeleton
from skelbench.backbones.stgcn import STGCN
from skelbench.cli import main
from skelbench.losses import relational_kl
from skelbench.methods.actclr import ActCLR, actionlet_map, bone_transfer, swap, upsample
from skelbench.skeleton import NTU25


def tiny():
    torch.manual_seed(0)
    return ActCLR(STGCN(width=4, hidden_dim=16), 5, queue_size=32, feature_dim=8)


def test_actionlet_map_has_a_gradient_and_is_pooled_per_body_part():
    m = tiny()
    x = torch.randn(6, 3, 16, 25, 2)
    anchor = m.embed_key(x.mean(dim=0, keepdim=True))
    fmap = m.encoder.forward_features(x).detach()
    leaf = fmap.clone().requires_grad_(True)
    z = m.projector(m.encoder.pool(leaf, 2))
    (grad,) = torch.autograd.grad(1 - F.cosine_similarity(z, anchor.expand_as(z), dim=1).mean(), leaf)
    assert grad.abs().sum() > 0                                   # a real cosine: non-zero
    act = actionlet_map(fmap, m._query_head, anchor, 2, layout=NTU25)
    assert act.shape == (12, 1, fmap.shape[2], 25) and 0 <= act.min() and act.max() <= 1
    assert 0 < act.mean() < 1                                     # some parts on, some off
    for joints in skeleton.NTU25.body_parts.values():                   # one value per part and frame
        part = act[..., list(joints)]
        torch.testing.assert_close(part, part[..., :1].expand_as(part))
    up = upsample(act, 16, 2)
    assert up.shape == (6, 1, 16, 25, 2)
    torch.testing.assert_close(up[:, :, 0, :, 0], act[0::2, :, 0])   # corners aligned


def test_swap_pastes_partner_parts_or_mixes():
    x, partner = torch.zeros(64, 3, 40, 25, 2), torch.ones(64, 3, 40, 25, 2)
    mixed, share, _, _ = swap(x, partner, torch.Generator().manual_seed(0), layout=NTU25)
    for i in range(64):
        s = share[i, 0, :, :, 0]
        if ((s > 0) & (s < 1)).any():                              # mixup: one share everywhere
            assert torch.allclose(s, s[0, 0].expand_as(s))
            torch.testing.assert_close(mixed[i], s[0, 0] * partner[i])
        else:                                                       # pasted window x parts
            frames = s.any(dim=1).nonzero().flatten()
            assert len(frames) % 4 == 0 and frames[0] % 4 == 0
            torch.testing.assert_close(mixed[i, :, :, :, 0], s.expand(3, -1, -1))


def test_bone_transfer_keeps_directions_and_takes_partner_lengths():
    x, partner = torch.randn(4, 3, 5, 25, 2), torch.randn(4, 3, 5, 25, 2)
    out = bone_transfer(x, partner, NTU25)
    parent = list(skeleton.NTU25.bone_parent)
    bones, theirs, new = (a - a[:, :, :, parent] for a in (x, partner, out))
    keep = [v for v in range(25) if v != skeleton.NTU25.center_index]
    # (the code's 1e-5 under each root moves short bones' lengths by up to ~1e-3)
    torch.testing.assert_close(new.norm(dim=1)[..., keep, :], theirs.norm(dim=1)[..., keep, :],
                               rtol=1e-3, atol=1e-4)
    assert (F.cosine_similarity(new, bones, dim=1)[..., keep, :] > 0.999).all()


def test_relational_kl_direct_formula():
    torch.manual_seed(1)
    memory = F.normalize(torch.randn(40, 6), dim=1)
    q, t = torch.randn(3, 6), memory[:3] * 1.0                    # teachers equal to entries 0-2
    loss = relational_kl(q, t, memory, topk=8, tau_t=0.04, tau_s=0.1, dedup=0.95)
    qn, tn = F.normalize(q, dim=1), F.normalize(t, dim=1)
    total = 0.0
    for b in range(3):
        s_t = tn[b] @ memory.t()
        s_t[s_t > 0.95] = -1.0                                     # the duplicate drops out
        idx = s_t.argsort(descending=True)[:8]
        pt = torch.softmax(s_t[idx] / 0.04, 0)
        pq = torch.softmax(((qn[b] @ memory.t())[idx]) ** 2 / 0.1, 0)
        total = total + (pt * (pt.log() - pq.log())).sum()
    torch.testing.assert_close(loss, total / 3)


def test_curriculum_thins_the_sets_by_epoch():
    m = tiny()
    g = torch.Generator().manual_seed(0)
    sizes = []
    for epoch in (0, 150, 250, 320):
        normal, strong, weak = m.stage_sets(epoch, g)
        sizes.append((len(normal), len(strong), weak))
    assert sizes == [(5, 7, True), (3, 5, True), (1, 3, True), (0, 0, False)]
    assert m.stage_sets(250, g) == m.stage_sets(250, g)          # drawn once per epoch


def test_actclr_starts_from_an_aimclr_pretraining(project, tmp_path):
    results = tmp_path / "results"
    args = ["run", "--dataset", "synth-xsub", "--method", "actclr", "--results-dir", str(results), "--set", "pretrain.batch_size=16"]
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 0, out.output
    records = [json.loads(p.read_text()) for p in results.glob("runs/*/record.json")]
    pre = {r["method"]: r for r in records if r["kind"] == "pretrain"}
    assert set(pre) == {"aimclr", "actclr"}
    assert pre["actclr"]["parent_run_id"] == pre["aimclr"]["run_id"]
    assert pre["actclr"]["config"]["init"]["method"] == "aimclr"
    assert pre["aimclr"]["config"]["pretrain"]["batch_size"] == 16     # --set reaches the parent
    again = CliRunner().invoke(main, args)
    assert "already done" in again.output


# --- one switch at a time, on hand-made cases (docs/methods.md, "ActCLR") -------------------------
def chain(bone: torch.Tensor, bodies: int = 1) -> torch.Tensor:
    """(1, 3, 1, 25, bodies) joints whose every bone (child - parent) is ``bone`` (3,) on body 0
    (the other bodies at the origin)."""
    x = torch.zeros(1, 3, 1, 25, bodies)
    parent = NTU25.bone_parent
    for v in NTU25.root_outward[1:]:
        x[0, :, 0, v, 0] = x[0, :, 0, parent[v], 0] + bone
    return x


def bones_of(x):
    return (x - x[:, :, :, list(NTU25.bone_parent)])[0, :, 0, :, 0]     # (3, V)


def test_bone_transfer_in_full_or_partial_and_over_coordinates_or_bodies():
    keep = [v for v in range(25) if v != NTU25.center_index]
    x, partner = chain(torch.tensor([3.0, 4.0, 0.0]), 2), chain(torch.tensor([6.0, 4.0, 0.0]), 2)
    full = bones_of(bone_transfer(x, partner, NTU25))[:, keep]
    # |(6, 4, 0)| / |(3, 4, 0)| = sqrt(52) / 5: the direction kept, the partner's length.
    torch.testing.assert_close(full, torch.tensor([3.0, 4.0, 0.0])[:, None].expand_as(full) * 52 ** 0.5 / 5)
    # The run's lengths: per coordinate over the two bodies (the second at the origin): x doubles,
    # y keeps its ratio 1, z stays 0.
    person = bones_of(bone_transfer(x, partner, NTU25, person_axis=True))[:, keep]
    torch.testing.assert_close(person, torch.tensor([6.0, 4.0, 0.0])[:, None].expand_as(person))
    # The run's partial transfer: the ratio's power 100 / (e + 400), e the 1-based epoch.
    m = tiny()
    m.released = frozenset({"partial_transfer"})
    x, partner = chain(torch.tensor([1.0, 0.0, 0.0])), chain(torch.tensor([4.0, 0.0, 0.0]))
    for epoch, e in ((0, 1), (349, 350)):
        got = bones_of(m.transfer(x, partner, epoch))[0, keep]
        torch.testing.assert_close(got, torch.full_like(got, 4.0 ** (100 / (e + 400))), rtol=1e-5, atol=1e-5)
    m.released = frozenset()
    torch.testing.assert_close(bones_of(m.transfer(x, partner, 0))[0, keep], torch.full((24,), 4.0), rtol=1e-5, atol=1e-5)


def test_the_final_commits_stream_transfer():
    from skelbench.methods.actclr import stream_transfer
    torch.manual_seed(0)
    x, partner = torch.randn(2, 3, 8, 25, 1), torch.randn(2, 3, 8, 25, 1)
    motion = stream_transfer(x, partner, "motion", NTU25)
    z = (x - x.mean(3, keepdim=True)) / (x.std(2, keepdim=True) + 1e-3)
    torch.testing.assert_close(motion, z * partner.std(2, keepdim=True) + partner.mean(3, keepdim=True))
    bone = stream_transfer(x, partner, "bone", NTU25)
    torch.testing.assert_close(bone.norm(dim=1), (partner.square().sum(1) + 1e-5).sqrt() * x.norm(dim=1)
                               / (x.square().sum(1) + 1e-5).sqrt())
    torch.testing.assert_close(stream_transfer(x, partner, "joint", NTU25), bone_transfer(x, partner, NTU25))
    m = tiny()
    m.stream, m.released = "motion", frozenset({"stream_transfer"})
    torch.testing.assert_close(m.transfer(x, partner, 0), motion)


def test_views_are_stream_data_before_any_mixing():
    x = torch.randn(4, 3, 16, 25, 2)
    joint, motion = tiny(), tiny()
    motion.stream = "motion"
    from skelbench.augment import to_stream
    a = joint.views(x, 0, torch.Generator().manual_seed(1))
    b = motion.views(x, 0, torch.Generator().manual_seed(1))
    for j, mo in zip(a, b):
        torch.testing.assert_close(mo, to_stream(j, "motion", NTU25))
    assert motion.to_input(b[0]) is b[0]                    # the encoder reads them as they are


def test_swap_credits_cells_on_the_feature_grid():
    x, partner = torch.zeros(256, 3, 50, 25, 1), torch.ones(256, 3, 50, 25, 1)
    s = swap(x, partner, torch.Generator().manual_seed(0), layout=NTU25)
    assert s.taken.shape == s.given.shape == (256, 13, 25)           # ceil(50 / 4) cells
    kinds = set()
    for i in range(256):
        share, taken, given = s.share[i, 0, :, :, 0], s.taken[i], s.given[i]
        if ((share > 0) & (share < 1)).any():                        # mixup: lambda everywhere
            torch.testing.assert_close(taken, share[0, 0].expand_as(taken))
            torch.testing.assert_close(given, taken)
            kinds.add("mixup")
            continue
        frames = share.any(dim=1).nonzero().flatten()
        cells = sorted({int(f) // 4 for f in frames})
        joints = share.any(dim=0)
        expected = torch.zeros(13, 25)
        expected[cells[0]:cells[-1] + 1] = joints.float()
        torch.testing.assert_close(taken, expected)
        if torch.equal(given, taken):
            kinds.add("plain")
        else:                                                        # speed: the parts, whole clip
            torch.testing.assert_close(given, joints.float().expand(13, 25))
            kinds.add("speed")
    assert kinds == {"mixup", "plain", "speed"}


def test_branch3_energy_is_a_share_per_person_then_averaged():
    from skelbench.methods.actclr import energy_weights
    energy = torch.ones(2, 2, 1, 4, 25)
    energy[:, 1, :, :2] = 9.0                          # person 2's energy in the first two cells
    taken = torch.zeros(2, 4, 25)
    taken[:, :2] = 1.0                                 # the swap took the first two cells
    own, other = energy_weights(energy, torch.tensor([1, 0]), taken, taken)
    # Person 1 keeps 1/2 and gets 1/2; person 2 keeps 2/20 and gets 18/20 (the 1e-5 aside):
    # means 0.3 and 0.7, normalised to sum 1.
    torch.testing.assert_close(own, torch.tensor([0.3, 0.3]), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(other, torch.tensor([0.7, 0.7]), rtol=1e-4, atol=1e-5)


def test_feature_axis_mix_weighs_columns_as_the_run():
    from skelbench.methods.actclr import mixed_key
    k, j = torch.eye(4), torch.tensor([1, 2, 3, 0])
    own = torch.tensor([1.0, 0.5, 0.0, 0.25])
    per_sample = mixed_key(k, j, own, 1 - own)
    torch.testing.assert_close(per_sample[1], F.normalize(torch.tensor([0.0, 0.5, 0.5, 0.0]), dim=0))
    run = mixed_key(k, j, own, 1 - own, feature_axis=True)
    # Row 1 = k_1 * own + k_2 * (1 - own), elementwise: column 1 takes own[1], column 2 1 - own[2].
    torch.testing.assert_close(run[1], F.normalize(torch.tensor([0.0, 0.5, 1.0, 0.0]), dim=0))
    with pytest.raises(ValueError, match=r"batch \(3\) to equal the feature dimension \(4\)"):
        mixed_key(k[:3], j[:3] % 3, own[:3], 1 - own[:3], feature_axis=True)


def test_actionlet_and_key_pooling_stay_float32_under_bf16_autocast():
    m = tiny()
    x = torch.randn(6, 3, 16, 25, 2)
    anchor = m.embed_key(x.mean(dim=0, keepdim=True))
    fmap = m.encoder.forward_features(x).detach()
    rounded, anchor16 = fmap.bfloat16(), anchor.bfloat16()      # what an autocast encoder gives
    for inert in (False, True):
        exact = actionlet_map(rounded.float(), m._query_head, anchor16.float(), 2, inert=inert,
                              layout=NTU25)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            auto = actionlet_map(rounded, m._query_head, anchor16, 2, inert=inert, layout=NTU25)
        assert auto.dtype == torch.float32
        torch.testing.assert_close(auto, exact, rtol=0, atol=0)
    m.key_encoder.forward_features = lambda inp: fmap
    plain = m.key(x, anchor)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        auto = m.key(x, anchor)
    assert auto.dtype == torch.float32
    torch.testing.assert_close(auto, plain, rtol=0, atol=0)
