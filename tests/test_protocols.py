import torch

from skelbench.backbones.stgcn import STGCN
from skelbench.protocols.features import extract
from skelbench.protocols.linear import topk_correct, train_linear

SPEC = {"optimizer": "sgd", "lr": 3.0, "momentum": 0.9, "weight_decay": 0.0, "epochs": 3,
        "lr_steps": [2], "lr_gamma": 0.1, "batch_size": 8}


def test_linear_eval_leaves_encoder_weights_and_bn_statistics_unchanged():
    torch.manual_seed(0)
    encoder = STGCN(width=4, hidden_dim=16)
    encoder.train()
    encoder(torch.randn(4, 3, 12, 25, 2))      # give BN non-default running statistics
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    x, y = torch.randn(20, 3, 12, 25, 2), torch.arange(20) % 4
    feats = extract(encoder, x, "joint", batch_size=7)
    assert feats.shape == (20, 16)
    train_linear(feats, y, feats, y, 4, SPEC, torch.Generator().manual_seed(0))
    assert not encoder.training
    for k, v in encoder.state_dict().items():
        assert torch.equal(v, before[k]), k         # weights and BN buffers alike
    assert all(not p.requires_grad for p in encoder.parameters())


def test_linear_head_learns_separable_features_and_reports_last_and_best():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(60) % 3
    feats = torch.nn.functional.one_hot(y, 3).float() * 2 + 0.1 * torch.randn(60, 3, generator=g)
    out = train_linear(feats, y, feats, y, 3, {**SPEC, "lr": 0.5, "epochs": 10, "lr_steps": []}, g)
    m = out["metrics"]
    assert m["top1"] == 100.0 and m["top5"] == 100.0
    assert len(out["history"]) == 10 and m["top1_best"] == max(out["history"])
    assert out["logits"].shape == (60, 3)


def test_topk():
    logits = torch.tensor([[0.1, 0.5, 0.4], [0.9, 0.05, 0.05]])
    labels = torch.tensor([2, 0])
    assert topk_correct(logits, labels, 1).tolist() == [False, True]
    assert topk_correct(logits, labels, 2).tolist() == [True, True]
