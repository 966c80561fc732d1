"""A negative click on MR takes out the mask's part that looks like its place (negative_look.py)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from napari_medseg.core.prompts import BoxPrompt, PointPrompt, SliceRef
from napari_medseg.models.builtin.negative_look import (
    NegativeLookOptions,
    answer_to_ignored_click,
    give_back_object_look,
    take_out_look_alike,
)

REF = SliceRef(2, 0)
INSIDE = PointPrompt(REF, (40.0, 40.0))


def _disc(radius: float, shape=(80, 80), centre=(40, 40)) -> np.ndarray:
    rr, cc = np.mgrid[: shape[0], : shape[1]]
    return (rr - centre[0]) ** 2 + (cc - centre[1]) ** 2 <= radius**2


def _brain_like(ribbon: float = 0.6, core: float = 0.85, seed: int = 0) -> np.ndarray:
    """A bright core of radius 20 inside a darker ribbon 5 px thick, on black, with mild noise."""
    image = np.zeros((80, 80), dtype=np.float32)
    image[_disc(25)] = ribbon
    image[_disc(20)] = core
    return image + np.random.default_rng(seed).normal(0, 0.02, image.shape).astype(np.float32)


def _whole_answer() -> np.ndarray:
    """An answer that took the ribbon in with the core (the click wanted the core)."""
    return np.where(_disc(25), 3.0, -3.0).astype(np.float32)


def test_a_negative_click_on_the_ribbon_takes_the_whole_ribbon_out():
    logits = _whole_answer()
    on_ribbon = PointPrompt(REF, (40.0, 62.5), positive=False)
    out = take_out_look_alike(logits, [INSIDE, on_ribbon], _brain_like())
    mask = out > 0
    ring = _disc(25) & ~_disc(21)
    assert mask[ring].mean() < 0.05  # the ribbon went all round, not only at the click
    assert mask[_disc(19)].all()  # the core stays
    assert (logits > 0).sum() == _disc(25).sum()  # the input is left as it was


def test_no_contrast_or_a_positive_newest_prompt_or_too_large_a_share_leave_the_answer():
    logits = _whole_answer()
    on_ribbon = PointPrompt(REF, (40.0, 62.5), positive=False)
    flat = _brain_like(ribbon=0.83)  # the clicked place looks like the object: nothing to tell apart
    assert np.array_equal(take_out_look_alike(logits, [INSIDE, on_ribbon], flat), logits)
    positive = PointPrompt(REF, (40.0, 62.5))
    assert np.array_equal(take_out_look_alike(logits, [on_ribbon, positive], _brain_like()), logits)
    # the ribbon is most of a thin answer: more than max_share, so it is the object itself
    assert np.array_equal(take_out_look_alike(logits, [INSIDE, on_ribbon], _brain_like(),
                                              NegativeLookOptions(max_share=0.2)), logits)


def test_a_positive_click_in_the_clicked_tissue_keeps_it_but_a_box_does_not():
    logits = _whole_answer()
    on_ribbon = PointPrompt(REF, (40.0, 62.5), positive=False)
    kept = PointPrompt(REF, (40.0, 17.5))  # the user clicked the ribbon's other side as object before
    assert np.array_equal(take_out_look_alike(logits, [INSIDE, kept, on_ribbon], _brain_like()), logits)
    box = BoxPrompt(REF, (12.0, 12.0), (68.0, 68.0))
    out = take_out_look_alike(logits, [box, on_ribbon], _brain_like())
    assert (out > 0)[_disc(25) & ~_disc(21)].mean() < 0.05


def test_an_answer_turned_around_by_a_negative_click_falls_back_to_the_previous_mask():
    """The network kept the clicked ribbon and dropped the core: the previous mask, less the ribbon."""
    previous = _whole_answer()
    on_ribbon = PointPrompt(REF, (40.0, 62.5), positive=False)
    turned = np.where(_disc(25) & ~_disc(21), 3.0, -3.0).astype(np.float32)
    out = answer_to_ignored_click(turned, previous, [INSIDE, on_ribbon], _brain_like())
    mask = out > 0
    assert mask[_disc(19)].all() and mask[_disc(25) & ~_disc(21)].mean() < 0.05
    assert (previous > 0).sum() == _disc(25).sum()  # the previous logits are left as they were


def test_an_answer_that_kept_the_previous_mask_or_let_go_of_the_click_stands():
    previous = _whole_answer()
    on_ribbon = PointPrompt(REF, (40.0, 62.5), positive=False)
    kept = np.where(_disc(25) & ~_disc(2, centre=(40, 62)), 3.0, -3.0).astype(np.float32)  # a notch only
    assert answer_to_ignored_click(kept, previous, [INSIDE, on_ribbon], _brain_like()) is kept
    let_go = np.where(_disc(20), 3.0, -3.0).astype(np.float32)  # the ribbon went: the click was heard
    assert answer_to_ignored_click(let_go, previous, [INSIDE, on_ribbon], _brain_like()) is let_go
    turned = np.where(_disc(25) & ~_disc(21), 3.0, -3.0).astype(np.float32)
    positive = PointPrompt(REF, (40.0, 62.5))
    assert answer_to_ignored_click(turned, previous, [INSIDE, positive], _brain_like()) is turned
    assert answer_to_ignored_click(turned, previous, [INSIDE, on_ribbon], _brain_like(),
                                   NegativeLookOptions(ignored_kept=0.0)) is turned


def test_ct_corrections_are_left_to_the_network(monkeypatch):
    """The rule runs on relative intensities only: the model's CT path never calls it."""
    from napari_medseg.models.builtin import model as model_module

    builtin_model = model_module.load_builtin()

    calls = []
    original = model_module.take_out_look_alike
    monkeypatch.setattr(model_module, "take_out_look_alike", lambda *a, **k: calls.append(1) or original(*a, **k))
    emb = builtin_model.encode(_brain_like())
    prompts = [INSIDE, PointPrompt(REF, (40.0, 62.5), positive=False)]
    first = builtin_model.decode_relative(emb, [INSIDE], None, relative=False)
    builtin_model.decode_relative(emb, prompts, first, relative=False)
    assert not calls
    builtin_model.decode_relative(emb, prompts, first, relative=True)
    assert calls


def test_a_click_beside_the_slice_or_a_one_pixel_mask_leave_the_answer_without_warnings():
    import warnings

    logits = _whole_answer()
    one_pixel = np.full((80, 80), -3.0, dtype=np.float32)
    one_pixel[41, 41] = 3.0  # on an odd row and column: not on the every-other-pixel grid
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's "Mean of empty slice" was one
        beside = PointPrompt(REF, (-5.0, -5.0), positive=False)
        assert take_out_look_alike(logits, [INSIDE, beside], _brain_like()) is logits
        on_ribbon = PointPrompt(REF, (40.0, 62.5), positive=False)
        out = take_out_look_alike(one_pixel, [INSIDE, on_ribbon], _brain_like())
        assert out.shape == one_pixel.shape and np.isfinite(out).all()


def _core_band() -> np.ndarray:
    """The part of the core's band that must come back (its blurred rim and the click's place aside)."""
    cols = np.mgrid[:80, :80][1]
    return _disc(19) & (cols > 50) & (cols < 57)


def _band_taken() -> tuple[np.ndarray, np.ndarray, PointPrompt]:
    """The previous mask (core and ribbon), an answer to a negative click on the ribbon's right side
    that took out that side of the ribbon and a band of the core beside it, and the click."""
    cols = np.mgrid[:80, :80][1]
    before = _disc(25)
    after = before & ~(cols > 50)  # the ribbon's right side (cols 61-65) and the core's band (51-60)
    return before, np.where(after, 3.0, -3.0).astype(np.float32), PointPrompt(REF, (40.0, 62.5), positive=False)


def test_a_negative_click_gives_back_what_looks_like_the_object():
    before, logits, click = _band_taken()
    cols = np.mgrid[:80, :80][1]
    out = give_back_object_look(logits, before, click, _brain_like(), 0.06, 2.0, 0.5) > 0
    assert out[_core_band()].all(), "the core's band came back"
    ribbon = before & ~_disc(21) & (cols > 50)
    assert out[ribbon].mean() < 0.05, "the clicked ribbon stays out"
    assert not out[_disc(2.0, centre=(40, 62))].any(), "nothing comes back at the click"
    assert (logits > 0).sum() == (before & ~(cols > 50)).sum()  # the input is left as it was


def test_without_contrast_the_answer_to_a_negative_click_stands():
    before, logits, click = _band_taken()
    flat = _brain_like(ribbon=0.83)  # the clicked ribbon looks like the core
    assert give_back_object_look(logits, before, click, flat, 0.06, 2.0, 0.5) is logits
    assert give_back_object_look(logits, before, click, _brain_like(), 0.5, 2.0, 0.5) is logits


def test_the_correction_rules_give_back_the_object_look_for_negative_clicks_only():
    from napari_medseg.core.prompts import ScribblePrompt
    from napari_medseg.models.builtin.correction import CorrectionOptions, bound_correction

    before, logits, click = _band_taken()
    prev = np.where(before, 3.0, -3.0).astype(np.float32)
    image = _brain_like()
    band = _core_band()
    # (the click sits 2.5 px deep: the border trim and the shallow click's removal rule would give back some too)
    on = CorrectionOptions(border_trim=False, removal_reach=0.0)
    assert (bound_correction(logits, prev, [INSIDE, click], on, image=image) > 0)[band].all()
    off = replace(on, look_back=False)
    assert not (bound_correction(logits, prev, [INSIDE, click], off, image=image) > 0)[band].any()
    stroke = ScribblePrompt(REF, ((35.0, 62.5), (45.0, 62.5)), positive=False)
    assert not (bound_correction(logits, prev, [INSIDE, stroke], on, image=image) > 0)[band].any()


def test_a_negative_click_on_a_dark_objects_rim_leaves_the_rim():
    """A dark object (a ventricle) whose mask holds its one-pixel partial-volume rim, clicked on that
    rim: the click's disc, half outside, is brighter than the object, and the rim looks like it all
    round. A rim no more than ``min_depth`` px deep is not a tissue taken in by mistake: it stays
    (with the depth test off it goes, as on a folded brain's ventricles, Dice 0.965 -> 0.834)."""
    image = np.full((80, 80), 0.8, dtype=np.float32)
    image[_disc(12)] = 0.5  # the rim
    image[_disc(11)] = 0.25
    image += np.random.default_rng(1).normal(0, 0.01, image.shape).astype(np.float32)
    logits = np.where(_disc(12), 3.0, -3.0).astype(np.float32)
    on_rim = PointPrompt(REF, (40.0, 52.0), positive=False)
    assert np.array_equal(take_out_look_alike(logits, [INSIDE, on_rim], image), logits)
    no_depth = take_out_look_alike(logits, [INSIDE, on_rim], image, NegativeLookOptions(min_depth=0))
    assert (no_depth > 0)[_disc(12) & ~_disc(11)].mean() < 0.5  # the rim went all round
    assert (no_depth > 0)[_disc(9)].all()
