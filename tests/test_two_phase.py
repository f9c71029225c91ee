"""Two-phase methods start from the whole parent model; the key side's official initialisation;
ActCLR's released-code switches; the papers' ablation tables."""
import json

import pytest
import torch
from click.testing import CliRunner

from skelbench import config as C
from skelbench.backbones.stgcn import STGCN
from skelbench.cli import main
from skelbench.methods import actclr as A
from skelbench.methods.actclr import ActCLR, actionlet_map, swap
from skelbench.methods.aimclr import AimCLR
from skelbench.methods.base import InitError, load_parent
from skelbench.methods.skeletonclr import SkeletonCLR
from skelbench.methods.tranclr import TranCLR
from skelbench.train import load_checkpoint

from .conftest import load_all
from skelbench.skeleton import NTU25

load_all()


def small(cls, width=4, **kw):
    return cls(STGCN(width=width, hidden_dim=16), 5, queue_size=32, feature_dim=8, **kw)


def trained_parent() -> AimCLR:
    """An AimCLR whose query and key sides differ (one optimiser step, EMA 0.5)."""
    torch.manual_seed(0)
    parent = small(AimCLR, momentum=0.5)
    opt = torch.optim.SGD([p for p in parent.parameters() if p.requires_grad], lr=0.5)
    out = parent.training_step(torch.randn(8, 3, 12, 25, 2), None, 0, torch.Generator().manual_seed(0))
    out["loss"].backward()
    opt.step()
    parent.on_step_end()
    return parent


@pytest.mark.parametrize("cls", [TranCLR, ActCLR])
def test_init_takes_the_parent_query_side_for_both_sides_and_a_fresh_memory(cls):
    parent = trained_parent()
    state = parent.state_dict()
    torch.manual_seed(1)
    child = small(cls)
    carried = load_parent(child, state, "parent.pt")
    assert carried == ["encoder", "projector", "key_encoder <- encoder", "key_projector <- projector"]
    for side, source in (("encoder", "encoder"), ("projector", "projector"),
                         ("key_encoder", "encoder"), ("key_projector", "projector")):
        ours = getattr(child, side).state_dict()
        theirs = getattr(parent, source).state_dict()
        assert ours.keys() == theirs.keys()
        for name in ours:                      # exact: weights, biases and BN statistics
            assert torch.equal(ours[name], theirs[name]), f"{side}.{name}"
    # The parent's key side is not what the child's key side starts from.
    assert not torch.equal(child.key_projector[0].weight, parent.key_projector[0].weight)
    assert not torch.equal(child.queue, parent.queue)
    torch.testing.assert_close(child.queue.norm(dim=1), torch.ones(32))     # random unit keys


def test_init_from_another_backbone_names_the_parameter():
    torch.manual_seed(0)
    with pytest.raises(InitError, match=r"parent\.pt: parameter encoder\.\S+ has shape"):
        load_parent(small(TranCLR, width=4), small(AimCLR, width=8).state_dict(), "parent.pt")


def test_official_processors_draw_the_key_encoder_anew():
    torch.manual_seed(0)
    faithful = small(SkeletonCLR)                                   # the recipes' default
    torch.manual_seed(0)
    copied = small(SkeletonCLR, faithful=False)
    w = "blocks.1.gcn.conv.weight"
    assert not torch.equal(faithful.key_encoder.state_dict()[w], faithful.encoder.state_dict()[w])
    assert not torch.equal(faithful.key_projector[0].weight, faithful.projector[0].weight)
    assert torch.equal(copied.key_encoder.state_dict()[w], copied.encoder.state_dict()[w])
    # Drawn from the same initialiser: BN weights near 1, conv weights of std 0.02.
    assert abs(faithful.key_encoder.state_dict()[w].std().item() - 0.02) < 0.005
    assert torch.equal(faithful.encoder.state_dict()[w], copied.encoder.state_dict()[w])


def test_run_records_what_init_carried(project, tmp_path, monkeypatch):
    import skelbench.api as api
    seen = {}
    real = api.pretrain

    def spy(method, *a, **kw):                  # the child's state as training starts
        seen[type(method).__name__] = {k: v.clone() for k, v in method.state_dict().items()}
        return real(method, *a, **kw)

    monkeypatch.setattr(api, "pretrain", spy)
    results = tmp_path / "results"
    out = CliRunner().invoke(main, ["run", "--dataset", "synth-xsub", "--method", "tranclr", "--results-dir", str(results),
                                    "--set", "pretrain.batch_size=16"])
    assert out.exit_code == 0, out.output
    records = [json.loads(p.read_text()) for p in results.glob("runs/*/record.json")]
    pre = {r["method"]: r for r in records if r["kind"] == "pretrain"}
    assert set(pre) == {"aimclr", "tranclr"}
    child = pre["tranclr"]
    assert child["parent_run_id"] == pre["aimclr"]["run_id"]
    assert child["init"] == {"parent_run_id": pre["aimclr"]["run_id"],
                             "carried": ["encoder", "projector", "key_encoder <- encoder",
                                         "key_projector <- projector"],
                             "fresh": ["queue", "queue_ptr"]}
    parent = load_checkpoint(results / "runs" / pre["aimclr"]["run_id"] / "checkpoint.pt")["method"]
    start = seen["TranCLR"]
    for name, value in start.items():
        if name.startswith(("key_encoder.", "key_projector.")):
            assert torch.equal(value, parent[name.replace("key_", "", 1)]), name
        elif name.startswith(("encoder.", "projector.")):
            assert torch.equal(value, parent[name]), name
    assert not torch.equal(start["queue"], parent["queue"][:len(start["queue"])])


def test_show_config_names_the_parent_and_what_it_carries(project):
    out = CliRunner().invoke(main, ["run", "--dataset", "synth-xsub", "--method", "tranclr", "--dry-run", "--show-config"])
    assert out.exit_code == 0, out.output
    assert ("starts from aimclr (pretrain hash " in out.output and "carries encoder, projector, "
            "key_encoder <- encoder, key_projector <- projector; fresh: queue, queue_ptr" in out.output)
    assert "init:\n  method: aimclr" in out.output
    scratch = CliRunner().invoke(main, ["run", "--dataset", "synth-xsub", "--method", "tranclr-scratch", "--dry-run",
                                        "--show-config"])
    assert "starts from" not in scratch.output and "\ninit:" not in scratch.output


def test_recipes_two_phase_defaults_variants_and_alias(project):
    assert C.resolve("tranclr")["init"]["method"] == "aimclr"
    assert C.resolve("tranclr-intra")["init"]["method"] == "aimclr"     # ablations inherit it
    assert "init" not in C.resolve("tranclr-scratch")
    joint = C.resolve("tranclr-joint")
    assert "init" not in joint and joint["args"]["infonce"] is True
    base, aimclr = C.resolve("tranclr-base"), C.resolve("aimclr")
    assert base == aimclr and C.config_hash(base) == C.config_hash(aimclr)   # the same runs
    assert C.resolve("actclr-described")["args"]["released"] == []
    assert C.resolve("actclr")["args"]["released"] == list(A.RUN)          # the published run
    final = C.resolve("actclr-final")
    assert final["args"]["released"] == list(A.FINAL) and final["pretrain"]["lr"] == 0.1
    assert C.resolve("actclr")["pretrain"]["lr"] == 0.4
    out = CliRunner().invoke(main, ["list", "methods"]).output
    for name in ("tranclr-base", "tranclr-scratch", "tranclr-joint", "actclr-described"):
        assert name in out
    assert "tranclr-infonce" not in out
    (project / "methods" / "bad.yaml").write_text("alias: aimclr\nargs: {topk: 2}\n")
    with pytest.raises(C.ConfigError, match="only alias and description"):
        C.load_recipe("bad")


# --- ActCLR: the released code and the paper ------------------------------------------------------
def test_released_actionlet_is_about_zero_and_the_described_one_is_not():
    torch.manual_seed(0)
    m = small(ActCLR)
    x = torch.randn(6, 3, 16, 25, 2)
    anchor = m.embed_key(x.mean(dim=0, keepdim=True))
    fmap = m.encoder.forward_features(x).detach()
    released = actionlet_map(fmap, m._query_head, anchor, 2, inert=True, layout=NTU25)
    described = actionlet_map(fmap, m._query_head, anchor, 2, inert=False, layout=NTU25)
    # Round-off gradients (~1e-19 relative) times the 1e8 gain: a few thousandths at most,
    # where the described map is a working mask (parts at 1, others at 0).
    assert 0 <= released.min() and released.max() < 0.01
    assert described.max() == 1 and described.mean() > 0.05


def test_swap_schedule_narrows_branch_two_from_the_second_stage():
    m = small(ActCLR, curriculum=(4, 8, 12))
    # The code's `epoch < 200` on 1-based epochs: late from 0-based epoch 199 of 350, 7 of 12 here.
    assert m.swap_ranges(6) == {} and m.swap_ranges(7) == {"parts": (1, 2), "cells": (1, 3)}
    assert small(ActCLR).swap_ranges(198) == {} and small(ActCLR).swap_ranges(199) != {}
    assert small(ActCLR, curriculum=(4, 8, 12), released=()).swap_ranges(11) == {}
    # The late ranges: windows of 4-12 frames over the joints of 1-2 parts.
    x, partner = torch.zeros(200, 3, 40, 25, 1), torch.ones(200, 3, 40, 25, 1)
    share = swap(x, partner, torch.Generator().manual_seed(0), layout=NTU25, **m.swap_ranges(8)).share
    pasted = share[:, 0, :, :, 0]
    cut = pasted.amax(dim=(1, 2)) == 1
    frames = (pasted[cut] > 0).any(dim=2).sum(dim=1)
    assert 4 <= frames.min() and frames.max() <= 12
    joints = (pasted[cut] > 0).any(dim=1).sum(dim=1)
    assert joints.max() <= 6 + 6                                     # two arms at most


def test_batch_swap_draws_share_one_window_for_the_batch():
    x, partner = torch.zeros(32, 3, 40, 25, 1), torch.ones(32, 3, 40, 25, 1)
    per_batch = swap(x, partner, torch.Generator().manual_seed(3), per_batch=True, layout=NTU25).share
    per_sample = swap(x, partner, torch.Generator().manual_seed(3), per_batch=False, layout=NTU25).share
    assert torch.equal(per_batch, per_batch[:1].expand_as(per_batch))
    assert not torch.equal(per_sample, per_sample[:1].expand_as(per_sample))


def test_speed_swap_pastes_the_nearest_of_the_partner_first_frames():
    # T = 16 and windows of 12 frames: the partner's first min(24, 16) = 16 frames resized to 12
    # by nearest neighbour read frames floor(u * 16 / 12).
    t = 16
    x = torch.full((256, 1, t, 25, 1), -1.0)
    partner = torch.arange(t, dtype=torch.float).view(1, 1, t, 1, 1).expand(256, 1, t, 25, 1)
    mixed, share, _, _ = swap(x, partner.contiguous(), torch.Generator().manual_seed(0), cells=(3, 3), layout=NTU25)
    expected = [0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14]
    speed = plain = 0
    for i in range(256):
        s = share[i, 0, :, :, 0]
        if not ((s == 0) | (s == 1)).all() or not s.any():
            continue                                                 # mixup
        frames = s.any(dim=1).nonzero().flatten().tolist()
        joint = int(s[frames[0]].nonzero()[0])
        read = mixed[i, 0, frames, joint, 0].long().tolist()
        if read == frames:
            plain += 1
        else:
            assert read == expected, read
            speed += 1
    assert speed > 20 and plain > 20


def test_released_step_draws_three_partners_and_swaps_the_transferred_clip(monkeypatch):
    calls = {"partner": 0, "swap": []}
    real_swap = A.swap

    def spy(x, partner, generator, **kw):
        calls["swap"].append(x)
        return real_swap(x, partner, generator, **kw)

    monkeypatch.setattr(A, "swap", spy)
    x = torch.randn(8, 3, 16, 25, 2)
    for released, partners, same_source in ((A.RUN, 3, True), (A.FINAL, 3, True), ((), 1, False)):
        torch.manual_seed(0)
        m = small(ActCLR, released=released)
        real_partner = m.partner

        def count(*a, **kw):
            calls["partner"] += 1
            return real_partner(*a, **kw)

        m.partner = count
        calls["partner"], calls["swap"] = 0, []
        m.training_step(x, None, 0, torch.Generator().manual_seed(0))
        assert calls["partner"] == partners
        branch2, branch3 = calls["swap"]
        assert (branch3 is branch2) == same_source      # branch 3 from the transferred clip


@pytest.mark.parametrize("released", [A.RUN, A.FINAL, (), A.RUN + ("feature_axis_mix",)])
def test_actclr_every_reading_trains(released):      # batch 8 = feature_dim 8: the run's k * c runs
    torch.manual_seed(0)
    m = small(ActCLR, released=released)
    out = m.training_step(torch.randn(8, 3, 16, 25, 2), None, 0, torch.Generator().manual_seed(0))
    out["loss"].backward()
    assert torch.isfinite(out["loss"]) and m.encoder.blocks[0].gcn.conv.weight.grad.abs().sum() > 0


def test_unknown_released_behaviour_is_refused():
    with pytest.raises(ValueError, match="released: unknown behaviour"):
        small(ActCLR, released=["inert"])


# --- the papers' ablation tables ----------------------------------------------------------------
def test_table_commands_print_the_paper_layout_with_measured_rows(project, tmp_path):
    results = tmp_path / "results"
    cli = CliRunner()
    empty = cli.invoke(main, ["compare", "--table", "tranclr-anchors", "--format", "md",
                              "--results-dir", str(results)])
    assert empty.exit_code == 0, empty.output
    assert "| tranclr-base" in empty.output and "77.4" in empty.output
    out = cli.invoke(main, ["run", "--dataset", "synth-xsub", "--method", "tranclr-base,tranclr-global-only",
                            "--results-dir", str(results), "--set", "pretrain.batch_size=16"])
    assert out.exit_code == 0, out.output
    md = cli.invoke(main, ["compare", "--table", "tranclr-anchors", "--format", "md",
                           "--results-dir", str(results)]).output
    lines = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
             for line in md.splitlines() if line.startswith("| tranclr")}
    assert lines["tranclr-base"][:2] == ["✗", "✗"] and lines["tranclr"][:2] == ["✓", "✓"]
    assert "synth-xsub (stgcn-tiny)" in md
    assert lines["tranclr-base"][2].endswith("(1)") and lines["tranclr-global-only"][2].endswith("(1)")
    assert lines["tranclr"][2] == "—" and lines["tranclr"][3] == "85.9"
    latex = cli.invoke(main, ["compare", "--table", "tranclr-levels", "--format", "latex",
                              "--results-dir", str(results)]).output
    assert r"\checkmark" in latex and "tabular}{lcccrr}" in latex
    bad = cli.invoke(main, ["compare", "--table", "tranclr-anchor", "--results-dir", str(results)])
    assert bad.exit_code != 0 and "tranclr-anchors" in bad.output

