import numpy as np

from skelbench.data import synth


def small(**kw):
    return synth.SynthConfig(frames=10, n_subjects=3, n_replications=1, **kw)


def test_deterministic_and_shaped():
    a, meta = synth.generate(small(seed=3))
    b, _ = synth.generate(small(seed=3))
    c, _ = synth.generate(small(seed=4))
    n = len(synth.CLASSES) * 3 * 3
    assert a.shape == (n, 3, 10, 25, 2) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.isfinite(a).all()
    assert set(meta["camera"]) == {1, 2, 3} and set(meta["subject"]) == {1, 2, 3}
    assert meta["name"][0].startswith("S001C001P001R001A")


def test_two_person_classes_have_a_second_body_and_others_do_not():
    data, meta = synth.generate(small())
    present = np.abs(data[..., 1]).sum(axis=(1, 2, 3)) > 0
    two = np.array([synth.CLASSES[c].two_person for c in meta["label"]])
    assert two.any() and (present == two).all()
    assert len(synth.CLASSES) >= 20


def test_origin_is_spine_base_of_first_frame():
    data, _ = synth.generate(small())
    np.testing.assert_allclose(data[:, :, 0, 0, 0], 0, atol=1e-6)
    # Heights are human: head above spine base by roughly 0.5-0.9 m in the first frame
    # (cameras pitch a little, so allow a margin).
    head = data[:, 1, 0, 3, 0]
    assert 0.3 < np.median(head) < 1.0


def test_resize_time_is_linear_interpolation():
    x = np.arange(10, dtype=float)[None, :, None].repeat(2, 0)
    out = synth._resize_time(x, np.array([10, 4]), 7)
    np.testing.assert_allclose(out[0, :, 0], np.linspace(0, 9, 7))
    np.testing.assert_allclose(out[1, :, 0], np.linspace(0, 3, 7))
