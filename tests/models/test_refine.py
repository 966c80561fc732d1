"""Full-resolution refinement of the built-in model's logits: the guided filter and the box/lasso
evidence, each on its own, and inside the model's decode."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_medseg.core.prompts import BoxPrompt, LassoPrompt, PointPrompt, ScribblePrompt, SliceRef
from napari_medseg.models.builtin.model import load_builtin
from napari_medseg.models.builtin.prompt_evidence import EvidenceOptions, apply_prompt_evidence
from napari_medseg.models.builtin.refine import RefineOptions, box_mean, guided_refine

REF = SliceRef(2, 0)


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return float(2 * (a & b).sum() / max(a.sum() + b.sum(), 1))


def square_scene(offset: int = 3, seed: int = 0):
    """A sharp bright square and blurry logits whose edge sits ``offset`` px outside it."""
    rng = np.random.default_rng(seed)
    truth = np.zeros((96, 96), dtype=bool)
    truth[30:66, 24:70] = True
    img = np.clip(0.3 + 0.4 * truth + rng.normal(0, 0.01, truth.shape), 0, 1).astype(np.float32)
    rr, cc = np.mgrid[:96, :96]
    # signed distance to a box grown by ``offset``, scaled: a soft, misplaced mask
    dr = np.maximum(30 - offset - rr, rr - (65 + offset))
    dc = np.maximum(24 - offset - cc, cc - (69 + offset))
    logits = (-0.8 * np.maximum(dr, dc)).astype(np.float32)
    return img, truth, logits


def test_box_mean_matches_a_direct_window_average():
    x = torch.rand(1, 2, 20, 23, dtype=torch.float32)
    got = box_mean(x, 2)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2), mode="replicate")
    want = torch.nn.functional.avg_pool2d(padded, 5, stride=1)
    assert torch.allclose(got, want, atol=1e-5)


def test_guided_filter_moves_a_misplaced_edge_onto_the_image_edge():
    img, truth, logits = square_scene(offset=3)
    before = dice(logits > 0, truth)
    refined = guided_refine(torch.from_numpy(logits), torch.from_numpy(img)).numpy()
    after = dice(refined > 0, truth)
    assert before < 0.92 and after > 0.97
    assert np.isfinite(refined).all()


def vessel_on_bone_scene(seed: int = 0):
    """A mid-grey disk (a contrast-filled vessel) on dark fat, touching bright bone on its right; the
    logits are soft and sit inside the disk's border (the network under-segmenting it)."""
    rng = np.random.default_rng(seed)
    rr, cc = np.mgrid[:80, :80]
    disk = (rr - 40) ** 2 + (cc - 36) ** 2 <= 12**2
    bone = (cc >= 48) & (np.abs(rr - 40) < 20)
    img = np.where(bone, 1.0, np.where(disk, 0.6, 0.3)) + rng.normal(0, 0.01, disk.shape)
    dist = np.sqrt((rr - 40) ** 2 + (cc - 36) ** 2) - 12
    return np.clip(img, 0, 1).astype(np.float32), disk & ~bone, (-0.2 * dist - 0.5).astype(np.float32)


def test_guided_filter_recovers_a_vessel_wall_between_darker_and_brighter_tissue():
    """Windows on the vessel's right wall hold three intensities (fat < vessel < bone): a linear fit
    of probability on intensity has no answer there (Dice 0.82 with the linear filter that shipped
    first); the quadratic guide (I, I^2) fits it."""
    img, vessel, logits = vessel_on_bone_scene()
    refined = guided_refine(torch.from_numpy(logits), torch.from_numpy(img)).numpy() > 0
    assert dice(logits > 0, vessel) < 0.85
    assert dice(refined, vessel) > 0.95


def test_guided_filter_keeps_confident_logits_and_flat_images():
    img, _, logits = square_scene()
    refined = guided_refine(torch.from_numpy(logits), torch.from_numpy(img)).numpy()
    confident = np.abs(logits) >= RefineOptions().band
    np.testing.assert_array_equal(refined[confident], logits[confident])
    flat = np.full_like(img, 0.5)
    on_flat = guided_refine(torch.from_numpy(logits), torch.from_numpy(flat)).numpy()
    # no edge to snap to: the filter only smooths (rounds the corners), the mask stays where it was
    assert dice(on_flat > 0, logits > 0) > 0.93
    off = guided_refine(torch.from_numpy(logits), torch.from_numpy(img), RefineOptions(enabled=False))
    assert torch.equal(off, torch.from_numpy(logits))


def test_weak_pixels_take_their_neighbourhood_majority_and_confident_ones_stay():
    from napari_medseg.models.builtin.refine import _tidy

    logits = torch.full((12, 12), -0.5)
    logits[2:10, 2:10] = 0.5  # a weak square ...
    logits[5, 5] = -0.3  # ... with a weak hole of one pixel
    logits[0, 11] = 0.4  # and a weak speck outside
    logits[11, 0] = 3.0  # a confident pixel on its own
    tidy = _tidy(logits, 1.0)
    assert tidy[5, 5] > 0 and tidy[0, 11] < 0  # the hole closes, the speck goes
    assert tidy[11, 0] == 3.0  # confident logits are never changed
    assert bool((tidy[3:9, 3:9] > 0).all()) and bool((tidy[:, :1][:10] < 0).all())


def test_guided_filter_with_nothing_uncertain_returns_the_logits():
    logits = torch.full((16, 16), -9.0)
    assert torch.equal(guided_refine(logits, torch.rand(16, 16)), logits)


def test_positive_box_and_lasso_bound_the_mask():
    logits = np.full((50, 60), 5.0, dtype=np.float32)  # the network says "object" everywhere
    box = BoxPrompt(REF, (10, 10), (20, 30))
    out = apply_prompt_evidence(logits, [box])
    margin = EvidenceOptions().margin
    allowed = np.zeros(logits.shape, dtype=bool)
    allowed[10 - margin : 21 + margin, 10 - margin : 31 + margin] = True
    assert (out[~allowed] <= -EvidenceOptions().floor).all()
    assert (out[12:19, 12:29] == 5.0).all()
    lasso = LassoPrompt(REF, ((30, 30), (30, 50), (45, 50), (45, 30)))
    out = apply_prompt_evidence(logits, [lasso])
    assert out[37, 40] == 5.0 + EvidenceOptions().lasso_bias
    assert out[5, 5] <= -EvidenceOptions().floor


def test_lasso_bias_is_the_union_of_positive_lassos_and_negative_regions_are_background():
    logits = np.zeros((40, 40), dtype=np.float32)
    a = LassoPrompt(REF, ((2, 2), (2, 15), (15, 15), (15, 2)))
    b = LassoPrompt(REF, ((20, 20), (20, 35), (35, 35), (35, 20)))
    cut = LassoPrompt(REF, ((25, 25), (25, 30), (30, 30), (30, 25)), positive=False)
    out = apply_prompt_evidence(logits, [a, b, cut])
    bias = EvidenceOptions().lasso_bias
    assert out[8, 8] == bias and out[22, 22] == bias  # inside either lasso
    assert out[27, 27] <= -EvidenceOptions().floor  # inside the negative lasso
    neg_box = BoxPrompt(REF, (0, 0), (5, 5), positive=False)
    assert (apply_prompt_evidence(np.full((10, 10), 3.0, np.float32), [neg_box])[:6, :6] <= -1).all()


def test_in_a_correction_the_lasso_pushes_only_deeper_inside():
    """A first answer gets the push over the lasso's whole inside; a correction only more than 1.5 px in:
    the hand-drawn outline's own ring is left to the network and the image."""
    logits = np.full((40, 40), -0.5, dtype=np.float32)  # the network slightly against, everywhere
    lasso = LassoPrompt(REF, ((5, 5), (5, 34), (34, 34), (34, 5)))
    first = apply_prompt_evidence(logits, [lasso]) > 0
    later = apply_prompt_evidence(logits, [lasso], correcting=True) > 0
    assert first[5, 20] and first[20, 20]  # the outline's own row and the middle
    assert not later[5, 20] and not later[34, 20] and later[6, 20] and later[20, 20]
    off = EvidenceOptions(correction_depth=0)
    assert np.array_equal(apply_prompt_evidence(logits, [lasso], off, correcting=True) > 0, first)


def test_a_later_positive_prompt_wins_over_an_earlier_negative_region():
    """A negative lasso drawn too eagerly takes part of the object; a positive lasso or click drawn
    back over that part afterwards must be able to return it (the negative region no longer clears
    it). A negative region drawn after the positive one still clears what it covers."""
    logits = np.full((40, 40), 3.0, dtype=np.float32)
    obj = LassoPrompt(REF, ((2, 2), (2, 37), (37, 37), (37, 2)))
    cut = LassoPrompt(REF, ((5, 5), (5, 20), (20, 20), (20, 5)), positive=False)
    back = LassoPrompt(REF, ((10, 10), (10, 18), (18, 18), (18, 10)))
    floor = EvidenceOptions().floor
    assert apply_prompt_evidence(logits, [obj, cut])[14, 14] <= -floor
    out = apply_prompt_evidence(logits, [obj, cut, back])
    assert out[14, 14] > 0  # drawn back: the network's (here positive) answer stands
    assert out[7, 7] <= -floor  # the rest of the negative lasso is still cleared
    assert apply_prompt_evidence(logits, [obj, back, cut])[14, 14] <= -floor  # the negative came last
    clicked = apply_prompt_evidence(logits, [obj, cut, PointPrompt(REF, (14.0, 14.0))])
    assert clicked[14, 14] > 0 and clicked[7, 7] <= -floor
    boxed = apply_prompt_evidence(logits, [obj, cut, BoxPrompt(REF, (4, 4), (22, 22))])
    assert boxed[14, 14] <= -floor  # a box says where the object is, not that all of it is object
    kept = apply_prompt_evidence(logits, [obj, cut, back], EvidenceOptions(later_wins=False))
    assert kept[14, 14] <= -floor


def test_prompts_without_regions_leave_the_logits_alone():
    logits = np.random.default_rng(0).normal(size=(20, 20)).astype(np.float32)
    assert apply_prompt_evidence(logits, [PointPrompt(REF, (5, 5))]) is logits
    assert apply_prompt_evidence(logits, [BoxPrompt(REF, (1, 1), (4, 4))], EvidenceOptions(enabled=False)) is logits


@pytest.fixture(scope="module")
def model():
    torch.set_num_threads(1)
    return load_builtin()


def test_model_embedding_carries_the_slice_for_the_refinement(model):
    img = np.random.default_rng(2).random((40, 52)).astype(np.float32)
    emb = model.encode(img)
    assert emb["image"].shape == img.shape and emb["image"].dtype == np.float16
    emb.pop("image")
    with pytest.raises(Exception, match="image"):
        model.decode(emb, [PointPrompt(REF, (20, 20))])


def test_model_refinement_sharpens_a_click_on_a_sharp_square(model):
    """Shipped weights, one click: the refined mask fits a sharp-edged square better than the
    network's own half-resolution mask (the number the refinement is there to raise)."""
    img, truth, _ = square_scene(offset=0, seed=4)
    emb = model.encode(img)
    click = [PointPrompt(REF, (48, 47))]
    refined = model.decode(emb, click) > 0
    saved = model.refine
    try:
        model.refine = RefineOptions(enabled=False)
        raw = model.decode(emb, click) > 0
    finally:
        model.refine = saved
    assert dice(refined, truth) >= dice(raw, truth) - 1e-9
    assert dice(refined, truth) > 0.95


def test_first_answer_offset_depends_on_the_prompt_kind_and_only_applies_once():
    from napari_medseg.models.builtin.calibration import CalibrationOptions, first_answer_offset

    opts = CalibrationOptions()
    click, box = PointPrompt(REF, (5, 5)), BoxPrompt(REF, (1, 1), (9, 9))
    lasso = LassoPrompt(REF, ((1, 1), (1, 9), (9, 9)))
    assert first_answer_offset([click], False) == opts.clicks < 0  # area unknown: a large object
    assert first_answer_offset([box, click], False) == opts.box
    assert first_answer_offset([lasso], False) == opts.lasso > 0
    assert first_answer_offset([box, lasso], False) == opts.lasso  # the lasso bounds the answer
    assert first_answer_offset([click], True) == 0.0  # a correction refines a previous mask
    assert first_answer_offset([box], True) == 0.0  # propagation carries a previous mask
    assert first_answer_offset([click], False, CalibrationOptions(enabled=False)) == 0.0


def test_first_answer_offset_fades_with_the_size_of_the_networks_own_mask():
    from napari_medseg.models.builtin.calibration import CalibrationOptions, first_answer_offset

    opts = CalibrationOptions()
    click, box = PointPrompt(REF, (5, 5)), BoxPrompt(REF, (1, 1), (9, 9))
    # clicks: the leak-cutting offset is for large objects; a small one keeps the network's answer
    assert first_answer_offset([click], False, opts, opts.small_area) == 0.0
    mid = (opts.small_area + opts.large_area) / 2
    assert first_answer_offset([click], False, opts, mid) == pytest.approx(opts.clicks / 2)
    assert first_answer_offset([click], False, opts, opts.large_area * 10) == opts.clicks
    # boxes: the network is timid inside a small box, so a small object's answer grows more
    assert first_answer_offset([box], False, opts, 10.0) == opts.box_small > opts.box
    assert first_answer_offset([box], False, opts, opts.box_large_area) == opts.box
    assert first_answer_offset([box], True, opts, 10.0) == 0.0  # never on a correction


def test_model_applies_the_calibration_to_a_first_click(model):
    from napari_medseg.models.builtin.calibration import CalibrationOptions

    img, _, _ = square_scene(offset=0, seed=6)
    emb = model.encode(img)
    click = [PointPrompt(REF, (48, 47))]
    from napari_medseg.models.builtin.edge_fill import EdgeFillOptions
    from napari_medseg.models.builtin.extend import ExtendOptions

    saved = model.calibration, model.refine, model.extend, model.edge_fill
    try:
        model.refine = RefineOptions(enabled=False)  # the offset alone, before the edge refinement
        model.extend = ExtendOptions(enabled=False)  # and before the extension over the object
        model.edge_fill = EdgeFillOptions(enabled=False)  # and the edge fill of the unsure band
        calibrated = model.decode(emb, click)
        model.calibration = CalibrationOptions(enabled=False)
        raw = model.decode(emb, click)
    finally:
        model.calibration, model.refine, model.extend, model.edge_fill = saved
    np.testing.assert_allclose(calibrated, raw + saved[0].clicks, atol=1e-5)


def test_a_first_answer_never_loses_the_small_faint_object_that_was_clicked(model):
    """A dark 6 px blob: the -1.5 offset and the edge filter pull every logit below 0, so the
    network's own answer (which had the blob) is used instead of an empty mask. (The offset now
    fades for objects this small; the test applies it in full to check the fallback.)"""
    from scipy import ndimage

    from napari_medseg.models.builtin.calibration import CalibrationOptions

    rng = np.random.default_rng(2)
    rr, cc = np.mgrid[:64, :64]
    blob = (rr - 32) ** 2 + (cc - 32) ** 2 <= 36
    texture = ndimage.gaussian_filter(rng.normal(0, 0.05, blob.shape), 2)
    img = np.clip(0.5 + texture - 0.1 * blob + rng.normal(0, 0.03, blob.shape), 0, 1).astype(np.float32)
    emb = model.encode(img)
    scribble = [ScribblePrompt(REF, ((32.0, 32.0),), True, 3.0)]
    saved = model.calibration
    try:
        full = {"small_area": 0.0, "large_area": 0.0}  # the offset whatever the size
        model.calibration = CalibrationOptions(keep_prompted=False, **full)
        assert not (model.decode(emb, scribble) > 0).any()  # what the fallback is for
        model.calibration = CalibrationOptions(**full)
        mask = model.decode(emb, scribble) > 0
        model.calibration = CalibrationOptions()  # the shipped fade: no offset on so small an answer
        faded = model.decode(emb, scribble) > 0
    finally:
        model.calibration = saved
    assert mask[32, 32] and dice(mask, blob) > 0.6
    assert faded[32, 32] and dice(faded, blob) > 0.6
