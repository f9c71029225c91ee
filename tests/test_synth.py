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
    assert len(synth.CLASSES) == 22


def test_clips_come_out_of_the_papers_preprocessing():
    """Raw camera-space clips through skelbench.data.preprocess: every present body centred on
    its spine shoulder in every frame, the shoulder line turned onto x (no depth component)."""
    from skelbench.skeleton import NTU25
    J = NTU25.J
    data, _ = synth.generate(small())
    np.testing.assert_allclose(data[:, :, :, J["spine_shoulder"], 0], 0, atol=1e-5)
    shoulders = data[:, :, :, J["right_shoulder"], 0] - data[:, :, :, J["left_shoulder"], 0]
    # (Up to the original's one sign per body: a frame turned the other way keeps some depth.)
    assert np.median(np.abs(shoulders[:, 2])) < 1e-2 < np.median(np.abs(shoulders[:, 0]))
    # Heights are human: the spine base 0.3-0.7 m below the spine shoulder.
    assert 0.3 < -np.median(data[:, 1, :, J["spine_base"], 0]) < 0.7


def test_raw_clips_are_in_camera_space_before_preprocessing(monkeypatch):
    """What the preprocessing receives: metres in front of a Kinect, zero after the clip."""
    from skelbench.data import preprocess
    seen = []
    real = preprocess.ssl_preprocess
    monkeypatch.setattr(preprocess, "ssl_preprocess", lambda x, f, **kw: seen.append(x) or real(x, f, **kw))
    _, meta = synth.generate(small())
    depth = np.array([clip[0, 0, :, 2].mean() for clip in seen])
    assert (depth > 2.0).all() and (depth < 4.0).all()
    for clip, length in zip(seen[:20], meta["length"]):
        assert (clip[length:] == 0).all() and (clip[:length, 0] != 0).all()


def test_no_class_is_the_mirror_image_of_another():
    """NTU has no left/right class pairs, and AimCLR's and ActCLR's flip would merge them."""
    names = set(synth.CLASS_NAMES)
    for name in names:
        for a, b in (("left", "right"), ("right", "left")):
            assert name.replace(a, b) == name or name.replace(a, b) not in names, name


def test_nuisance_settings_change_the_data():
    base, _ = synth.generate(small())
    styled, _ = synth.generate(small(style=10.0))
    shifted, _ = synth.generate(small(onset=(0.0, 0.4), offset=(0.6, 1.0)))
    assert not np.allclose(base, styled) and not np.allclose(base, shifted)
