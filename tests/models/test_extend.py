"""The first-answer extension: a click's mask joins the object's connected, object-like pixels.

Unit tests feed hand-made logits that fade with the distance from a click (the network's failure on
a large even organ); the last test runs the built-in model on a phantom volume of the development
generator (seed 8, not an evaluation volume).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from scipy import ndimage

from napari_medseg.core.prompts import BoxPrompt, PointPrompt, ScribblePrompt, SliceRef
from napari_medseg.models.builtin.extend import ExtendOptions, extend_first_answer

REF = SliceRef(2, 0)
CLICK = [PointPrompt(REF, (48.0, 48.0), True)]


def even_disc(radius=30.0, size=96, inside=0.6, outside=0.3, seed=0):
    rng = np.random.default_rng(seed)
    rr, cc = np.indices((size, size))
    dist = np.hypot(rr - 48, cc - 48)
    obj = dist <= radius
    image = np.clip(np.where(obj, inside, outside) + rng.normal(0, 0.02, obj.shape), 0, 1).astype(np.float32)
    fading = (3.0 - dist / 8.0).astype(np.float32)  # positive only within 24 px of the click
    return image, obj, fading


def dice(a, b) -> float:
    return float(2 * (a & b).sum() / max(a.sum() + b.sum(), 1))


def test_a_fading_answer_is_extended_to_the_object_border():
    image, obj, fading = even_disc()
    before = dice(fading > 0, obj)
    out = extend_first_answer(fading, image, CLICK, previous_given=False)
    assert dice(out > 0, obj) > max(0.85, before + 0.1)
    assert np.array_equal(ndimage.binary_fill_holes(out > 0), out > 0)  # noise left no holes
    assert not (out > 0)[~ndimage.binary_dilation(obj, iterations=2)].any()  # nothing outside joined
    assert np.all(out >= fading)


def test_only_a_first_answer_from_clicks_or_scribbles_is_extended():
    image, _, fading = even_disc()
    scribble = [ScribblePrompt(REF, ((40.0, 40.0), (56.0, 56.0)), True, 3.0)]
    assert extend_first_answer(fading, image, scribble, previous_given=False) is not fading
    assert extend_first_answer(fading, image, CLICK, previous_given=True) is fading
    box = [BoxPrompt(REF, (10.0, 10.0), (86.0, 86.0))]
    assert extend_first_answer(fading, image, box, previous_given=False) is fading
    assert extend_first_answer(fading, image, [], previous_given=False) is fading
    off = ExtendOptions(enabled=False)
    assert extend_first_answer(fading, image, CLICK, previous_given=False, opts=off) is fading


def test_a_strokes_answer_that_would_grow_by_little_is_left_as_it_is():
    """A positive stroke's answer covering all but a 3 px rim of its object (5 % would join):
    nothing joins; a click's answer the same, and a stroke's covering half the object, are extended."""
    image, obj, _ = even_disc()
    dist = np.hypot(*(np.indices(obj.shape) - 48))
    almost = np.where(dist <= 27.0, 2.0, -1.0).astype(np.float32)  # 2,289 px of the disc's 2,821
    scribble = [ScribblePrompt(REF, ((40.0, 40.0), (56.0, 56.0)), True, 3.0)]
    assert extend_first_answer(almost, image, scribble, previous_given=False) is almost
    assert extend_first_answer(almost, image, CLICK, previous_given=False) is not almost
    half = np.where(dist <= 21.0, 2.0, -1.0).astype(np.float32)
    out = extend_first_answer(half, image, scribble, previous_given=False)
    assert dice(out > 0, obj) > dice(half > 0, obj) + 0.2


def test_firmly_rejected_pixels_stay_out():
    image, obj, fading = even_disc()
    rejected = fading.copy()
    rejected[:, 60:] = -8.0  # the network is sure the right part is not the object
    out = extend_first_answer(rejected, image, CLICK, previous_given=False)
    assert not (out[:, 60:] > 0).any()
    assert (out[:, :60] > 0).sum() > (rejected[:, :60] > 0).sum()


def test_nothing_joins_when_the_brightness_runs_far_beyond_the_mask():
    """A same-brightness neighbour that would add more than max_growth (4) times the mask: a leak,
    not the organ."""
    image, obj, fading = even_disc(radius=30.0, size=160, inside=0.6, outside=0.6)
    out = extend_first_answer(np.maximum(fading, -2.0), image, CLICK, previous_given=False)
    assert out is not None and np.array_equal(out > 0, fading > 0)


def test_a_tiny_core_says_too_little():
    image, _, _ = even_disc()
    speck = np.full(image.shape, -4.0, np.float32)
    speck[47:49, 47:49] = 2.0
    assert extend_first_answer(speck, image, CLICK, previous_given=False) is speck


@pytest.mark.parametrize("organ", ["liver", "left kidney"])
def test_the_builtin_model_covers_more_of_an_even_organ_from_one_click(organ):
    from napari_medseg.core.intensity import get_preset
    from napari_medseg.core.sample import generate_phantom
    from napari_medseg.models.builtin.model import load_builtin

    torch.set_num_threads(1)
    model = load_builtin()
    model.configure({"edge_fill.enabled": 0})  # the extension alone (the edge fill settles the band after it)
    image, labels, _, names = generate_phantom(8)
    ref3d = labels == next(k for k, v in names.items() if v == organ)
    z = int(np.argmax(ref3d.sum(axis=(0, 1))))
    ref = ref3d[..., z]
    embedding = model.encode(get_preset("ct-abdomen").fit(image).apply(image[..., z]))
    r, c = np.unravel_index(np.argmax(ndimage.distance_transform_edt(ref)), ref.shape)
    click = [PointPrompt(SliceRef(2, z), (float(r), float(c)), True)]
    extended = dice(model.decode(embedding, click) > 0, ref)
    model.extend = dataclasses.replace(model.extend, enabled=False)
    plain = dice(model.decode(embedding, click) > 0, ref)
    assert extended > plain + 0.05 and extended > 0.75, (plain, extended)


def test_the_features_keep_a_same_brightness_neighbour_out():
    """A band as bright as the disc touches it; only the (hand-made) features tell them apart."""
    rng = np.random.default_rng(5)
    image, obj, _ = even_disc(radius=30.0)
    rr, cc = np.indices(obj.shape)
    band = (np.abs(cc - 82) <= 4) & (np.abs(rr - 48) <= 16) & ~obj  # touches the disc's right side
    image = np.where(band, 0.6, image).astype(np.float32)
    dist = np.hypot(rr - 48, cc - 48)
    logits = np.where(obj | band, 3.0 - dist / 8.0, -6.0).astype(np.float32)  # fades with distance
    cover = obj.reshape(24, 4, 24, 4).mean(axis=(1, 3))
    feats = rng.normal(0, 0.3, (24, 24, 6)).astype(np.float32)  # (h, w, C): channels last
    feats[..., 0] += 2.0 * cover
    without = extend_first_answer(logits, image, CLICK, previous_given=False)
    assert (without > 0)[band].mean() > 0.5  # intensity alone lets the band in
    guarded = extend_first_answer(logits, image, CLICK, previous_given=False, features=lambda: (feats, 4))
    assert (guarded > 0)[band].mean() < 0.2
    assert dice(guarded > 0, obj) > 0.85


def drifting_disc(seed=0):
    """A bright disc (white-matter-like) whose brightness drifts by a bias field across it, on a
    darker surrounding, with a brighter band touching its right side; the answer fades from a click."""
    rng = np.random.default_rng(seed)
    rr, cc = np.indices((96, 96))
    dist = np.hypot(rr - 48, cc - 48)
    obj = dist <= 34
    band = (np.abs(cc - 88) <= 3) & (np.abs(rr - 48) <= 14) & ~obj
    bias = 1.0 - 0.12 * (cc - 48) / 48.0  # the tissue darkens by 12% from the centre to the right
    image = np.where(obj, 0.75 * bias, 0.45)
    image = np.where(band, 1.0, image) + rng.normal(0, 0.015, obj.shape)
    # the network's answer: the left part, up to the object's border there; a weak rejection elsewhere
    logits = np.where(obj & (cc < 44), 2.0, -5.0).astype(np.float32)
    return np.clip(image, 0, 1).astype(np.float32), obj, band, logits


def test_on_relative_intensities_the_window_reaches_toward_the_surroundings():
    """MR: the core's own spread covers too little of a tissue whose brightness drifts; halfway to the
    surroundings covers it, and a brighter neighbour on the far side stays out."""
    from napari_medseg.models.builtin.extend import RELATIVE_EXTEND

    image, obj, band, logits = drifting_disc()
    plain = extend_first_answer(logits, image, CLICK, previous_given=False)  # CT options: floor -4
    widened = extend_first_answer(logits, image, CLICK, previous_given=False,
                                  opts=dataclasses.replace(ExtendOptions(), floor=-6.0, max_growth=20.0))
    relative = extend_first_answer(logits, image, CLICK, previous_given=False, opts=RELATIVE_EXTEND)
    assert dice(plain > 0, obj) < 0.7 and dice(widened > 0, obj) < 0.75  # the symmetric window stops short
    assert dice(relative > 0, obj) > 0.9
    assert not (relative > 0)[band].any()
    assert not (relative > 0)[~ndimage.binary_dilation(obj | band, iterations=2)].any()


def test_the_builtin_model_covers_white_matter_from_one_click_on_an_mr_volume():
    """On the MR development phantom (seed 4, not an evaluation volume) one click in the white
    matter: the relative-intensity extension covers most of it, the CT one a patch."""
    from napari_medseg.core.session import Session
    from napari_medseg.evaluation.mr_phantom import brain_phantom
    from napari_medseg.models.builtin.model import load_builtin

    torch.set_num_threads(1)
    image, labels, _ = brain_phantom(4)
    ref3d = labels == 2
    z = int(np.argmax(ref3d.sum(axis=(0, 1))))
    ref = ref3d[..., z]
    r, c = np.unravel_index(np.argmax(ndimage.distance_transform_edt(ref)), ref.shape)
    click = [PointPrompt(SliceRef(2, z), (float(r), float(c)), True)]
    session = Session(image, load_builtin(), preset="mr")
    assert session.relative_intensity
    relative = dice(session.add_prompts(click).mask, ref)
    session.clear_preview()
    session.relative_intensity = False
    absolute = dice(session.add_prompts(click).mask, ref)
    assert relative > absolute + 0.15 and relative > 0.85, (absolute, relative)


def layered_organ(seed=0):
    """A brain-like organ: a bright core with two dark slits in it, a ring of middle brightness around
    it, on a black surrounding; the answer holds the core (slits included), the ring is weakly rejected."""
    rng = np.random.default_rng(seed)
    rr, cc = np.indices((96, 96))
    dist = np.hypot(rr - 48, cc - 48)
    organ, core = dist <= 38, dist <= 26
    slits = ((np.abs(cc - 40) <= 2) | (np.abs(cc - 56) <= 2)) & (np.abs(rr - 48) <= 12)
    image = np.where(slits, 0.25, np.where(core, 0.8, np.where(organ, 0.5, 0.03)))
    image = np.clip(image + rng.normal(0, 0.015, organ.shape), 0, 1).astype(np.float32)
    logits = np.where(core, 2.0, np.where(organ, -3.0, -8.0)).astype(np.float32)
    return image, organ, logits


def test_a_stroke_across_tissues_widens_the_window_to_them():
    """MR: a stroke over the bright core and both dark slits asks for the whole organ: the ring, whose
    brightness lies between the two, joins; a stroke within the core alone does not widen anything."""
    from napari_medseg.models.builtin.extend import RELATIVE_EXTEND

    across = [ScribblePrompt(REF, ((48.0, 30.0), (48.0, 66.0)), True, 3.0)]
    within = [ScribblePrompt(REF, ((30.0, 44.0), (30.0, 52.0)), True, 3.0)]
    assert_widened_only_across(across, [within], dataclasses.replace(RELATIVE_EXTEND, stroke_range=0.0))


def assert_widened_only_across(across, others, narrow):
    """On the layered organ, ``across`` gets the whole organ (and ``narrow``, the options without the
    rule, does not); each of ``others`` gets what ``narrow`` gets, short of the organ."""
    from napari_medseg.models.builtin.extend import RELATIVE_EXTEND

    image, organ, logits = layered_organ()
    assert dice(extend_first_answer(logits, image, across, False, opts=narrow) > 0, organ) < 0.7
    whole = extend_first_answer(logits, image, across, False, opts=RELATIVE_EXTEND) > 0
    assert dice(whole, organ) > 0.95
    assert not whole[~ndimage.binary_dilation(organ, iterations=2)].any(), "the black surrounding stays out"
    for prompts in others:
        one = extend_first_answer(logits, image, prompts, False, opts=RELATIVE_EXTEND) > 0
        assert np.array_equal(one, extend_first_answer(logits, image, prompts, False, opts=narrow) > 0)
        assert dice(one, organ) < 0.7


def test_clicks_on_several_tissues_widen_the_window_to_them():
    """MR: a click on a dark slit and one on the bright core ask for the whole organ, the ring of
    middle brightness included; two clicks on the core widen nothing, and one click never does."""
    from napari_medseg.models.builtin.extend import RELATIVE_EXTEND

    slit_and_core = [PointPrompt(REF, (48.0, 40.0), True), PointPrompt(REF, (30.0, 48.0), True)]
    core_twice = [PointPrompt(REF, (30.0, 48.0), True), PointPrompt(REF, (66.0, 48.0), True)]
    assert_widened_only_across(slit_and_core, [core_twice, slit_and_core[:1]],
                               dataclasses.replace(RELATIVE_EXTEND, click_range=False))


def test_the_builtin_model_takes_the_brain_from_a_stroke_across_it():
    """The MR development phantom (seed 3, not an evaluation volume): the simulated user's stroke along
    the brain's skeleton crosses white matter and the ventricles; the answer is the brain."""
    from napari_medseg.core.session import Session
    from napari_medseg.evaluation.datasets import load_cases
    from napari_medseg.evaluation.run import user_seed
    from napari_medseg.evaluation.simulate import SimulatedUser
    from napari_medseg.models.builtin.model import load_builtin

    torch.set_num_threads(1)
    case = next(c for c in load_cases("dev-mr") if c.name.endswith("3-crop/brain"))
    idx = case.key_slice()
    ref = np.take(case.reference, idx, axis=case.axis)
    stroke = SimulatedUser("scribble", SliceRef(case.axis, idx), seed=user_seed(case, "scribble")).next_interaction(ref, None)
    scores = []
    for stroke_range in (0.0, 10.0):
        model = load_builtin()
        model.configure({"extend_relative.stroke_range": stroke_range})
        session = Session(case.image, model, preset=case.preset, axis=case.axis)
        scores.append(dice(session.add_prompts(stroke).mask, ref))
    assert scores[0] < 0.8 and scores[1] > 0.95, scores


def test_the_builtin_model_takes_the_brain_from_a_ventricle_click_and_a_second_click():
    """The MR development phantom (seed 3): a first click on the ventricles gets the ventricles; the
    simulated user's next click, in the missed white matter, asks for the brain they both lie in."""
    from napari_medseg.core.session import Session
    from napari_medseg.evaluation.datasets import load_cases
    from napari_medseg.evaluation.run import user_seed
    from napari_medseg.evaluation.simulate import SimulatedUser, interior_point
    from napari_medseg.models.builtin.model import load_builtin

    torch.set_num_threads(1)
    cases = load_cases("dev-mr")
    brain = next(c for c in cases if c.name.endswith("3-crop/brain"))
    ventricles = next(c for c in cases if c.name.endswith("3-crop/ventricles"))
    idx = brain.key_slice()
    ref = SliceRef(brain.axis, idx)
    reference = np.take(brain.reference, idx, axis=brain.axis)
    first = PointPrompt(ref, interior_point(np.take(ventricles.reference, idx, axis=brain.axis)), True)
    scores = []
    for click_range in (0.0, 1.0):
        model = load_builtin()
        model.configure({"extend_relative.click_range": click_range})
        session = Session(brain.image, model, preset=brain.preset, axis=brain.axis)
        mask = session.add_prompts([first]).mask
        assert dice(mask, reference) < 0.2  # the ventricles
        second = SimulatedUser("point", ref, seed=user_seed(brain, "point")).next_interaction(reference, mask)
        scores.append(dice(session.add_prompts(second).mask, reference))
    assert scores[0] < 0.8 and scores[1] > 0.9, scores


def test_an_unprompted_piece_elsewhere_neither_sets_the_window_nor_seeds_joins():
    """The answer also holds a confident patch of background-like tissue far from the click (the
    session drops it later): it must not decide what the clicked object looks like."""
    image, obj, fading = even_disc(radius=30.0, size=128)
    patch = np.zeros_like(obj)
    patch[94:126, 94:126] = True  # 1,024 px of background (0.3) the network was sure of, apart from the disc
    logits = np.where(patch, 3.0, fading).astype(np.float32)
    with_patch = extend_first_answer(logits, image, CLICK, previous_given=False) > 0
    assert dice(with_patch & ~patch, obj) > 0.85
    assert not (with_patch & ~patch & ~ndimage.binary_dilation(obj, iterations=2)).any()
    off = dataclasses.replace(ExtendOptions(), prompted_only=False)
    plain = extend_first_answer(logits, image, CLICK, previous_given=False, opts=off) > 0
    assert dice(plain & ~patch, obj) < 0.8, "with the patch in the statistics the disc did not grow"


def test_a_click_answer_stopping_inside_its_tissue_measures_the_surroundings_beyond_it():
    """MR: the answer covers a bright core and stops in the object's dimmer part (thin gyral cores)
    on one side and at the darker surroundings on the other. The ring around it is then half object:
    its median lies near the object and "halfway" keeps the dimmer part out; the ring's 20th
    percentile is the surroundings, and the dimmer part joins. A scribble's answer keeps the median."""
    from napari_medseg.models.builtin.extend import RELATIVE_EXTEND

    rng = np.random.default_rng(3)
    rr, cc = np.indices((96, 96))
    core = np.hypot(rr - 48, cc - 40) <= 14
    dim = (np.abs(rr - 48) <= 12) & (cc > 40) & (cc <= 80) & ~core  # the object's dimmer part
    obj = core | dim
    image = np.where(core, 0.85, np.where(dim, 0.70, 0.5)) + rng.normal(0, 0.01, core.shape)
    image = image.astype(np.float32)
    logits = np.where(core, 3.0, -3.0).astype(np.float32)
    click = [PointPrompt(REF, (48.0, 40.0), True)]
    median = dataclasses.replace(RELATIVE_EXTEND, ring_percentile=50.0)
    assert dice(extend_first_answer(logits, image, click, False, opts=median) > 0, obj) < 0.75
    out = extend_first_answer(logits, image, click, False, opts=RELATIVE_EXTEND) > 0
    assert dice(out, obj) > 0.95 and not out[~ndimage.binary_dilation(obj, iterations=2)].any()
    stroke = [ScribblePrompt(REF, ((48.0, 34.0), (48.0, 46.0)), True)]
    assert dice(extend_first_answer(logits, image, stroke, False, opts=RELATIVE_EXTEND) > 0, obj) < 0.75
