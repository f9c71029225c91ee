"""Calibration metrics against the worked vectors of the reference notes, and retrieval by hand."""
import numpy as np
import pytest
import torch

from skelbench import metrics

P = np.array([[0.92, 0.05, 0.03], [0.83, 0.10, 0.07], [0.15, 0.71, 0.14],
              [0.20, 0.18, 0.62], [0.47, 0.33, 0.20], [0.30, 0.29, 0.41]])
Y = np.array([0, 1, 1, 2, 1, 0])


def conf_probs(conf, correct):
    """Two-class probabilities with the given top-label confidence and correctness."""
    conf = np.asarray(conf, float)
    probs = np.stack([conf, 1 - conf], axis=1)
    return probs, np.where(np.asarray(correct) == 1, 0, 1)


@pytest.mark.parametrize("fn, n_bins, expected", [
    (metrics.ece, 1, 0.16), (metrics.ece, 3, 0.16), (metrics.ece, 15, 0.41),
    (metrics.mce, 3, 1 / 6), (metrics.aece, 3, 0.383333), (metrics.aece, 6, 0.41),
    (metrics.aece, 15, 0.41)])
def test_worked_example(fn, n_bins, expected):
    assert fn(P, Y, n_bins) == pytest.approx(expected, abs=1e-6)
    assert fn(torch.tensor(P), torch.tensor(Y), n_bins) == pytest.approx(expected, abs=1e-6)


def test_confidence_one_goes_to_the_last_bin():
    probs, y = conf_probs([1.0, 1.0, 0.95], [1, 0, 1])
    assert metrics.ece(probs, y, 15) == pytest.approx(0.316667, abs=1e-6)


def test_tied_confidences_share_a_bin_whatever_the_order():
    conf = [0.4, 0.4, 0.4, 0.4, 0.9, 0.9]
    for correct in ([1, 0, 0, 0, 1, 1], [0, 0, 0, 1, 1, 1], [0, 1, 0, 0, 1, 1]):
        probs, y = conf_probs(conf, correct)
        assert metrics.aece(probs, y, 3) == pytest.approx(0.133333, abs=1e-6)


def naive_ece(probs, labels, n_bins):
    """Straight from the definition: loop over the intervals (lo, hi]."""
    conf, pred = probs.max(1), probs.argmax(1)
    total = 0.0
    for m in range(n_bins):
        lo, hi = m / n_bins, (m + 1) / n_bins
        inside = (conf > lo) & (conf <= hi)
        if inside.any():
            total += inside.mean() * abs((pred[inside] == labels[inside]).mean() - conf[inside].mean())
    return total


def naive_aece(probs, labels, n_bins):
    """Sort-and-split (valid when no two confidences tie)."""
    conf, correct = probs.max(1), probs.argmax(1) == labels
    order = np.argsort(conf)
    return sum(len(part) / len(conf) * abs(correct[part].mean() - conf[part].mean())
               for part in np.array_split(order, n_bins) if len(part))


@pytest.mark.parametrize("seed", range(5))
def test_agrees_with_direct_definitions_on_random_inputs(seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2, (500, 10))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = rng.integers(0, 10, 500)
    conf = probs.max(1)
    assert np.abs(conf * 15 - np.round(conf * 15)).min() > 1e-9  # away from bin edges
    assert metrics.ece(probs, labels) == pytest.approx(naive_ece(probs, labels, 15), abs=1e-12)
    assert metrics.aece(probs, labels) == pytest.approx(naive_aece(probs, labels, 15), abs=1e-12)
    perm = rng.permutation(500)
    assert metrics.aece(probs[perm], labels[perm]) == pytest.approx(metrics.aece(probs, labels))


def test_calibrated_predictions_have_small_ece():
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.5, 1.0, 100_000)
    probs, y = conf_probs(conf, rng.random(100_000) < conf)
    assert metrics.ece(probs, y) < 0.01 and metrics.aece(probs, y) < 0.01


def test_report_stores_bins_that_reproduce_ece():
    logits = torch.log(torch.tensor(P))
    report = metrics.calibration_report(logits, torch.tensor(Y), n_bins=3)
    assert report["ece"] == pytest.approx(0.16) and report["accuracy"] == 0.5
    bins = report["bins"]
    assert bins["count"] == [0, 3, 3] and sum(bins["sum_correct"]) == 3
    assert report["nll"] == pytest.approx(-np.log(P[np.arange(6), Y]).mean())
    assert report["brier"] == pytest.approx(((P - np.eye(3)[Y]) ** 2).sum(1).mean())


def test_retrieval_on_a_hand_made_gallery():
    gallery = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    gallery_y = torch.tensor([0, 1, 1, 0])
    query = torch.tensor([[1.0, 0.05], [0.05, 1.0]])
    query_y = torch.tensor([0, 1])
    # Query 0 ranks the gallery 0, 1, 3, 2: relevant (class 0) at ranks 1 and 3 -> AP (1 + 2/3)/2.
    # Query 1 ranks it 2, 3, 1, 0: relevant (class 1) at ranks 1 and 3 -> AP (1 + 2/3)/2.
    for chunk in (1, 2):
        out = metrics.retrieval(gallery, gallery_y, query, query_y, num_classes=2, k=2, chunk=chunk)
        assert out["knn1"] == 100.0
        assert out["map"] == pytest.approx(100 * (1 + 2 / 3) / 2)
        # k=2: query 0's neighbours are classes 0 and 1 with sims 0.999 and 0.993 -> class 0.
        assert out["knn2"] == 100.0


def test_paired_bootstrap_packs_clips_and_brackets_the_difference():
    import numpy as np

    from skelbench.stats import pack, paired_bootstrap, unpack
    rng = np.random.default_rng(0)
    a = rng.random(501) < 0.8
    assert (unpack(pack(a)) == a).all() and pack(a)["n"] == 501
    same = paired_bootstrap(a, a)
    assert same["diff"] == same["low"] == same["high"] == 0
    b = a.copy()
    b[:50] = ~b[:50]                                  # b differs from a on 50 clips only
    r = paired_bootstrap(a, b, n_boot=2000)
    assert r["low"] <= r["diff"] <= r["high"]
    assert abs(r["diff"] - 100 * (a.mean() - b.mean())) < 1e-9
    # Paired: the interval is set by the 50 clips that differ, far narrower than for
    # independent rows of the same accuracies.
    assert r["high"] - r["low"] < 6
    assert paired_bootstrap(a, b, n_boot=2000) == r            # seeded


def test_crossing_finds_the_first_and_the_lasting_passage():
    from skelbench.stats import crossing
    steps = [10, 20, 30, 40, 50, 60]
    assert crossing(steps, [1, 5, 1, 5, 5, 5], 3, window=1) == (20, 40)
    assert crossing(steps, [1, 1, 1, 1, 1, 1], 3, window=1) == (None, None)
    assert crossing(steps, [5, 5, 5, 5, 5, 1], 3, window=1) == (10, None)
    assert crossing(steps, [1, None, 5, None, 5, 5], 3, window=2) == (50, 50)
