"""ActCLR's components: the actionlet map, the swap and bone transfer, the relational KL, the
curriculum, and its initialisation from an AimCLR pretraining."""
import json

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
    mixed, share = swap(x, partner, torch.Generator().manual_seed(0), layout=NTU25)
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
    torch.testing.assert_close(new.norm(dim=1)[..., keep, :], theirs.norm(dim=1)[..., keep, :],
                               rtol=1e-4, atol=1e-5)
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
