"""What a correction may change: hand-made previous and new logits (a disc object), and the built-in
model on a development phantom (seed 8, not an evaluation volume)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from napari_medseg.core.morphology import within_distance
from napari_medseg.core.prompts import BoxPrompt, PointPrompt, ScribblePrompt, SliceRef, rasterize
from napari_medseg.models.builtin.correction import (
    CorrectionOptions,
    bound_correction,
    euler_change,
)
from napari_medseg.models.builtin.whole_answer import whole_from_fresh

REF = SliceRef(2, 0)
SIZE = 96


def disc(radius: float, centre=(48.0, 48.0)) -> np.ndarray:
    rr, cc = np.indices((SIZE, SIZE))
    return np.hypot(rr - centre[0], cc - centre[1]) <= radius


def logits_of(mask: np.ndarray) -> np.ndarray:
    return np.where(mask, 3.0, -3.0).astype(np.float32)


def test_a_positive_click_does_not_take_out_the_part_beside_it():
    before = disc(30)
    notch = disc(9, centre=(48.0, 24.0)) & before  # the answer lost a part right next to the click
    far = disc(5, centre=(48.0, 79.0)) & before  # ... and a border part far from it
    after = before & ~notch & ~far
    click = [PointPrompt(REF, (48.0, 14.0), True)]  # inside the object, 4 px from the notch
    out = bound_correction(logits_of(after), logits_of(before), click) > 0
    assert out[notch].all(), "the part beside a positive click came back"
    assert not out[far].any(), "a change far from the click is the network's to make"


def test_a_negative_click_does_not_add_what_reaches_it():
    before = disc(20)
    spill = disc(10, centre=(48.0, 72.0)) & ~before  # the answer grew where the user said no
    after = before | spill
    click = [PointPrompt(REF, (48.0, 76.0), False)]
    out = bound_correction(logits_of(after), logits_of(before), click) > 0
    assert not out[spill].any()
    assert out[before].all()


def test_a_border_click_mends_the_border_but_does_not_flood():
    before = disc(20)
    flood = disc(40) & ~before  # the whole surroundings joined after a click on the rim
    after = before | flood
    click = [PointPrompt(REF, (48.0, 69.0), True)]  # 1 px outside the mask
    out = bound_correction(logits_of(after), logits_of(before), click) > 0
    kept = out & ~before
    assert kept.any() and kept.sum() < 0.25 * flood.sum()
    ring = np.hypot(*(np.indices((SIZE, SIZE)) - 48.0)) <= 24.0
    assert not (kept & ~ring).any(), "nothing farther than border_growth (4 px) from the old mask"


def test_a_click_on_a_sliver_moves_the_border_about_as_far_as_the_click_lies_out():
    """A click 1 px out (on a one-pixel sliver) may move the border by ``growth_floor`` (2 px), not
    ``border_growth`` (4 px); a click 2 px out by twice that, up to ``border_growth``."""
    before = disc(20)
    after = disc(26)  # the network grew the whole border by 6 px
    for out_by, limit in ((1.0, 2.0), (2.0, 4.0)):
        click = [PointPrompt(REF, (48.0, 68.0 + out_by), True)]
        kept = (bound_correction(logits_of(after), logits_of(before), click) > 0) & ~before
        grown_by = np.hypot(*(np.indices((SIZE, SIZE)) - 48.0))[kept].max() - 20.0
        assert limit - 1.0 < grown_by <= limit + 0.5, (out_by, grown_by)
    loose = CorrectionOptions(growth_per_distance=0.0)  # off: border_growth alone
    click = [PointPrompt(REF, (48.0, 69.0), True)]
    kept = (bound_correction(logits_of(after), logits_of(before), click, loose) > 0) & ~before
    assert np.hypot(*(np.indices((SIZE, SIZE)) - 48.0))[kept].max() - 20.0 > 3.0


def test_a_dab_of_the_brush_moves_the_border_as_a_click_would():
    """A stroke of one point (the simulated user's stroke on an error region too small for a line)
    1 px out, on a sliver: bounded as a click there (2 px of growth), not as a stroke (anything
    within ``scribble_reach``, 8 px, of it). On a development phantom's aorta such a dab by the
    vertebra had the network take in the bone beside it (Dice 0.97 -> 0.83)."""
    before = disc(20)
    after = disc(26)  # the network grew the whole border by 6 px
    radius = np.hypot(*(np.indices((SIZE, SIZE)) - 48.0))
    for points in (((48.0, 69.0),), ((47.0, 69.0), (49.0, 69.5))):
        dab = [ScribblePrompt(REF, points, True, width=3.0)]
        kept = (bound_correction(logits_of(after), logits_of(before), dab) > 0) & ~before
        assert kept.any() and radius[kept].max() - 20.0 <= 2.5, points
        as_stroke = CorrectionOptions(dab_as_click=False)
        kept = (bound_correction(logits_of(after), logits_of(before), dab, as_stroke) > 0) & ~before
        assert radius[kept].max() - 20.0 > 5.0
    line = [ScribblePrompt(REF, ((40.0, 69.0), (56.0, 68.0)), True, width=3.0)]  # a line: a stroke still
    kept = (bound_correction(logits_of(after), logits_of(before), line) > 0) & ~before
    assert radius[kept].max() - 20.0 > 5.0


def test_a_positive_click_inside_the_mask_does_not_flood_either():
    """A click deep inside the mask lies at distance 0 from it, as a border click does."""
    before = disc(20)
    flood = disc(40) & ~before
    click = [PointPrompt(REF, (48.0, 48.0), True)]  # the mask's centre
    out = bound_correction(logits_of(before | flood), logits_of(before), click) > 0
    assert not (out & ~disc(24.0)).any(), "nothing farther than border_growth (4 px) from the old mask"


def test_a_border_stroke_on_a_small_object_does_not_grow_its_far_side():
    before = disc(10)
    ring = disc(14) & ~before  # the answer grew the whole lesion by 4 px all round
    stroke = ScribblePrompt(REF, ((42.0, 37.0), (48.0, 36.0), (54.0, 37.0)), True)  # along the left rim
    out = bound_correction(logits_of(before | ring), logits_of(before), [stroke]) > 0
    rr, cc = np.indices((SIZE, SIZE))
    assert out[48, 35], "beside the stroke the border is mended"
    assert not (out & ~disc(11.5))[cc > 58].any(), "the far side grows by at most one pixel"
    off = CorrectionOptions(far_from_prompt=0)
    assert (bound_correction(logits_of(before | ring), logits_of(before), [stroke], off) > 0)[48, 61]


def test_a_prompt_in_a_hole_fills_it_and_takes_nothing_else():
    ring = disc(24) & ~disc(8)
    cut = disc(24) & (np.indices((SIZE, SIZE))[1] > 66)  # the answer lost the ring's far right side...
    after = disc(24) & ~cut  # ...while filling the hole
    stroke = ScribblePrompt(REF, ((42.0, 48.0), (54.0, 48.0)), True)  # along the hole
    out = bound_correction(logits_of(after), logits_of(ring), [stroke]) > 0
    assert out[disc(8)].all() and out[cut].all()
    on_ring = [PointPrompt(REF, (48.0, 30.0), True)]  # on the mask itself, not in its hole
    alone = CorrectionOptions(interior_depth=0)  # (the cut reaches 6 px deep: the interior rule gives it back)
    assert not (bound_correction(logits_of(after), logits_of(ring), on_ring, alone) > 0)[cut].any(), \
        "a prompt that is not in a hole is not held to it"
    off = CorrectionOptions(hole_reach=0, interior_depth=0)
    assert not (bound_correction(logits_of(after), logits_of(ring), [stroke], off) > 0)[cut].any()


def test_a_positive_prompt_takes_out_nothing_deep_inside_away_from_itself():
    """A positive click on a kidney's border sliver had the network punch a hole in its middle: a
    removed piece that reaches deeper than ``interior_depth`` px into the mask, away from the click,
    comes back; a shallow trim of the border elsewhere stays the network's to make."""
    before = disc(30)
    hole = disc(8)  # the middle, taken out
    bite = disc(5, centre=(48.0, 79.0)) & before  # the far border, trimmed (at most 4 px deep)
    after = before & ~hole & ~bite
    click = [PointPrompt(REF, (48.0, 19.0), True)]  # on the near border
    on = CorrectionOptions()
    out = bound_correction(logits_of(after), logits_of(before), click, on) > 0
    assert out[hole].all(), "the middle came back"
    assert not out[bite].any(), "a border trim away from the click stays"
    off = CorrectionOptions(interior_depth=0.0, keep_topology=False)  # (the topology rule gives it back too)
    assert not (bound_correction(logits_of(after), logits_of(before), click, off) > 0)[hole].any()
    negative = [PointPrompt(REF, (48.0, 19.0), False)]
    no_trim = CorrectionOptions(border_trim=False, removal_reach=0.0)  # (the trim and removal rules give it back)
    assert not (bound_correction(logits_of(after), logits_of(before), negative, no_trim) > 0)[hole].any(), \
        "a negative prompt is not held to it"


def test_a_positive_click_cuts_no_part_away_from_itself():
    """A positive click on a vertebra's border had the network cut the arch, a ring, open on its far
    side: a removed piece away from the click whose removal changes the mask's topology (a part cut
    in two, a hole opened or closed) comes back; a trim that leaves it as it was stays."""
    rows, cols = np.indices((SIZE, SIZE))
    body = disc(14, centre=(48.0, 30.0))
    ring = disc(12, centre=(48.0, 62.0)) & ~disc(8, centre=(48.0, 62.0))
    before = body | ring
    cut = ring & (rows < 44) & (np.abs(cols - 62) < 3)  # the arch's far side, cut through
    trim = body & ~disc(13, centre=(48.0, 30.0)) & (rows > 52) & (cols > 30)  # 1 px off the body's lower right
    after = before & ~cut & ~trim
    click = [PointPrompt(REF, (48.0, 16.0), True)]  # on the body's left border
    out = bound_correction(logits_of(after), logits_of(before), click) > 0
    assert out[cut].all(), "the ring is whole again"
    assert not out[trim].any(), "a trim that leaves the topology as it was stays"
    off = CorrectionOptions(keep_topology=False)
    assert not (bound_correction(logits_of(after), logits_of(before), click, off) > 0)[cut].any()
    negative = [PointPrompt(REF, (48.0, 30.0), False)]  # (deep inside: no border-trim rule either)
    assert not (bound_correction(logits_of(after), logits_of(before), negative) > 0)[cut].any(), \
        "a negative click is not held to it"


def test_a_click_away_from_the_mask_may_add_a_new_part():
    before = disc(12)
    part = disc(10, centre=(48.0, 80.0))
    after = before | part
    click = [PointPrompt(REF, (48.0, 80.0), True)]  # 20 px from the mask
    out = bound_correction(logits_of(after), logits_of(before), click)
    assert np.array_equal(out > 0, after)


def test_a_box_is_not_bounded_by_the_border_rule():
    before, after = disc(20), disc(40)
    box = BoxPrompt(REF, (10.0, 10.0), (80.0, 80.0), True)
    out = bound_correction(logits_of(after), logits_of(before), [box])
    assert np.array_equal(out > 0, after)


def test_a_border_scribble_adds_what_lies_along_it_and_no_more():
    before, after = disc(20), disc(40)
    stroke = ScribblePrompt(REF, ((30.0, 70.0), (48.0, 72.0), (66.0, 70.0)), True)  # along the rim
    out = bound_correction(logits_of(after), logits_of(before), [stroke]) > 0
    assert out[48, 80], "8 px beyond the stroke is still within its reach"
    assert not out[48, 86] and not out[10, 48], "the flood beyond the stroke's reach is dropped"
    assert out[before].all()


def test_first_answers_and_disabled_rules_are_left_alone():
    before, after = disc(20), disc(40)
    click = [PointPrompt(REF, (48.0, 69.0), True)]
    logits = logits_of(after)
    assert bound_correction(logits, None, click) is logits
    assert bound_correction(logits, logits_of(before), click, CorrectionOptions(enabled=False)) is logits


def test_the_model_applies_the_rules_to_its_corrections(dev_kidney):
    """On a development phantom's kidney: after a box, a positive click on the rim grows the mask by
    nothing farther than ``border_growth`` px from the box's answer."""
    from scipy import ndimage

    model, emb, box, ref = dev_kidney
    first = model.decode(emb, [box])
    outside = ndimage.distance_transform_edt(~(first > 0))
    ring = np.argwhere((outside > 0.5) & (outside <= 2.0) & ref)
    if len(ring) == 0:
        ring = np.argwhere((outside > 0.5) & (outside <= 2.0))
    click = PointPrompt(REF, tuple(float(v) for v in ring[len(ring) // 2]), True)
    second = model.decode(emb, [box, click], prev_logits=first) > 0
    grown = second & ~(first > 0)
    assert not (grown & (outside > CorrectionOptions().border_growth)).any()


def test_a_negative_stroke_adds_no_far_part():
    """A negative stroke (on CT a negative click too) in the hole of a ring: the answer took the
    stroke's pixels out, mended the ring's border a little and added a new part far away; the far part
    goes, the mended border stays."""
    ring = disc(24) & ~disc(10)
    mend = disc(26) & ~disc(24) & (np.indices((SIZE, SIZE))[1] < 30)  # 1-2 px onto the left border
    far = disc(6, centre=(12.0, 84.0))  # 20 px from the ring
    stroke = ScribblePrompt(REF, ((44.0, 48.0), (52.0, 48.0)), False)
    after = ring | mend | far
    out = bound_correction(logits_of(after), logits_of(ring), [stroke]) > 0
    assert not out[far].any(), "the far part a negative stroke added went"
    assert out[ring | mend].all(), "the ring and its mended border stayed"
    off = CorrectionOptions(negative_adds_near=False)
    assert (bound_correction(logits_of(after), logits_of(ring), [stroke], off) > 0)[far].all()
    click = [PointPrompt(REF, (48.0, 48.0), False)]  # a negative click too, on CT (absolute intensities)
    out = bound_correction(logits_of(after), logits_of(ring), click) > 0
    assert not out[far].any() and out[ring | mend].all()
    on_mr = bound_correction(logits_of(after), logits_of(ring), click, relative=True) > 0
    assert on_mr[far].all(), "on MR the network's far answer to a negative click stands"
    clicks_off = CorrectionOptions(negative_clicks_add_near=False)
    assert (bound_correction(logits_of(after), logits_of(ring), click, clicks_off) > 0)[far].all()


def test_a_negative_stroke_the_network_ignored_removes_what_looks_like_under_it():
    rng = np.random.default_rng(0)
    organ, vessel = disc(20), disc(8, centre=(48.0, 74.0))
    image = np.where(vessel, 0.9, np.where(organ, 0.6, 0.2)) + rng.normal(0, 0.01, organ.shape)
    image = np.clip(image, 0, 1).astype(np.float32)
    before = organ | vessel  # the vessel was taken in, and the answer to the stroke still holds it
    stroke = ScribblePrompt(REF, ((42.0, 74.0), (48.0, 74.0), (54.0, 74.0)), False)
    logits = logits_of(before)
    out = bound_correction(logits, logits, [stroke], image=image) > 0
    inner_vessel = disc(6, centre=(48.0, 74.0))
    assert not out[inner_vessel].any(), "the vessel went"
    assert out[disc(18) & ~vessel].all(), "the organ stayed"
    # without the slice nothing is judged (only the stroke's own line would go: ``honour``)
    assert bound_correction(logits, logits, [stroke], CorrectionOptions(honour=False)) is logits


def test_a_negative_stroke_across_the_object_itself_takes_only_its_own_pixels():
    image = np.where(disc(20), 0.6, 0.2).astype(np.float32)
    before = disc(20)
    stroke = ScribblePrompt(REF, ((48.0, 34.0), (48.0, 48.0), (48.0, 62.0)), False)
    out = bound_correction(logits_of(before), logits_of(before), [stroke], image=image) > 0
    removed = before & ~out
    # the stroke (3 px wide) and a pixel either side, not the object it looks like
    assert 0 < removed.sum() <= 6 * 29
    assert removed.sum() < 0.2 * before.sum()


def test_a_negative_stroke_on_the_objects_own_look_takes_only_its_pixels():
    """A phantom spleen as bright as the body wall it touches: a negative stroke along a sliver of wall
    on its border, which the network ignored, had the spleen's slightly darker side taken with it
    (Dice 0.966 -> 0.889; held-out phantom 10). The stroke's place lies within ``look_contrast`` of the
    mask's brightness: only the stroke's own pixels go."""
    rng = np.random.default_rng(0)
    organ = disc(20)
    side = organ & (np.indices((SIZE, SIZE))[1] < 38)  # the organ's left side, 0.04 darker
    image = np.where(side, 0.58, np.where(organ, 0.62, 0.2)) + rng.normal(0, 0.004, organ.shape)
    image = image.astype(np.float32)
    stroke = ScribblePrompt(REF, ((40.0, 33.0), (48.0, 32.0), (56.0, 33.0)), False)
    logits = logits_of(organ)
    out = bound_correction(logits, logits, [stroke], image=image) > 0
    assert out[side & ~within_distance(rasterize(stroke, organ.shape), 2.0)].all(), "the side stayed"
    old = bound_correction(logits, logits, [stroke], CorrectionOptions(negative_look_alike=False), image=image) > 0
    assert np.count_nonzero(side & ~old) > 0.7 * np.count_nonzero(side), "as it went before"


def test_a_border_negative_click_does_not_take_the_far_side():
    before = disc(20)
    sliver = before & ~disc(18)  # the rim, where the user clicked "no" on the left
    far_side = disc(20) & ~disc(17) & (np.indices((SIZE, SIZE))[1] > 60)  # ... the network also took this
    near = sliver & (np.indices((SIZE, SIZE))[1] < 33)
    after = before & ~far_side & ~near
    click = [PointPrompt(REF, (48.0, 29.0), False)]  # 1 px inside the left border
    out = bound_correction(logits_of(after), logits_of(before), click) > 0
    assert out[far_side].all(), "the far side came back"
    assert not out[near].any(), "the trim at the click stays"
    deep = [PointPrompt(REF, (48.0, 48.0), False)]  # a click deep inside: the network's answer stands
    assert np.array_equal(bound_correction(logits_of(after), logits_of(before), deep) > 0, after)


def test_a_shallow_negative_click_takes_out_its_band_but_not_a_body_far_away():
    """A click 3 px deep in a 6 px band along the object's side: the network took out the band and the
    object's upper half. The band goes, all along; the upper half, far from the click and deeper in
    the mask than the click sits, comes back."""
    rr, cc = np.indices((SIZE, SIZE))
    body = disc(30)
    band = (cc >= 12) & (cc < 18) & (rr >= 20) & (rr < 76)  # a leak along the left side
    before = body | band
    upper = body & (rr < 40)
    after = before & ~band & ~upper
    click = [PointPrompt(REF, (70.0, 14.0), False)]  # 2-3 px deep, in the band's lower end
    out = bound_correction(logits_of(after), logits_of(before), click) > 0
    assert not out[band & ~body].any(), "the band went, also where it lies far from the click"
    assert out[upper & ~band].all(), "the body's upper half came back"
    off = CorrectionOptions(removal_reach=0.0, border_trim=False)  # (the border trim gives some back too)
    assert not (bound_correction(logits_of(after), logits_of(before), click, off) > 0)[upper & ~band].any(), \
        "off: the network's answer stands"


def test_a_negative_stroke_along_a_shallow_band_takes_out_no_body_far_away():
    """The shallow-click rule for strokes: a stroke drawn along the lower part of a leak band, the
    network took out the band and the object's upper half; the upper half comes back, the band goes."""
    rr, cc = np.indices((SIZE, SIZE))
    body = disc(30)
    band = (cc >= 12) & (cc < 18) & (rr >= 20) & (rr < 76)
    before = body | band
    upper = body & (rr < 40)
    after = before & ~band & ~upper
    stroke = [ScribblePrompt(REF, ((74.0, 14.0), (62.0, 14.0)), positive=False)]
    out = bound_correction(logits_of(after), logits_of(before), stroke) > 0
    assert not out[band & ~body].any(), "the band went"
    assert out[upper & ~band].all(), "the body's upper half came back"
    off = CorrectionOptions(removal_strokes=False)
    assert not (bound_correction(logits_of(after), logits_of(before), stroke, off) > 0)[upper & ~band].any()


def test_a_negative_stroke_reaches_half_as_far_as_a_click():
    """A 3 px wide stroke 4 px deep at the object's left side; the network also took out a round piece
    deep inside, 13-19 px from the stroke: within a click's reach (4 x (4 + 1) = 20 px) but beyond a
    stroke's (2 x 5 = 10 px), so it comes back."""
    rr, cc = np.indices((SIZE, SIZE))
    before = disc(30)
    near = before & (cc <= 24) & (rr >= 40) & (rr <= 56)  # what the stroke means
    piece = disc(3, centre=(48.0, 38.0))
    after = before & ~near & ~piece
    stroke = [ScribblePrompt(REF, ((44.0, 21.0), (52.0, 21.0)), positive=False)]
    out = bound_correction(logits_of(after), logits_of(before), stroke) > 0
    assert out[piece].all(), "the piece deep inside, beyond the stroke's reach, came back"
    assert not out[near & (cc <= 21)].any(), "what the stroke lies on stayed out"
    as_click = CorrectionOptions(removal_reach_strokes=4.0)
    assert not (bound_correction(logits_of(after), logits_of(before), stroke, as_click) > 0)[piece].any(), \
        "with a click's reach the network's answer stands"


def test_a_border_negative_click_trims_no_deeper_than_the_click_sits():
    from scipy import ndimage

    rows = np.indices((SIZE, SIZE))[0]
    before = disc(20)
    depth = ndimage.distance_transform_edt(before)  # px from the outside
    after = before & (rows < 48)  # the network took out the whole lower half, a piece reaching the click
    # on the bottom border (its 1 px disc lies at most 1.5 px deep): the trim goes <= 3 x 1.5 px deep
    click = [PointPrompt(REF, (68.0, 48.0), False)]
    trim = CorrectionOptions(removal_reach=0.0)  # (the shallow click's removal rule gives back more)
    taken = before & ~(bound_correction(logits_of(after), logits_of(before), click, trim) > 0)
    assert taken[68, 48] and taken[67, 48], "the trim at the click stays"
    assert depth[taken].max() <= 4.5 and taken[rows >= 48].sum() > 150, "a rim of the lower half"
    # a click sitting deeper (its disc up to 3 px) may trim up to three times as deep
    deeper = [PointPrompt(REF, (67.0, 48.0), False)]
    taken = before & ~(bound_correction(logits_of(after), logits_of(before), deeper, trim) > 0)
    assert 4.5 < depth[taken].max() <= 9.0
    unbounded = CorrectionOptions(trim_depth=0, removal_reach=0.0)
    assert np.array_equal(bound_correction(logits_of(after), logits_of(before), click, unbounded) > 0, after)


@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (17, 9)])
def test_corrections_on_degenerate_slices_and_previous_logits_stay_finite(shape):
    """Tiny, constant, NaN and huge-valued slices, with NaN / inf / inverted previous logits: the
    correction rules run on every decode with previous logits and must never raise."""
    from napari_medseg.models.builtin.model import load_builtin

    model = load_builtin()
    centre = (shape[0] // 2, shape[1] // 2)
    for image in (np.zeros(shape), np.full(shape, np.nan), np.random.default_rng(0).random(shape) * 1e6):
        emb = model.encode(image)
        first = model.decode(emb, [PointPrompt(REF, centre, True)])
        for prev in (first, np.full(shape, np.nan), np.full(shape, np.inf), -first):
            for last in (PointPrompt(REF, centre, False), PointPrompt(REF, (0.0, 0.0), True),
                         ScribblePrompt(REF, ((0.0, 0.0), (shape[0] - 1.0, shape[1] - 1.0)), False)):
                out = model.decode(emb, [PointPrompt(REF, centre, True), last], prev)
                assert out.shape == shape and np.isfinite(out).all()


def _counting(answer: np.ndarray):
    calls = []

    def fresh():
        calls.append(1)
        return answer
    return fresh, calls


def test_a_click_away_from_a_part_joins_the_whole_answered_afresh():
    part, whole = disc(12), disc(30)
    click = PointPrompt(REF, (48.0, 72.0), True)  # 12 px outside the part, inside the whole
    prompts = [PointPrompt(REF, (48.0, 48.0), True), click]
    fresh, calls = _counting(logits_of(whole))
    out = whole_from_fresh(logits_of(part), logits_of(part), prompts, fresh, relative=True) > 0
    assert calls and np.array_equal(out, whole)
    # the fresh answer must hold most of the previous mask, the click and no negative prompt
    shifted = disc(30, centre=(48.0, 80.0))
    assert np.array_equal(whole_from_fresh(logits_of(part), logits_of(part), prompts, lambda: logits_of(shifted),
                                           relative=True) > 0, part)
    lost = disc(30) & ~disc(8, centre=(56.0, 48.0))
    assert np.array_equal(whole_from_fresh(logits_of(part), logits_of(part), prompts, lambda: logits_of(lost),
                                           relative=True) > 0, part)
    said_no = [*prompts[:1], PointPrompt(REF, (48.0, 24.0), False), click]
    assert np.array_equal(whole_from_fresh(logits_of(part), logits_of(part), said_no, lambda: logits_of(whole),
                                           relative=True) > 0, part)


def test_on_ct_a_fresh_answer_far_larger_than_the_part_does_not_join():
    """On CT a whole more than ``whole_max_ratio`` times the previous mask is the organ a faint lesion
    lies in, not the lesion (development phantom 12's lesion on a slice scaled 3x: a click beside its
    answer joined the liver, Dice 0.857 -> 0.120; 0.468 without the join)."""
    part, whole = disc(14), disc(30)  # 4.6 times the part
    prompts = [PointPrompt(REF, (48.0, 48.0), True), PointPrompt(REF, (48.0, 72.0), True)]  # 10 px out
    answer = logits_of(part)
    assert whole_from_fresh(answer, logits_of(part), prompts, lambda: logits_of(whole)) is answer
    nearer = disc(25)  # 3.2 times: a kidney's cortex round its medulla, a liver round its part
    out = whole_from_fresh(answer, logits_of(part), prompts, lambda: logits_of(nearer)) > 0
    assert np.array_equal(out, nearer)
    unbounded = CorrectionOptions(whole_max_ratio=0)
    assert np.array_equal(whole_from_fresh(answer, logits_of(part), prompts, lambda: logits_of(whole), unbounded) > 0, whole)


def test_border_clicks_boxes_and_negatives_are_not_answered_afresh():
    part, whole = disc(12), disc(30)
    fresh, calls = _counting(logits_of(whole))
    border = [PointPrompt(REF, (48.0, 48.0), True), PointPrompt(REF, (48.0, 62.0), True)]  # 2 px out
    negative = [PointPrompt(REF, (48.0, 48.0), True), PointPrompt(REF, (48.0, 72.0), False)]
    boxed = [BoxPrompt(REF, (30.0, 30.0), (66.0, 66.0), True), PointPrompt(REF, (48.0, 72.0), True)]
    inside = [PointPrompt(REF, (48.0, 48.0), True), PointPrompt(REF, (50.0, 50.0), True)]
    for prompts in (border, negative, boxed, inside):
        answer = logits_of(part)
        assert whole_from_fresh(answer, logits_of(part), prompts, fresh) is answer
    assert not calls, "no fresh decode for a border click, a negative one, a boxed sequence or a click inside"
    off = CorrectionOptions(whole_distance=0)
    far = [PointPrompt(REF, (48.0, 48.0), True), PointPrompt(REF, (48.0, 72.0), True)]
    assert np.array_equal(whole_from_fresh(logits_of(part), logits_of(part), far, fresh, off) > 0, part)
    assert not calls


def test_a_new_part_at_the_click_stands_unless_the_fresh_answer_is_a_whole_around_it():
    """The network took a piece round a click beyond the mask: that answer stands, unless the fresh
    answer to all the clicks is at least ``whole_bigger`` times it (a ventricle clicked, then the white
    matter: the brain); a fresh answer about the correction's size (the other ventricle) does not join."""
    part = disc(12)
    took_part = part | disc(5, centre=(48.0, 72.0))  # the network took a piece round the click
    prompts = [PointPrompt(REF, (48.0, 48.0), True), PointPrompt(REF, (48.0, 72.0), True)]
    answer = logits_of(took_part)
    fresh, calls = _counting(logits_of(disc(30)))  # the whole both clicks lie in
    assert np.array_equal(whole_from_fresh(answer, logits_of(part), prompts, fresh, relative=True) > 0, disc(30)) and calls
    near_size = took_part | disc(3, centre=(48.0, 30.0))  # about what the correction took
    fresh, calls = _counting(logits_of(near_size))
    assert whole_from_fresh(answer, logits_of(part), prompts, fresh, relative=True) is answer and calls
    fresh, calls = _counting(logits_of(disc(30)))
    off = CorrectionOptions(whole_bigger=0.0)
    assert whole_from_fresh(answer, logits_of(part), prompts, fresh, off) is answer
    assert not calls, "with whole_bigger off, a new part at the click stands without a second decode"


def _two_clicks(case, option: str, values, fixed: dict | None = None) -> dict:
    """Dice of the simulated user's first and second click on ``case``'s largest slice, with the
    built-in model's ``option`` at each of ``values`` (and the options ``fixed``)."""
    from napari_medseg.core.session import Session
    from napari_medseg.evaluation.metrics import dice
    from napari_medseg.evaluation.run import user_seed
    from napari_medseg.evaluation.simulate import SimulatedUser
    from napari_medseg.models.builtin.model import load_builtin

    idx = case.key_slice()
    ref = np.take(case.reference, idx, axis=case.axis)
    scores = {}
    for value in values:
        model = load_builtin()
        model.configure({**(fixed or {}), option: value})
        session = Session(case.image, model, preset=case.preset, axis=case.axis)
        user = SimulatedUser("point", SliceRef(case.axis, idx), seed=user_seed(case, "point"))
        first = session.add_prompts(user.next_interaction(ref, None)).mask
        second = session.add_prompts(user.next_interaction(ref, first)).mask
        scores[value] = (dice(first, ref), dice(second, ref))
    return scores


def test_the_model_takes_the_brain_when_a_second_click_lands_beyond_the_white_matter():
    """A development MR phantom (seed 3, not an evaluation volume): the first click, deep in the brain,
    gets the white matter; the second, on the cortex beyond it, now gets the brain."""
    from napari_medseg.evaluation.datasets import load_cases

    case = next(c for c in load_cases("dev-mr") if c.name.endswith("3-crop/brain"))
    scores = _two_clicks(case, "correction.whole_distance", (0.0, CorrectionOptions().whole_distance))
    (first_off, off), (first_on, on) = scores.values()
    assert first_off == first_on < 0.9, "the first click is answered as before (a part)"
    assert off < 0.9 and on > 0.95, scores


def test_the_model_takes_the_brain_when_the_network_took_only_a_piece_round_the_second_click():
    """A development average of folded brains (seed 6, not an evaluation volume): the first click gets
    a strip by the ventricles, the second, in the white matter, got the network's piece round it (Dice
    0.32); the fresh answer to both clicks, almost four times that piece, is the brain."""
    from napari_medseg.evaluation.datasets import CROP_MARGIN, DEV_MR_FOLDED_SET, Case, crop_case
    from napari_medseg.evaluation.folded_brain import average_brain_phantom
    from napari_medseg.evaluation.mr_phantom import brain_labels

    image, labels, _ = average_brain_phantom(6)
    case = crop_case(Case(DEV_MR_FOLDED_SET, "mr-average-6", "brain", image, brain_labels(labels)["brain"],
                          axis=2, preset="mr"), margin=CROP_MARGIN)
    scores = _two_clicks(case, "correction.whole_bigger", (0.0, CorrectionOptions().whole_bigger))
    (first_off, off), (first_on, on) = scores.values()
    assert first_off == first_on < 0.2, "the first click is answered as before (a part)"
    assert off < 0.5 and on > 0.85, scores


def test_the_model_keeps_the_white_matter_a_negative_click_on_the_cortex_took_out():
    """A development folded brain (seed 5, not an evaluation volume): the first click gets the white
    matter with some cortex, and the second, negative, on the cortex, had the network take out a band
    of white matter with it (Dice 0.92 -> 0.82); what looks like the white matter comes back."""
    from napari_medseg.evaluation.datasets import CROP_MARGIN, DEV_MR_FOLDED_SET, Case, crop_case
    from napari_medseg.evaluation.folded_brain import folded_brain_phantom
    from napari_medseg.evaluation.mr_phantom import brain_labels

    image, labels, _ = folded_brain_phantom(5)
    case = crop_case(Case(DEV_MR_FOLDED_SET, "mr-folded-5", "white matter", image,
                          brain_labels(labels)["white matter"], axis=2, preset="mr"), margin=CROP_MARGIN)
    scores = _two_clicks(case, "correction.look_back", (0.0, 1.0), {"correction.removal_reach": 0.0})
    (first_off, off), (first_on, on) = scores.values()
    assert first_off == first_on > 0.9
    assert off < 0.85 and on > 0.9, scores
    # (the shallow click's removal rule alone gives the band back too: its far, deeper piece)
    alone = _two_clicks(case, "correction.removal_reach", (4.0,), {"correction.look_back": 0.0})
    assert alone[4.0][1] > 0.9, alone


def test_a_stroke_the_network_ignored_still_marks_its_line():
    """A positive stroke along a sliver the answer left out: the stroke's line joins the mask; a
    negative stroke the answer kept: its line goes; where strokes cross, the later one wins."""
    from napari_medseg.core.prompts import rasterize_polyline

    before = disc(20)
    along = ScribblePrompt(REF, ((69.0, 42.0), (69.0, 54.0)), True)  # 1 px below the mask's bottom
    out = bound_correction(logits_of(before), logits_of(before), [along]) > 0
    line = rasterize_polyline(along.points, (SIZE, SIZE), 1.0)
    assert out[line].all(), "the line of a positive stroke is object"
    assert not (out & ~before & ~line).any(), "nothing but the line was added"

    across = ScribblePrompt(REF, ((60.0, 48.0), (75.0, 48.0)), False)  # drawn down over the first stroke
    out = bound_correction(logits_of(before), logits_of(before), [along, across]) > 0
    assert not out[rasterize_polyline(across.points, (SIZE, SIZE), 1.0)].any(), "the later negative stroke wins"
    assert out[69, 42] and out[69, 54], "the positive line beside the crossing stays"

    off = CorrectionOptions(honour=False)
    assert not (bound_correction(logits_of(before), logits_of(before), [along], off) > 0)[line].any()


def test_clicks_are_honoured_only_when_asked():
    before = disc(20)
    click = PointPrompt(REF, (75.0, 48.0), True)  # 7 px below the mask: too far to be joined to it
    logits = logits_of(before)
    assert not (bound_correction(logits, logits, [click]) > 0)[75, 48]
    assert (bound_correction(logits, logits, [click], CorrectionOptions(honour_clicks=True)) > 0)[75, 48]


def test_a_click_the_answer_ignored_is_joined_to_its_side():
    """A positive click on a one-pixel sliver beside the mask was left out by the network, click
    after click (29 of 64 positive correction clicks after a dev box): its pixel joins the mask by
    the line to the nearest mask pixel; a negative click just inside the border is cut out to the
    outside the same way. Farther than ``adjacent`` px nothing is joined."""
    before = disc(20)  # rows 28..68 in column 48
    logits = logits_of(before)
    near = [PointPrompt(REF, (71.0, 48.0), True)]  # 3 px below the bottom row
    out = bound_correction(logits, logits, near) > 0
    assert out[69:72, 48].all() and out.sum() == before.sum() + 3, "the click and the line to the mask"
    far = [PointPrompt(REF, (73.0, 48.0), True)]  # 5 px below: a new part, not the border's
    assert np.array_equal(bound_correction(logits, logits, far) > 0, before)
    inside = [PointPrompt(REF, (66.0, 48.0), False)]  # 2 px inside the bottom border
    out = bound_correction(logits, logits, inside) > 0
    taken = before & ~out
    assert taken[66, 48] and taken.sum() <= 4, "the click's pixel and a short line"
    from scipy import ndimage

    labels, _ = ndimage.label(~out, structure=np.ones((3, 3), bool))
    assert labels[66, 48] == labels[0, 0], "cut out to the outside"
    overruled = [*near, PointPrompt(REF, (71.0, 48.0), False)]  # the same pixel clicked "no" later
    assert not (bound_correction(logits, logits, overruled) > 0)[69:72, 48].any()
    off = CorrectionOptions(bridge_clicks=False)
    assert np.array_equal(bound_correction(logits, logits, near, off) > 0, before)


def test_the_model_keeps_a_border_stroke_on_its_answer(dev_kidney):
    """The built-in model on a development phantom's kidney (seed 8): after a box, a positive stroke
    drawn one pixel outside the answer's border ends up inside the corrected mask."""
    from scipy import ndimage

    from napari_medseg.core.prompts import rasterize_polyline

    model, emb, box, _ = dev_kidney
    first = model.decode(emb, [box]) > 0
    bottom = int(np.flatnonzero(first.any(1))[-1])
    span = np.flatnonzero(first[bottom])
    stroke = ScribblePrompt(REF, ((bottom + 1.0, float(span[0])), (bottom + 1.0, float(span[-1]))), True)
    second = model.decode(emb, [box, stroke], prev_logits=np.where(first, 4.0, -4.0).astype(np.float32)) > 0
    assert second[rasterize_polyline(stroke.points, first.shape, 1.0)].all()
    assert ndimage.label(second)[1] == 1


def test_a_lasso_drawn_around_a_missed_sliver_marks_its_axis():
    """A positive correction lasso around a 2-px sliver below the mask, which the answer left out: the
    lasso's medial axis (its deeper half: no spurs to the corners) joins; the slice's first lasso, the
    object's outline, is the network's to follow."""
    from napari_medseg.core.prompts import LassoPrompt, rasterize_polygon

    before = disc(20)
    outline = LassoPrompt(REF, ((26.0, 26.0), (26.0, 70.0), (72.0, 70.0), (72.0, 26.0)))
    around = LassoPrompt(REF, ((67.5, 38.0), (67.5, 58.0), (71.5, 58.0), (71.5, 38.0)))  # rows 68-71
    out = bound_correction(logits_of(before), logits_of(before), [outline, around]) > 0
    added = out & ~before
    inside = rasterize_polygon(around.vertices, (SIZE, SIZE))
    assert added.sum() >= 12, "the axis along the sliver joined"
    assert not (added & ~inside).any(), "nothing outside the lasso"
    assert added.sum() < 0.5 * inside.sum(), "a line, not the lasso's whole inside"
    first_only = bound_correction(logits_of(before), logits_of(before), [around]) > 0
    assert not (first_only & ~before).any(), "a first lasso is not honoured this way"
    off = CorrectionOptions(honour_lassos=False)
    assert not ((bound_correction(logits_of(before), logits_of(before), [outline, around], off) > 0) & ~before).any()
    wide = LassoPrompt(REF, ((60.0, 20.0), (60.0, 76.0), (92.0, 76.0), (92.0, 20.0)))  # ~20 px wide on average
    assert not ((bound_correction(logits_of(before), logits_of(before), [outline, wide]) > 0) & ~before).any(), \
        "a wide lasso is the network's and the lasso evidence's to fill"


def test_euler_change_of_each_piece_is_skimages():
    """Taking out each 8-connected piece alone changes the Euler number as skimage measures it."""
    from skimage.measure import euler_number

    rng = np.random.default_rng(0)
    for _ in range(200):
        h, w = rng.integers(3, 30, 2)
        mask = ndimage.gaussian_filter(rng.random((h, w)), rng.uniform(0.5, 2.0)) > rng.uniform(0.35, 0.6)
        pieces = mask & (ndimage.gaussian_filter(rng.random((h, w)), 1.0) > 0.5)
        labels, n = ndimage.label(pieces, structure=np.ones((3, 3), bool))
        change = euler_change(mask, labels, n)
        for i in range(1, n + 1):
            expected = euler_number(mask & (labels != i), connectivity=2) - euler_number(mask, connectivity=2)
            assert change[i] == expected


def test_the_border_growth_rule_matches_the_distance_transform():
    """The border rule measured with dilations and a k-d tree on a crop drops the same pixels as the
    rule written with ``distance_transform_edt`` on the whole slice, for clicks and strokes beside,
    on and away from random masks that grew by random amounts."""
    from napari_medseg.models.builtin.correction import (
        _border_growth_only,
        _pushed,
        dab_as_click,
        prompt_marks,
    )

    rng = np.random.default_rng(7)
    opts = CorrectionOptions()
    changed = 0
    for k in range(150):
        shape = tuple(int(v) for v in rng.integers(24, 90, 2))
        before = ndimage.gaussian_filter(rng.random(shape), rng.uniform(1.5, 4.0)) > rng.uniform(0.5, 0.56)
        after = before | (ndimage.gaussian_filter(rng.random(shape), rng.uniform(1.0, 5.0)) > rng.uniform(0.5, 0.6))
        logits = logits_of(after & ~(rng.random(shape) < 0.02))
        r, c = rng.uniform(0, shape[0] - 1), rng.uniform(0, shape[1] - 1)
        if k % 2:
            last = PointPrompt(REF, (r, c))
        else:
            ends = np.clip(np.array([r, c]) + rng.normal(0, 15, (int(rng.integers(2, 6)), 2)), 0, np.array(shape) - 1)
            last = ScribblePrompt(REF, tuple((float(a), float(b)) for a, b in ends), width=float(rng.integers(1, 4)))
        got = _border_growth_only(logits, before, last, opts)
        last = dab_as_click(last)  # (a stroke no longer than its width is bounded as a click)
        grown = (logits > 0) & ~before
        marks = prompt_marks(last, shape, 1.0)
        from_old, from_prompt = ndimage.distance_transform_edt(~before), ndimage.distance_transform_edt(~marks)
        if not grown.any() or not before.any() or from_old[marks].min() > opts.adjacent:
            expected = logits
        else:
            growth = opts.border_growth
            if isinstance(last, PointPrompt):  # a click's own distance from the mask bounds it too
                pixel = tuple(min(max(int(round(v)), 0), n - 1) for v, n in zip(last.point, shape, strict=True))
                growth = min(growth, max(opts.growth_floor, opts.growth_per_distance * from_old[pixel]))
            far = grown & (from_old > growth)
            if not isinstance(last, PointPrompt):
                far &= from_prompt > opts.scribble_reach
            reach = max(opts.scribble_reach, opts.far_from_prompt * np.sqrt(before.sum() / np.pi))
            far |= grown & (from_old > opts.far_growth) & (from_prompt > reach)
            expected = _pushed(logits, slice(None), slice(None), far, False, opts.boost)
        np.testing.assert_array_equal(got, expected)
        changed += int(not np.array_equal(got, logits))
    assert changed > 30  # the rule dropped pixels in many of the cases, not only left them alone


def _removal_by_transform(logits, before, point, opts):
    """The shallow negative click's rule written with ``distance_transform_edt`` on the whole slice."""
    from napari_medseg.core.components import pieces_touching
    from napari_medseg.models.builtin.correction import _pushed

    removed = before & ~(logits > 0)
    if not removed.any() or before.all():
        return logits
    r, c = (min(max(int(round(v)), 0), n - 1) for v, n in zip(point, before.shape, strict=True))
    inside = ndimage.distance_transform_edt(np.pad(before, 1, constant_values=True))[1:-1, 1:-1]
    depth = inside[r, c]
    rr, cc = np.indices(before.shape)
    far = removed & (np.hypot(rr - r, cc - c) > opts.removal_reach * (depth + 1.0))
    deep = far & (inside > depth + opts.removal_deeper)
    if not deep.any():
        return logits
    return _pushed(logits, slice(None), slice(None), pieces_touching(far, deep), True, opts.boost)


def test_the_shallow_click_rule_matches_the_distance_transform():
    """Exact on crops up to 192 px; on larger ones (judged on every second pixel) within a few
    pixels of the transform's answer."""
    from napari_medseg.models.builtin.correction import _removal_near_click

    rng = np.random.default_rng(11)
    opts = CorrectionOptions()
    changed, off_by = 0, []
    for k in range(120):
        side = int(rng.integers(20, 120)) if k < 100 else int(rng.integers(260, 400))
        shape = (side, side + int(rng.integers(0, 20)))
        before = ndimage.gaussian_filter(rng.random(shape), rng.uniform(2.0, 6.0) * side / 60) > rng.uniform(0.48, 0.52)
        cut = ndimage.gaussian_filter(rng.random(shape), rng.uniform(1.5, 4.0) * side / 60) > rng.uniform(0.5, 0.53)
        logits = logits_of(before & ~cut)
        point = (rng.uniform(0, shape[0] - 1), rng.uniform(0, shape[1] - 1))
        got = _removal_near_click(logits, before, PointPrompt(REF, point, False), opts) > 0
        expected = _removal_by_transform(logits, before, point, opts) > 0
        if k < 100:
            np.testing.assert_array_equal(got, expected)
        else:
            off_by.append(np.count_nonzero(got != expected) / max(np.count_nonzero(before), 1))
        changed += int(not np.array_equal(expected, logits > 0))
    assert changed > 20, changed
    assert max(off_by) < 0.02, off_by


def test_a_strokes_depth_and_reach_match_the_distance_transform():
    """The stroke's depth (windows grown round it) is the transform's; its reach (on blocks of pixels)
    is within 1.5 blocks of it."""
    from napari_medseg.models.builtin.correction import _near, deepest

    rng = np.random.default_rng(5)
    for _ in range(30):
        shape = tuple(int(v) for v in rng.integers(40, 300, 2))
        mask = ndimage.gaussian_filter(rng.random(shape), rng.uniform(3.0, 12.0)) > rng.uniform(0.47, 0.5)
        if not mask.any() or mask.all():
            continue
        inside = ndimage.distance_transform_edt(mask)
        pixels = np.argwhere(mask)[rng.choice(int(mask.sum()), size=min(20, int(mask.sum())), replace=False)]
        assert deepest(mask, pixels) == pytest.approx(inside[pixels[:, 0], pixels[:, 1]].max())
        marks = np.zeros(shape, dtype=bool)
        marks[tuple(pixels.T)] = True
        radius = float(rng.uniform(4.0, 80.0))
        f = max(1, int(radius // 8))
        from_marks = ndimage.distance_transform_edt(~marks)
        near = _near(marks, radius)
        assert near[from_marks <= radius - 1.5 * f].all() and not near[from_marks > radius + 1.5 * f].any()
