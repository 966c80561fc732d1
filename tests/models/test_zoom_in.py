"""A tiny object is answered on a zoomed-in crop (models/builtin/zoom_in.py)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from napari_medseg.core.prompts import BoxPrompt, PointPrompt, SliceRef, rasterize
from napari_medseg.core.sample import generate_phantom
from napari_medseg.core.session import Session
from napari_medseg.evaluation.metrics import dice
from napari_medseg.models.builtin.zoom_in import (
    OUTSIDE,
    ZoomInOptions,
    answer_zoomed_in,
    object_bounds,
    zoom_factor,
)
from napari_medseg.models.registry import load_model

REF = SliceRef(2, 0)


def test_what_says_how_large_the_object_is():
    box = BoxPrompt(REF, (10.0, 12.0), (16.0, 20.0))
    click = PointPrompt(REF, (30.0, 5.0))
    assert object_bounds([box], None) == (10.0, 12.0, 16.0, 20.0)
    assert object_bounds([click], None) is None  # a click alone says nothing of the size
    assert object_bounds([box, click], None) is None
    previous = np.full((40, 40), -5.0)
    previous[20:24, 8:11] = 5.0
    assert object_bounds([click], previous) == (20.0, 5.0, 30.0, 10.0)  # the mask and the new click
    assert object_bounds([click], np.full((40, 40), -5.0)) is None
    opts = ZoomInOptions()
    assert zoom_factor((0, 0, 6, 8), opts) == pytest.approx(32 / 8)
    assert zoom_factor((0, 0, 2, 1), opts) == opts.max_factor
    assert zoom_factor((0, 0, 16, 3), opts) is None  # large enough
    assert zoom_factor((0, 0, 6, 8), ZoomInOptions(enabled=False)) is None


def test_the_crop_answer_lands_on_the_object_and_the_rest_stays_background():
    image = np.zeros((60, 50), dtype=np.float32)
    box = BoxPrompt(REF, (20.0, 30.0), (25.0, 37.0))
    seen = {}

    def answer(crop, prompts, previous):  # a test double: the box on the crop is the object
        seen["shape"], seen["previous"] = crop.shape, previous
        return np.where(rasterize(prompts[0], crop.shape), 8.0, -8.0)

    logits = answer_zoomed_in(image, [box], None, ZoomInOptions(), answer)
    inside = logits > 0
    expected = rasterize(box, image.shape)
    assert dice(inside, expected) > 0.9
    assert seen["previous"] is None and min(seen["shape"]) > 40  # scaled up about 4.6x
    assert (logits[:5] == OUTSIDE).all()  # far from the object: firmly background
    assert answer_zoomed_in(image, [BoxPrompt(REF, (0.0, 0.0), (30.0, 30.0))], None, ZoomInOptions(), answer) is None


def test_a_correction_of_a_tiny_mask_is_answered_zoomed_with_its_previous_logits():
    image = np.zeros((60, 50), dtype=np.float32)
    previous = np.full(image.shape, -6.0, dtype=np.float32)
    previous[30:34, 20:24] = 6.0
    click = PointPrompt(REF, (35.0, 25.0))

    def grow(crop, prompts, prev):  # a test double: the previous mask, grown by 6 zoomed px (~1 slice px)
        return np.where(ndimage.binary_dilation(prev > 0, iterations=6), 5.0, -5.0)

    logits = answer_zoomed_in(image, [click], previous, ZoomInOptions(), grow)
    assert (logits[previous > 0] > 0).all()
    assert 16 < np.count_nonzero(logits > 0) <= 36  # grown by about a slice pixel: at most 6 x 6
    assert answer_zoomed_in(image, [click], previous, ZoomInOptions(corrections=False), grow) is None


def test_a_box_round_the_aorta_on_a_coarse_ct_slice_is_answered():
    """The development phantom's slice scaled to a third in plane (2.7 mm pixels): the aorta is 36 px.
    The slice's own embedding answers its box with nothing; zoomed in, the aorta."""
    image, labels, _, names = generate_phantom(7)
    aorta = labels == next(k for k, v in names.items() if v == "aorta")
    z = int(np.argmax(aorta.sum(axis=(0, 1))))
    img = ndimage.zoom(image[..., z - 1 : z + 2].astype(np.float32), (1 / 3, 1 / 3, 1), order=1)
    ref = ndimage.zoom(aorta[..., z].astype(np.float32), 1 / 3, order=1) > 0.5
    rows, cols = np.nonzero(ref)
    box = BoxPrompt(SliceRef(2, 1), (rows.min() - 1.0, cols.min() - 1.0), (rows.max() + 1.0, cols.max() + 1.0))
    scores = {}
    for enabled in (False, True):
        model = load_model("builtin")
        model.configure({"zoom_in.enabled": enabled})
        scores[enabled] = dice(Session(img, model, preset="ct-abdomen", axis=2).add_prompts([box]).mask, ref)
    assert scores[False] < 0.3
    assert scores[True] > 0.8
