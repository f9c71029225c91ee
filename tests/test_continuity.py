"""The continuity protocol and temperature scaling: hand values, then end to end."""
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from skelbench.cli import main
from skelbench.metrics import continuity, fit_temperature, label_path

LAM = np.linspace(0.1, 0.9, 9)


def endpoints_and_global_anchors(rng, pairs=6, dim=5):
    xi, xj = rng.normal(size=(pairs, dim)), rng.normal(size=(pairs, dim))
    xa = LAM[None, :, None] * xi[:, None] + (1 - LAM[None, :, None]) * xj[:, None]
    return xi, xj, xa, np.tile(LAM, (pairs, 1))


def test_a_linear_encoder_is_perfectly_continuous_on_global_interpolation():
    rng = np.random.default_rng(0)
    xi, xj, xa, lam = endpoints_and_global_anchors(rng)
    w = rng.normal(size=(5, 16))
    res = continuity(xi @ w, xj @ w, xa @ w, lam)
    assert np.abs(res["linearity"]).max() < 1e-12 and res["monotone"].all()
    assert np.abs(res["lambda_error"]).max() < 1e-12 and not res["undefined"].any()
    # A non-linear one is not: ReLU features of the same inputs.
    res = continuity(np.maximum(xi @ w, 0), np.maximum(xj @ w, 0), np.maximum(xa @ w, 0), lam)
    assert np.nanmean(res["linearity"]) > 0.01


def test_a_constant_encoder_is_undefined_not_a_division_by_zero():
    rng = np.random.default_rng(1)
    xi, xj, xa, lam = endpoints_and_global_anchors(rng)
    with np.errstate(all="raise"):           # any 0/0 or x/0 would raise here
        res = continuity(np.ones((6, 8)), np.ones((6, 8)), np.ones((6, 9, 8)), lam)
    assert res["undefined"].all() and np.isnan(res["linearity"]).all()
    assert np.isnan(res["lambda_hat"]).all()


def test_monotonicity_sees_a_path_that_turns_back():
    # 2-d: the path nears X_i's direction, then turns back towards X_j's.
    fi, fj = np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])
    fa = np.array([[[0.2, 0.8], [0.9, 0.1], [0.3, 0.9]]])       # cos to X_i: .24, .99, .32
    res = continuity(fi, fj, fa, np.array([[0.2, 0.5, 0.9]]))
    assert not res["monotone"][0]
    assert res["similarity"][0].round(2).tolist() == [0.0, 0.24, 0.99, 0.32, 1.0]


def test_label_path_finds_the_switch_and_a_third_class():
    # Three paths over 2 anchors (lam 0.3, 0.7) + endpoints; classes: j = 0, i = 1.
    lam = np.array([[0.3, 0.7]] * 3)
    onehot = np.eye(3)
    probs = np.stack([
        [onehot[0], onehot[0], onehot[1] * 0.6 + onehot[0] * 0.4, onehot[1]],   # switch at 0.7
        [onehot[0], onehot[2], onehot[1], onehot[1]],                           # via class 2
        [onehot[1], onehot[1], onehot[1], onehot[1]]])                          # wrong endpoint
    out = label_path(probs, np.array([1, 1, 1]), np.array([0, 0, 0]), lam)
    assert out["pairs"] == 2
    assert out["switch_lambda"].tolist() == [0.7, 0.7]
    assert out["switch_confidence"].tolist() == pytest.approx([0.6, 1.0])
    assert out["third_class"].tolist() == [False, True]


def test_temperature_scaling_recovers_a_known_overconfidence():
    torch.manual_seed(0)
    logits = torch.randn(20000, 12) * 2
    labels = torch.distributions.Categorical(logits=logits).sample()   # calibrated at T = 1
    assert fit_temperature(logits * 3.0, labels) == pytest.approx(3.0, rel=0.03)
    assert fit_temperature(logits / 2.0, labels) == pytest.approx(0.5, rel=0.03)


def invoke(*args):
    res = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


def test_continuity_and_scaled_calibration_end_to_end(project):
    invoke("run", "--dataset", "synth-xsub", "--method", "random-init,skeletonclr", "--protocol",
           "continuity,calibration", "--set", "continuity.pairs=12")
    recs = [json.loads(p.read_text()) for p in (project / "results").glob("runs/*/record.json")]
    cont = [r for r in recs if r["kind"] == "continuity"]
    cal = [r for r in recs if r["kind"] == "calibration"]
    assert len(cont) == 2 and len(cal) == 2
    for r in cont:
        m = r["metrics"]
        for key in ("linearity_global_diff", "linearity_local_same", "monotonic_global_same",
                    "lambda_error_local_diff"):
            assert np.isfinite(m[key]), key
        assert 0 <= m["monotonic_global_diff"] <= 1 and m["linearity_global_diff"] >= 0
        curve = r["curves"]["global"]["diff"]
        assert len(curve["lambda"]) == len(curve["similarity"]) == 11
        assert curve["similarity"][-1] == pytest.approx(1.0)          # X_i itself
        local = r["curves"]["local"]["same"]["lambda"]
        assert local[0] == 0 and local[-1] == 1 and local == sorted(local)
        assert r["pairs"] == {"n": 12, "seed": 0}
    # The same pairs for every method: the untrained encoder's and SkeletonCLR's records agree
    # on them, and the linear head they follow is the linear run's (its head saved beside it).
    linear = [r for r in recs if r["kind"] == "linear"]
    for r in linear:
        assert (project / "results" / "runs" / r["run_id"] / "head.npz").is_file()
    for r in cal:
        m = r["metrics"]
        assert m["temperature"] > 0 and r["heldout"]["n"] > 0
        assert {"ece_ts", "aece_ts", "nll_ts", "ece_ts_before"} <= set(m)
        assert 0.01 <= m["temperature"] <= 100.0 + 1e-9     # the search's bounds
    # --set continuity.pairs=12 makes the continuity runs variants, and only them.
    table = invoke("compare", "--format", "md", "--results-dir", str(project / "results"))
    assert "ece_ts" in table and "linearity_global_diff" not in table
    table = invoke("compare", "--format", "md", "--all", "--results-dir", str(project / "results"))
    assert "skeletonclr [continuity.pairs=12]" in table and "linearity_global_diff" in table
    out = invoke("plot", "continuity", *[r["run_id"] for r in cont],      # variants: by id
                 "--results-dir", str(project / "results"))
    path = project / "results" / "continuity-synth-xsub.png"
    assert str(path) in out and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
