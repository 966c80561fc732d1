"""Previews keep the pieces the prompts point at (core/components.py, through the Session)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from napari_medseg.core.components import fill_holes, keep_prompted
from napari_medseg.core.prompts import BoxPrompt, LassoPrompt, PointPrompt, ScribblePrompt, SliceRef
from napari_medseg.core.session import Session

REF = SliceRef(2, 1)


def two_blobs(shape=(40, 40)) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[5:15, 5:15] = True  # the one the user means
    mask[25:35, 25:35] = True  # a distant look-alike
    return mask


def test_a_click_keeps_only_its_piece_and_a_second_click_adds_the_other():
    mask = two_blobs()
    kept = keep_prompted(mask, [PointPrompt(REF, (10, 10))])
    assert kept[10, 10] and not kept[30, 30] and kept.sum() == 100
    both = keep_prompted(mask, [PointPrompt(REF, (10, 10)), PointPrompt(REF, (30, 30))])
    assert both.sum() == 200


def test_a_click_on_the_border_still_counts_and_negative_prompts_anchor_nothing():
    mask = two_blobs()
    assert keep_prompted(mask, [PointPrompt(REF, (15.4, 10))]).sum() == 100  # one pixel outside the piece
    neg = [PointPrompt(REF, (10, 10)), PointPrompt(REF, (30, 30), positive=False)]
    assert keep_prompted(mask, neg).sum() == 100


def test_scribble_box_and_lasso_anchor_what_they_cover():
    mask = two_blobs()
    assert keep_prompted(mask, [ScribblePrompt(REF, ((28, 28), (31, 31)), True, 3.0)]).sum() == 100
    assert keep_prompted(mask, [ScribblePrompt(REF, ((28, 28), (31, 31)), True, 3.0)])[30, 30]
    assert keep_prompted(mask, [BoxPrompt(REF, (3, 3), (17, 17))])[10, 10]
    assert not keep_prompted(mask, [BoxPrompt(REF, (3, 3), (17, 17))])[30, 30]
    lasso = LassoPrompt(REF, ((22, 22), (22, 38), (38, 38), (38, 22)))
    assert keep_prompted(mask, [lasso]).sum() == 100 and keep_prompted(mask, [lasso])[30, 30]


def test_start_mask_keeps_the_pieces_it_overlaps_and_nothing_is_dropped_without_an_anchor():
    mask = two_blobs()
    start = np.zeros_like(mask)
    start[30, 30] = True
    assert keep_prompted(mask, [PointPrompt(REF, (10, 10))], start).sum() == 200
    assert keep_prompted(mask, [PointPrompt(REF, (2, 38))]) is mask  # a click on no piece: unchanged
    assert keep_prompted(mask, [PointPrompt(REF, (10, 10), positive=False)]) is mask


class EverythingBrightModel:
    """Test double of a model whose answer is every bright pixel of the slice, wherever the click is
    (what a similarity-driven decoder does in the worst case)."""

    name = "everything-bright"
    identity = "everything-bright:v1"

    def __init__(self):
        self.prevs: list = []

    def encode(self, image):
        return {"image": np.asarray(image, dtype=np.float32).copy()}

    def decode(self, embedding, prompts, prev_logits=None):
        self.prevs.append(prev_logits)
        return np.where(embedding["image"] > 0.5, 4.0, -4.0).astype(np.float32)


def volume_with_two_blobs() -> np.ndarray:
    vol = np.zeros((40, 40, 3), dtype=np.float32)
    vol[..., 1] = two_blobs()
    return vol


def test_session_preview_keeps_the_clicked_piece_and_keeps_the_other_out_of_the_next_refinement():
    model = EverythingBrightModel()
    session = Session(volume_with_two_blobs(), model, preset="window:0.5:1")
    first = session.add_prompts(PointPrompt(REF, (10, 10)))
    assert first.mask[10, 10] and not first.mask[30, 30]
    assert first.logits[30, 30] < 0 < first.logits[10, 10]  # the dropped piece leaves the logits too
    session.add_prompts(PointPrompt(REF, (12, 12)))
    assert model.prevs[-1][30, 30] < 0  # the refinement starts without it
    both = session.add_prompts(PointPrompt(REF, (30, 30)))
    assert both.mask[30, 30] and both.mask[10, 10]


def test_session_can_keep_every_piece():
    session = Session(volume_with_two_blobs(), EverythingBrightModel(), preset="window:0.5:1", keep_prompted=False)
    assert session.add_prompts(PointPrompt(REF, (10, 10))).mask.sum() == 200


def test_correcting_an_existing_label_keeps_its_pieces():
    labels = np.zeros((40, 40, 3), dtype=np.uint8)
    labels[25:35, 25:35, 1] = 3
    session = Session(volume_with_two_blobs(), EverythingBrightModel(), labels=labels, preset="window:0.5:1")
    preview = session.add_prompts(PointPrompt(REF, (10, 10)), label_id=3)
    assert preview.mask.sum() == 200


def test_fill_holes_matches_scipy_on_random_and_structured_masks():
    rng = np.random.default_rng(0)
    ring = np.zeros((40, 50), bool)
    ring[5:30, 8:40] = True
    ring[10:20, 15:25] = False  # a hole
    ring[0:3, 0:50] = True  # a band along the border: what it encloses is nothing
    cases = [ring, np.zeros((7, 9), bool), np.ones((7, 9), bool)]
    cases += [rng.random((33, 47)) > p for p in (0.3, 0.5, 0.7)]
    for mask in cases:
        np.testing.assert_array_equal(fill_holes(mask), ndimage.binary_fill_holes(mask))
    assert fill_holes(ring)[15, 20] and not fill_holes(ring)[35, 45]
