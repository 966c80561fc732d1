"""A correction on a large slice decoded on a window around the object (window.py)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from napari_medseg.core.prompts import BoxPrompt, PointPrompt, ScribblePrompt, SliceRef
from napari_medseg.evaluation.metrics import dice
from napari_medseg.models.builtin.model import load_builtin
from napari_medseg.models.builtin.window import OUTSIDE, WindowOptions, decode_window, reaches_edge
from napari_medseg.models.protocol import logits_from_mask

REF = SliceRef(2, 0)


def disc(shape, centre, radius):
    rr, cc = np.mgrid[: shape[0], : shape[1]]
    return (rr - centre[0]) ** 2 + (cc - centre[1]) ** 2 <= radius**2


def test_the_window_holds_the_mask_and_the_prompts_with_the_margin_on_the_32_px_grid():
    previous = np.where(disc((512, 512), (200, 300), 30), 4.0, -4.0).astype(np.float32)
    click = PointPrompt(REF, (260.0, 300.0), False)
    rows, cols = decode_window(previous, [click], (512, 512))
    for s in (rows, cols):
        assert s.start % 32 == 0 and s.stop % 32 == 0
    assert rows.start <= 170 - 96 and rows.stop >= 261 + 96  # the mask from row 170, the click at row 260
    assert cols.start <= 270 - 96 and cols.stop >= 331 + 96
    assert (rows.stop - rows.start) * (cols.stop - cols.start) < 0.5 * 512 * 512
    # a stroke far out widens it; at the slice's border it stops there
    stroke = ScribblePrompt(REF, ((10.0, 500.0), (20.0, 505.0)))
    rows, cols = decode_window(previous, [click, stroke], (512, 512))
    assert rows.start == 0 and cols.stop == 512


def test_no_window_when_it_would_cover_most_of_the_slice_or_is_switched_off():
    previous = np.where(disc((256, 256), (128, 128), 90), 4.0, -4.0).astype(np.float32)
    click = PointPrompt(REF, (128.0, 128.0))
    assert decode_window(previous, [click], (256, 256)) is None
    small = np.where(disc((512, 512), (100, 100), 20), 4.0, -4.0).astype(np.float32)
    assert decode_window(small, [click], (512, 512), WindowOptions(enabled=False)) is None
    assert decode_window(small, [click], (512, 512)) is not None


@pytest.fixture(scope="module")
def model():
    torch.set_num_threads(1)
    return load_builtin()


def organ_slice(size=512):
    """A kidney-sized bright organ and a neighbour of the same grey far off, on a large slice."""
    rng = np.random.default_rng(0)
    img = 0.25 + 0.02 * rng.standard_normal((size, size))
    img[disc((size, size), (300, 200), 45)] = 0.7
    img[disc((size, size), (120, 420), 40)] = 0.7
    return img.astype(np.float32)


def test_a_correction_on_a_window_answers_as_on_the_whole_slice(model):
    """A positive click on the border of a partial answer: the windowed decode gives the whole-slice
    answer to within a few border pixels, as good, and nothing appears outside the window."""
    img = organ_slice()
    emb = model.encode(img)
    organ = disc(img.shape, (300, 200), 45)
    partial = organ & disc(img.shape, (285, 200), 40)  # the organ's lower rim left out
    previous = logits_from_mask(partial)
    prompts = [PointPrompt(REF, (300.0, 200.0)), PointPrompt(REF, (342.0, 200.0))]
    windowed = model.decode(emb, prompts, previous)
    window = decode_window(previous, prompts, (512, 512), model.window)
    assert window is not None
    model.window = replace(model.window, enabled=False)
    try:
        whole = model.decode(emb, prompts, previous)
    finally:
        model.window = WindowOptions()
    a, b = windowed > 0, whole > 0
    assert np.count_nonzero(a != b) <= 0.03 * np.count_nonzero(b)  # (106 of 5,289 pixels)
    assert dice(a, organ) >= dice(b, organ) - 0.01  # (0.914 against 0.908)
    outside = np.ones(img.shape, dtype=bool)
    outside[window] = False
    assert np.all(windowed[outside] <= OUTSIDE)
    assert not a[disc(img.shape, (120, 420), 40)].any()  # the far neighbour stays out


def test_a_box_second_look_and_a_walk_step_decode_the_whole_slice_when_told(model):
    """Options reach the decode: the window off gives the same answer as before it existed (whole),
    and propagation steps are decoded whole unless ``window.walks``."""
    img = organ_slice()
    emb = model.encode(img)
    box = [BoxPrompt(REF, (250.0, 150.0), (350.0, 250.0))]
    on = model.decode(emb, box)
    model.configure({"window.enabled": 0})
    try:
        off = model.decode(emb, box)
    finally:
        model.window = WindowOptions()
    organ = disc(img.shape, (300, 200), 45)
    for answer in (on, off):
        inter = np.count_nonzero((answer > 0) & organ)
        assert 2 * inter / (np.count_nonzero(answer > 0) + np.count_nonzero(organ)) > 0.9
    previous = logits_from_mask(organ)
    step = [PointPrompt(REF, (300.0, 200.0))]
    walked = model.decode_step(emb, step, previous, relative=False)
    model.configure({"window.enabled": 0})
    try:
        whole = model.decode_step(emb, step, previous, relative=False)
    finally:
        model.window = WindowOptions()
    np.testing.assert_array_equal(walked, whole)  # a walk's step is decoded whole by default


def test_a_box_second_look_is_decoded_on_a_narrow_window(model):
    """A box's second look on a large slice: its answer lies within the box (prompt_evidence.py), so
    the decoder reads a window ``second_look_margin`` px round it, not the whole slice, and answers
    as well; with the margin 0 it reads the whole slice, as a correction that wide would."""
    img = np.full((512, 512), 0.25, dtype=np.float32)
    img += 0.02 * np.random.default_rng(0).standard_normal(img.shape).astype(np.float32)
    organ = disc(img.shape, (256, 240), 110)  # an organ a large box holds: with 96 px, most of the slice
    img[organ] = 0.7
    emb = model.encode(img)
    box = [BoxPrompt(REF, (140.0, 124.0), (372.0, 356.0))]
    seen = []
    hook = model.net.decoder.register_forward_pre_hook(lambda _m, args: seen.append(tuple(args[1].shape[-2:])))
    try:
        narrow = model.decode(emb, box) > 0
        model.configure({"window.second_look_margin": 0})
        whole = model.decode(emb, box) > 0
    finally:
        hook.remove()
        model.window = WindowOptions()
    second_narrow, second_whole = seen[1], seen[3]  # (coarse first decode, second look) each time
    assert second_narrow[0] * second_narrow[1] < 0.6 * second_whole[0] * second_whole[1]
    assert dice(narrow, organ) >= dice(whole, organ) - 0.01 and dice(narrow, organ) > 0.95


def test_only_positive_boxes_and_lassos_bound_a_second_looks_answer():
    """The narrow window needs the evidence's bound: a positive box or lasso, and the evidence on."""
    from napari_medseg.core.prompts import LassoPrompt
    from napari_medseg.models.builtin.prompt_evidence import EvidenceOptions, bounds_the_answer

    box = BoxPrompt(REF, (10.0, 10.0), (50.0, 50.0))
    lasso = LassoPrompt(REF, ((10.0, 10.0), (10.0, 50.0), (50.0, 30.0)))
    click = PointPrompt(REF, (30.0, 30.0))
    assert bounds_the_answer([box]) and bounds_the_answer([lasso, click])
    assert not bounds_the_answer([click])
    assert not bounds_the_answer([BoxPrompt(REF, (10.0, 10.0), (50.0, 50.0), positive=False), click])
    assert not bounds_the_answer([box], EvidenceOptions(enabled=False))


def test_reaching_the_edge_is_judged_on_the_edges_inside_the_slice():
    part = np.full((64, 96), -4.0, np.float32)
    part[30:34, 40:44] = 4.0  # an answer in the middle of the window
    assert not reaches_edge(part, slice(32, 96), slice(32, 128), (512, 512), 16)
    part[60:64, 40:44] = 4.0  # ... that reaches its lower edge
    assert reaches_edge(part, slice(32, 96), slice(32, 128), (512, 512), 16)
    assert not reaches_edge(part, slice(448, 512), slice(32, 128), (512, 512), 16)  # the slice's own edge


def test_an_answer_that_reaches_the_windows_edge_is_decoded_whole(model):
    """The windowed answer is dropped for the whole slice's (here forced by a guard wider than the
    window: every answer reaches its edge)."""
    img = organ_slice()
    emb = model.encode(img)
    organ = disc(img.shape, (300, 200), 45)
    previous = logits_from_mask(organ & disc(img.shape, (285, 200), 40))
    prompts = [PointPrompt(REF, (300.0, 200.0)), PointPrompt(REF, (342.0, 200.0))]
    assert decode_window(previous, prompts, (512, 512), model.window) is not None
    model.window = WindowOptions(guard=1000)
    try:
        guarded = model.decode(emb, prompts, previous)
        model.window = WindowOptions(enabled=False)
        whole = model.decode(emb, prompts, previous)
    finally:
        model.window = WindowOptions()
    np.testing.assert_array_equal(guarded, whole)
