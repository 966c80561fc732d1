"""Session: preview, commit, correction, propagation, undo/redo, cache keys, locking, errors.

The model is a test double of the session's collaborator (allowed in a unit test of the algorithm):
its "embedding" is the slice itself, and decode returns the bright connected components touched by
positive prompts (or by the previous logits) minus those touched by negative prompts.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from scipy import ndimage

from napari_medseg.core import propagation as _propagation
from napari_medseg.core.cache import EmbeddingCache
from napari_medseg.core.prompts import (
    BoxPrompt,
    LassoPrompt,
    PointPrompt,
    ScribblePrompt,
    SliceRef,
    rasterize,
)
from napari_medseg.core.propagation import PropagationOptions
from napari_medseg.core.session import Session
from napari_medseg.core.volume_io import Volume
from napari_medseg.errors import CancelledError, MedsegError, PromptError


class BrightBlobModel:
    name = "bright-blob"

    def __init__(self, on_decode=None):
        self.encoded = 0
        self.decoded: list[tuple[list, np.ndarray | None]] = []
        self.on_decode = on_decode

    @property
    def identity(self) -> str:
        return "bright-blob:v1"

    def encode(self, image):
        self.encoded += 1
        return {"image": np.asarray(image, dtype=np.float32).copy()}

    def decode(self, embedding, prompts, prev_logits=None):
        if self.on_decode is not None:
            self.on_decode()
        self.decoded.append((list(prompts), prev_logits))
        image = embedding["image"]
        lab, _ = ndimage.label(image > 0.5)
        pos = np.zeros(image.shape, dtype=bool) if prev_logits is None else prev_logits > 0
        neg = np.zeros(image.shape, dtype=bool)
        for p in prompts:
            (pos if p.positive else neg)[...] |= rasterize(p, image.shape)
        keep = set(np.unique(lab[pos])) - set(np.unique(lab[neg])) - {0}
        return np.where(np.isin(lab, sorted(keep)), 5.0, -5.0).astype(np.float32)


def two_balls(shape=(40, 36, 12)):
    i, j, k = np.ogrid[: shape[0], : shape[1], : shape[2]]
    a = (i - 12) ** 2 + (j - 12) ** 2 + (k - 6) ** 2 <= 25
    b = (i - 28) ** 2 + (j - 24) ** 2 + (k - 6) ** 2 <= 16
    noise = np.random.default_rng(0).uniform(0.0, 100.0, shape)
    image = (np.where(a | b, 900.0, 0.0) + noise).astype(np.float32)
    return image, a, b


@pytest.fixture
def session():
    image, _, _ = two_balls()
    return Session(image, model=BrightBlobModel(), axis=2)


def point(index, r, c, positive=True, axis=2):
    return PointPrompt(SliceRef(axis, index), (float(r), float(c)), positive)


def test_preview_accumulates_on_a_slice_and_restarts_on_another(session):
    _, a, b = two_balls()
    p1 = session.add_prompts(point(6, 12, 12))
    np.testing.assert_array_equal(p1.mask, a[:, :, 6])
    assert not session.labels.any(), "a preview does not touch the labels"
    p2 = session.add_prompts([point(6, 28, 24)])
    np.testing.assert_array_equal(p2.mask, a[:, :, 6] | b[:, :, 6])
    assert len(p2.prompts) == 2 and session.model.decoded[-1][1] is p1.logits  # refines the last logits
    p3 = session.add_prompts([point(6, 12, 12, positive=False)])
    np.testing.assert_array_equal(p3.mask, b[:, :, 6])
    p4 = session.add_prompts([point(5, 12, 12)])
    assert len(p4.prompts) == 1 and p4.ref == SliceRef(2, 5)
    assert session.model.decoded[-1][1] is None
    session.clear_preview()
    assert session.preview is None


def test_every_prompt_type_reaches_the_model(session):
    _, a, b = two_balls()
    ref = SliceRef(2, 6)
    box = session.add_prompts(BoxPrompt(ref, (20.0, 16.0), (34.0, 30.0)))
    np.testing.assert_array_equal(box.mask, b[:, :, 6])
    session.clear_preview()
    scribble = session.add_prompts(ScribblePrompt(ref, ((10.0, 10.0), (14.0, 14.0)), True, 3.0))
    np.testing.assert_array_equal(scribble.mask, a[:, :, 6])
    session.clear_preview()
    lasso = session.add_prompts(LassoPrompt(ref, ((8.0, 8.0), (8.0, 16.0), (16.0, 16.0), (16.0, 8.0))))
    np.testing.assert_array_equal(lasso.mask, a[:, :, 6])


def test_slices_are_encoded_once_and_the_preset_is_part_of_the_key(session):
    model = session.model
    session.add_prompts(point(6, 12, 12))
    session.add_prompts(point(6, 28, 24))
    session.add_prompts(point(6, 12, 12, False))
    assert model.encoded == 1
    key = session.cache_key(6)
    assert key.model == "bright-blob:v1|" + session.preset.key and key.axis == 2 and key.index == 6
    image = session.slice_image(6)
    assert image.dtype == np.float32 and image.shape == (40, 36) and 0.0 <= image.min() < image.max() <= 1.0
    session.set_preset("ct-abdomen")
    assert session.cache_key(6) != key and session.preview is None
    session.add_prompts(point(6, 12, 12))
    assert model.encoded == 2


def test_intensity_preset_is_fitted_once_per_volume_not_per_slice():
    image = np.zeros((10, 10, 3), dtype=np.float32)
    image[:, :, 0] = 100.0
    image[:, :, 1] = 50.0
    image[0, 0, 2] = 1.0
    s = Session(image, model=BrightBlobModel(), preset="window:50:100")
    assert float(s.slice_image(0).max()) == 1.0
    assert float(s.slice_image(1).max()) == 0.5, "the same window for every slice"
    with pytest.raises(MedsegError, match="preset"):
        s.set_preset("ct-nonsense")


def test_an_unclipped_region_keeps_what_the_window_saturates():
    """The propagation's appearance rule reads regions unclipped: bone at 650 HU and a vessel at
    205 HU are both 1.0 under the abdomen window, 2.03 and 0.91 on its scale."""
    image = np.full((8, 8, 2), 50.0, dtype=np.float32)
    image[:4, :, 0] = 650.0
    image[4:, :, 0] = 205.0
    image[0, 0, 0], image[0, 1, 0], image[0, 2, 0] = np.nan, np.inf, -np.inf
    s = Session(image, model=BrightBlobModel(), preset="ct-abdomen")
    rows, cols = slice(0, 8), slice(0, 8)
    clipped = s.slice_region(0, rows, cols)
    assert clipped[2, 3] == clipped[6, 3] == 1.0 or clipped[6, 3] > 0.9
    raw = s.slice_region(0, rows, cols, clip=False)
    assert raw[2, 3] == pytest.approx(810 / 400) and raw[6, 3] == pytest.approx(365 / 400)
    assert np.isfinite(raw).all() and raw[0, 0] == 0.0 and raw[0, 1] == 1.0 and raw[0, 2] == 0.0
    np.testing.assert_array_equal(np.clip(raw, 0, 1), clipped)


class ScaleAwareModel(BrightBlobModel):
    """Records whether the session told it the intensities are relative (``ReadsIntensityScale``)."""

    def __init__(self):
        super().__init__()
        self.told: list[bool] = []

    def decode_relative(self, embedding, prompts, prev_logits, relative):
        self.told.append(relative)
        return self.decode(embedding, prompts, prev_logits)


@pytest.mark.parametrize(("preset", "offset", "relative"), [
    ("mr", 0.0, True),  # MR: a percentile range, relative intensities
    ("auto", 0.0, True),
    ("auto", -1024.0, False),  # auto on a CT (air at -1024 HU): its values still mean tissues
    ("mr", -1024.0, False),
    ("ct-abdomen", 0.0, False),  # a CT window
    ("window:40:400", 0.0, False),
])
def test_the_model_is_told_whether_intensities_are_relative(preset, offset, relative, monkeypatch):
    image, _, _ = two_balls()
    model = ScaleAwareModel()
    s = Session(image + offset, model=model, preset=preset)
    assert s.relative_intensity is relative
    s.add_prompts(point(6, 12, 12))
    assert model.told == [relative]
    s.commit(1)
    walks = []
    real = _propagation.propagate
    monkeypatch.setattr(_propagation, "propagate", lambda *a, **k: walks.append(a[3]) or real(*a, **k))
    s.propagate(1)  # propagation decodes through the same door
    assert len(model.told) > 1 and set(model.told) == {relative}
    assert walks[-1].growth_look is (not relative), "the growth rule is on for absolute intensities only"
    s.propagate(1, PropagationOptions(growth_look=True))
    assert walks[-1].growth_look is True, "an explicit choice is kept"


def test_commit_replaces_the_label_on_its_slice_with_undo_and_redo(session):
    _, a, b = two_balls()
    session.add_prompts(point(6, 12, 12))
    changed = session.commit(1)
    assert changed == int(a[:, :, 6].sum()) and session.preview is None
    np.testing.assert_array_equal(session.labels[:, :, 6] == 1, a[:, :, 6])
    assert session.can_undo and not session.can_redo
    # recommit the slice as ball B: label 1 now covers only B there
    session.add_prompts(point(6, 28, 24))
    session.commit(1)
    np.testing.assert_array_equal(session.labels[:, :, 6] == 1, b[:, :, 6])
    assert session.undo()
    np.testing.assert_array_equal(session.labels[:, :, 6] == 1, a[:, :, 6])
    assert session.undo() and not session.labels.any()
    assert not session.undo() and session.can_redo
    assert session.redo()
    np.testing.assert_array_equal(session.labels[:, :, 6] == 1, a[:, :, 6])
    session.add_prompts(point(6, 28, 24))
    session.commit(2)
    assert not session.can_redo, "a new commit clears the redo stack"
    assert not session.redo()


def test_undo_stores_only_the_changed_region(session):
    session.add_prompts(point(6, 12, 12))
    session.commit(1)
    (edit,) = session._history.last.edits
    assert edit.old.shape == (11, 11) and edit.count == int((session.labels == 1).sum())


def test_commit_without_overwrite_keeps_other_labels(session):
    _, a, _ = two_balls()
    session.labels[10:14, :, 6] = 7
    session.add_prompts(point(6, 12, 12))
    session.commit(1, overwrite=False)
    plane = session.labels[:, :, 6]
    assert (plane[10:14] == 7).all()
    np.testing.assert_array_equal(plane == 1, a[:, :, 6] & ~_rows(10, 14))
    session.undo()
    session.add_prompts(point(6, 12, 12))
    session.commit(1, overwrite=True)
    np.testing.assert_array_equal(session.labels[:, :, 6] == 1, a[:, :, 6])


def _rows(start, stop, shape=(40, 36)):
    out = np.zeros(shape, dtype=bool)
    out[start:stop] = True
    return out


def test_prompts_correct_an_existing_label():
    image, a, b = two_balls()
    labels = np.zeros(image.shape, dtype=np.int32)
    labels[a | b] = 3
    s = Session(image, model=BrightBlobModel(), labels=labels)
    preview = s.add_prompts(point(6, 28, 24, positive=False), label_id=3)
    np.testing.assert_array_equal(preview.mask, a[:, :, 6])
    assert s.model.decoded[-1][1] is not None, "the existing mask was the starting logits"
    s.commit(3)
    np.testing.assert_array_equal(s.labels[:, :, 6] == 3, a[:, :, 6])


def test_propagation_fills_the_object_and_is_one_undo_step(session):
    _, a, b = two_balls()
    session.add_prompts(point(6, 12, 12))
    session.commit(1)
    seen = []
    changed = session.propagate(1, on_slice=lambda z, m: seen.append(z))
    expected = a & (a.sum(axis=(0, 1)) >= 4)[None, None, :]
    np.testing.assert_array_equal(session.labels == 1, expected)
    assert changed == int(expected.sum() - a[:, :, 6].sum())
    assert sorted(seen) == [z for z in range(12) if z != 6 and expected[:, :, z].any()]
    assert session.undo()
    np.testing.assert_array_equal(session.labels == 1, a & (np.arange(12) == 6))
    assert session.redo()
    np.testing.assert_array_equal(session.labels == 1, expected)


def test_a_slice_grown_after_the_walk_is_written_again_within_the_same_undo_step(session, monkeypatch):
    """fill_between rewrites a walked slice after the walks: shown, counted, and undone with the rest."""
    _, a, _ = two_balls()
    grown_at = 4

    def grow_one(results, key_masks, looks, slice_image):
        bigger = ndimage.binary_dilation(results[grown_at])
        return {grown_at: bigger}

    monkeypatch.setattr(_propagation, "fill_between", grow_one)
    session.add_prompts(point(6, 12, 12))
    session.commit(1)
    seen = []
    session.propagate(1, on_slice=lambda z, m: seen.append(z))
    assert seen.count(grown_at) == 2  # once from the walk, once grown
    walked = a[:, :, grown_at]
    np.testing.assert_array_equal(session.labels[:, :, grown_at] == 1, ndimage.binary_dilation(walked))
    assert session.undo()
    np.testing.assert_array_equal(session.labels == 1, a & (np.arange(12) == 6))


def test_cancelled_propagation_keeps_its_work_as_one_undo_step(session):
    session.add_prompts(point(6, 12, 12))
    session.commit(1)
    before = session.labels.copy()
    done = []
    with pytest.raises(CancelledError):
        session.propagate(1, cancel=lambda: len(done) >= 2, on_slice=lambda z, m: done.append(z))
    assert len(done) == 2
    assert sorted(np.flatnonzero((session.labels == 1).any(axis=(0, 1)))) == sorted([6, *done])
    assert session.undo()
    np.testing.assert_array_equal(session.labels, before)


def test_key_slices_are_the_committed_ones_and_fall_back_to_the_labels(session):
    _, a, _ = two_balls()
    session.add_prompts(point(3, 12, 12))
    session.commit(1)
    session.add_prompts(point(9, 12, 12))
    session.commit(1)
    session.propagate(1)
    assert session.key_slices(1) == [3, 9], "propagated slices are not key slices"
    session.undo()  # the propagation
    session.undo()  # the commit on slice 9
    session.propagate(1)  # label 1 now reaches slice 9 again, by propagation from slice 3
    assert (session.labels[:, :, 9] == 1).any() and session.key_slices(1) == [3]
    session.undo()
    assert session.redo() and session.key_slices(1) == [3]
    image, a, _ = two_balls()
    labels = np.zeros(image.shape, dtype=np.uint16)
    labels[:, :, 4:7][a[:, :, 4:7]] = 2
    s = Session(image, model=BrightBlobModel(), labels=labels)
    assert s.key_slices(2) == [4, 5, 6]
    with pytest.raises(PromptError, match="label 5"):
        s.propagate(5)


def test_segment_object_along_another_axis():
    image, a, b = two_balls()
    s = Session(image, model=BrightBlobModel(), axis=0)
    ref = SliceRef(0, 12)
    s.segment_object(
        {12: [PointPrompt(ref, (12.0, 6.0))]},
        label_id=4,
        options=PropagationOptions(min_area=1, iou_threshold=0.0),
    )
    np.testing.assert_array_equal(s.labels == 4, a)
    s2 = Session(image, model=BrightBlobModel(), axis=0)
    s2.segment_object({12: [PointPrompt(ref, (12.0, 6.0))]}, label_id=4, propagate=False)
    np.testing.assert_array_equal(s2.labels == 4, a & (np.arange(40) == 12)[:, None, None])
    with pytest.raises(PromptError, match="axis"):
        s2.segment_object({3: [point(3, 12, 12)]}, label_id=1)


def test_the_model_runs_without_the_session_lock_held():
    image, a, _ = two_balls()
    finished = []
    holder: dict[str, Session] = {}

    def touch_from_another_thread():
        t = threading.Thread(target=lambda: (holder["s"].clear_preview(), finished.append(True)))
        t.start()
        t.join(timeout=5)

    s = Session(image, model=BrightBlobModel(on_decode=touch_from_another_thread))
    holder["s"] = s
    s.add_prompts(point(6, 12, 12))
    s.commit(1)
    s.propagate(1)
    assert len(finished) == len(s.model.decoded) > 5


def test_a_shared_cache_serves_a_second_session_and_volume_inputs_work(tmp_path):
    image, a, _ = two_balls()
    cache = EmbeddingCache(directory=tmp_path / "cache")
    s1 = Session(
        Volume(image, np.diag([2.0, 2.0, 3.0, 1.0]), (2.0, 2.0, 3.0)), model=BrightBlobModel(), cache=cache
    )
    assert s1.precompute() == 12
    model2 = BrightBlobModel()
    s2 = Session(image.copy(), model=model2, cache=EmbeddingCache(directory=tmp_path / "cache"))
    s2.add_prompts(point(6, 12, 12))
    assert model2.encoded == 0, "embeddings came from the disk cache of the first session"
    np.testing.assert_array_equal(s2.volume.affine, np.eye(4))


def test_bad_input_raises_one_line_medseg_errors(session):
    image, _, _ = two_balls()
    cases = [
        lambda: session.commit(1),
        lambda: session.add_prompts(point(12, 5, 5)),
        lambda: session.add_prompts(point(3, 50, 5)),
        lambda: session.add_prompts([point(3, 5, 5), point(4, 5, 5)]),
        lambda: session.add_prompts([]),
        lambda: session.add_prompts([(3, 12, 12)]),
        lambda: session.add_prompts(point(3, 12, 12), label_id=0),
        lambda: session.add_prompts(point(3, 12, 12), label_id=70000),
        lambda: session.slice_image(-1),
        lambda: Session(image[:, :, 0], model=BrightBlobModel()),
        lambda: Session(image, model=BrightBlobModel(), labels=np.zeros((3, 3, 3), np.uint8)),
        lambda: Session(image, model=BrightBlobModel(), labels=np.zeros(image.shape, np.float32)),
        lambda: Session(image, model=BrightBlobModel(), axis=3),
        lambda: Session(image, model="no-such-model"),
    ]
    for case in cases:
        with pytest.raises(MedsegError) as err:
            case()
        assert "\n" not in str(err.value) and str(err.value)


def test_the_public_api_is_lazy_and_complete():
    import subprocess
    import sys

    code = (
        "import sys, napari_medseg as ms\n"
        "heavy = [m for m in ('torch', 'zarr', 'scipy', 'napari_medseg.core.session') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert sorted(ms.__all__) == sorted(ms._EXPORTS)\n"
        "for name in ms.__all__:\n"
        "    getattr(ms, name)\n"
        "assert ms.Session.__module__ == 'napari_medseg.core.session'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_a_lazy_zarr_volume_is_sliced_without_loading_it_per_slice(tmp_path):
    from napari_medseg.core.volume_io import read_volume, write_zarr

    image, a, _ = two_balls()
    volume = read_volume(write_zarr(tmp_path / "image.zarr", image, affine=np.diag([1.5, 1.5, 3.0, 1.0])))
    assert not isinstance(volume.data, np.ndarray)
    s = Session(volume, model=BrightBlobModel())
    np.testing.assert_array_equal(s.slice_image(6), Session(image, model=BrightBlobModel()).slice_image(6))
    s.segment_object(
        {6: [point(6, 12, 12)]}, label_id=1, options=PropagationOptions(min_area=1, iou_threshold=0)
    )
    np.testing.assert_array_equal(s.labels == 1, a)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_an_edit_made_outside_the_session_is_one_undo_step_in_order_with_its_own(axis):
    """A brush stroke in napari changes the labels behind the session's back; recorded, undo takes it
    back first and then the commit before it, and redo replays both, on any slicing axis."""
    image, a, _ = two_balls()
    s = Session(image, model=BrightBlobModel(), axis=axis)
    index = 12 if axis < 2 else 6
    ref_point = {0: (12, 6), 1: (12, 6), 2: (12, 12)}[axis]
    s.add_prompts(point(index, *ref_point, axis=axis))
    assert s.commit(1) > 0
    committed = s.labels.copy()
    region = (slice(2, 9), slice(3, 7), slice(4, 8))
    before = s.labels[region].copy()
    s.labels[3:5, 3:7, 5] = 2  # a stroke across two slices of axis 0 and four of axis 1, one of axis 2
    s.labels[8, 6, 7] = 0
    stroked = s.labels.copy()
    changed = int(np.count_nonzero(stroked != committed))
    assert s.record_edit(region, before, axis=2) == changed > 0
    assert s.record_edit(region, s.labels[region].copy()) == 0  # no change: no step
    assert s.key_slices(2, axis=2) == [5]  # the stroke's slice along axis 2 holds label 2 now
    assert s.undo()
    np.testing.assert_array_equal(s.labels, committed)
    assert s.undo()
    assert not (s.labels == 1).any()
    assert s.redo() and s.redo()
    np.testing.assert_array_equal(s.labels, stroked)
    assert not s.redo()


def test_an_edit_with_before_values_of_another_shape_is_refused(session):
    with pytest.raises(ValueError, match="shape"):
        session.record_edit((slice(0, 4), slice(0, 4), slice(0, 2)), np.zeros((4, 4, 3), dtype=session.labels.dtype))


def test_a_slice_corrected_by_hand_is_a_key_slice_that_propagation_keeps():
    """Erase part of a propagated slice by hand, propagate again: the hand-made slice stays as drawn
    (the walk starts from it), and undoing the stroke makes it an ordinary slice again."""
    image, a, _ = two_balls()
    s = Session(image, model=BrightBlobModel(), axis=2)
    s.add_prompts(point(6, 12, 12))
    s.commit(1)
    s.propagate(1)
    assert s.key_slices(1) == [6] and (s.labels[:, :, 4] == 1).any()
    region = (slice(0, s.shape[0]), slice(0, s.shape[1]), slice(4, 5))
    before = s.labels[region].copy()
    s.labels[:, :12, 4][s.labels[:, :12, 4] == 1] = 0  # the eraser over the ball's left half on slice 4
    corrected = s.labels[:, :, 4].copy()
    assert s.record_edit(region, before) > 0
    assert s.key_slices(1) == [4, 6]
    changed = s.propagate(1)
    np.testing.assert_array_equal(s.labels[:, :, 4], corrected)
    if changed > 0:  # (the walks from slices 4 and 6 may change nothing else)
        s.undo()
    s.undo()  # the stroke
    assert s.key_slices(1) == [6] and np.array_equal(s.labels[region], before)
    s.redo()
    assert s.key_slices(1) == [4, 6]


def test_two_quick_strokes_recorded_late_undo_and_redo_through_exact_states(session):
    """The worker records a stroke after the next one was already painted: with the values after each
    stroke given, undo and redo pass through exactly the states the user saw."""
    region = (slice(0, 8), slice(0, 8), slice(3, 4))
    empty = session.labels.copy()
    before1 = session.labels[region].copy()
    session.labels[2:6, 2:6, 3] = 4
    after1 = session.labels[region].copy()
    first = session.labels.copy()
    session.labels[4:8, 4:8, 3] = 5  # painted before the first stroke is recorded
    after2 = session.labels[region].copy()
    second = session.labels.copy()
    assert session.record_edit(region, before1, 2, after1) == 16
    assert session.record_edit(region, after1, 2, after2) == 16
    for expected in (first, empty):
        assert session.undo()
        np.testing.assert_array_equal(session.labels, expected)
    for expected in (first, second):
        assert session.redo()
        np.testing.assert_array_equal(session.labels, expected)


def test_a_label_volume_is_given_in_millilitres():
    image, a, _ = two_balls()
    volume = Volume(data=image, affine=np.diag([0.8, 0.8, 2.5, 1.0]), spacing=(0.8, 0.8, 2.5))
    s = Session(volume, model=BrightBlobModel(), axis=2)
    s.labels[a] = 3
    assert s.label_volume_ml(3) == pytest.approx(a.sum() * 1.6 / 1000)
    assert s.label_volume_ml(4) == 0.0


def test_a_slice_erased_by_hand_stays_empty_when_propagating_again():
    """The walk ran a slice too far; the user erases that slice by hand: propagating again (after another
    correction, say) leaves it and what lies beyond it empty, until the erase is undone."""
    image, a, _ = two_balls()
    s = Session(image, model=BrightBlobModel(), axis=2)
    s.add_prompts(point(6, 12, 12))
    s.commit(1)
    s.propagate(1)
    holding = [z for z in range(s.shape[2]) if (s.labels[:, :, z] == 1).any()]
    end = holding[-2]  # erase the second-to-last slice: the last one lies beyond it
    region = (slice(0, s.shape[0]), slice(0, s.shape[1]), slice(end, end + 1))
    before = s.labels[region].copy()
    s.labels[:, :, end][s.labels[:, :, end] == 1] = 0
    assert s.record_edit(region, before, 2) > 0
    assert s.erased_slices(1) == [end] and s.key_slices(1) == [6]
    s.labels[:, :, end + 1 :][s.labels[:, :, end + 1 :] == 1] = 0  # (as if the walk had stopped there)
    s.propagate(1)
    assert not (s.labels[:, :, end:] == 1).any()  # neither the erased slice nor the one beyond it
    assert (s.labels[:, :, end - 1] == 1).any()
    s.undo()  # the propagation (or nothing, if it changed nothing)
    while s.erased_slices(1):
        s.undo()
    s.propagate(1)
    assert (s.labels[:, :, end] == 1).any()  # the erase undone, the walk goes there again


def test_slices_holding_and_the_label_volume_over_several_slabs():
    """A volume of more than one 8 MB slab: every slab is counted, on every axis."""
    image = np.zeros((40, 512, 512), dtype=np.int16)
    s = Session(image, model=BrightBlobModel(), axis=0)
    s.labels[3, 10, 20] = s.labels[37, 500, 7] = s.labels[36:38, 100:104, 200:203] = 5
    truth = s.labels == 5
    for axis in range(3):
        others = tuple(a for a in range(3) if a != axis)
        np.testing.assert_array_equal(s.slices_holding(5, axis), truth.any(axis=others))
    assert s.label_volume_ml(5) == pytest.approx(truth.sum() / 1000)
