"""A first answer on an object the window saturates keeps out the touching tissue inside the window."""

from __future__ import annotations

import numpy as np
import pytest
from propagation_doubles import disc
from test_session import BrightBlobModel

from napari_medseg.core.beyond_window import trim_added, trim_within_window
from napari_medseg.core.prompts import BoxPrompt, PointPrompt, ScribblePrompt, SliceRef
from napari_medseg.core.session import Session

REF = SliceRef(2, 0)


def region(image: np.ndarray):
    return lambda rows, cols: image[rows, cols]


def bone_and_vessel(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """On the preset's scale: bone at 2.0 (beyond the window), a touching vessel at 0.9, fat at 0.15."""
    bone = disc((64, 64), (32, 24), 12)
    vessel = disc((64, 64), (32, 43), 8) & ~bone
    image = np.where(bone, 2.0, np.where(vessel, 0.9, 0.15)) + rng.normal(0, 0.03, (64, 64))
    return image.astype(np.float32), bone, vessel


def test_a_click_on_bone_drops_the_touching_vessel():
    image, bone, vessel = bone_and_vessel(np.random.default_rng(0))
    kept = trim_within_window(bone | vessel, [PointPrompt(REF, (32.0, 24.0), True)], region(image))
    assert (kept & vessel).sum() < 0.15 * vessel.sum() and np.array_equal(kept & bone, bone)  # a contact rim may stay


@pytest.mark.parametrize("prompt", [
    PointPrompt(REF, (32.0, 45.0), True),  # the vessel lies inside the window: the bone it took goes
    ScribblePrompt(REF, ((30.0, 40.0), (34.0, 46.0)), True, 3.0),
])
def test_an_object_inside_the_window_drops_what_lies_far_beyond_it(prompt):
    image, bone, vessel = bone_and_vessel(np.random.default_rng(1))
    kept = trim_within_window(bone | vessel, [prompt], region(image))
    assert (kept & bone).sum() < 0.05 * bone.sum() and (kept & vessel).sum() > 0.9 * vessel.sum()


def test_an_object_inside_the_window_keeps_what_it_encloses_and_mild_values():
    rng = np.random.default_rng(4)
    organ = disc((64, 64), (32, 32), 16)
    stone = disc((64, 64), (32, 32), 3)  # a calcification enclosed by the organ stays
    rim = organ & ~disc((64, 64), (32, 32), 14) & (np.indices((64, 64))[1] > 40)  # 0.2 windows beyond: kept
    image = np.where(stone, 2.5, np.where(rim, 1.2, np.where(organ, 0.6, 0.3))) + rng.normal(0, 0.02, (64, 64))
    kept = trim_within_window(organ, [PointPrompt(REF, (26.0, 32.0), True)], region(image.astype(np.float32)))
    assert kept is organ


def test_a_box_is_judged_by_what_it_holds_and_enclosed_tissue_stays():
    image, bone, vessel = bone_and_vessel(np.random.default_rng(2))
    canal = disc((64, 64), (32, 24), 4)  # enclosed by the bone: not reached from outside
    image[canal] = 0.1
    union = bone | vessel
    kept = trim_within_window(union, [BoxPrompt(REF, (20.0, 12.0), (44.0, 51.0))], region(image))
    assert (kept & vessel).sum() < 0.15 * vessel.sum() and kept[canal].all()


def test_darker_than_the_window_mirrors_it():
    rng = np.random.default_rng(3)
    lung = disc((64, 64), (32, 24), 14)
    wall = disc((64, 64), (32, 44), 8) & ~lung
    image = (np.where(lung, -1.5, np.where(wall, 0.5, 0.3)) + rng.normal(0, 0.03, (64, 64))).astype(np.float32)
    kept = trim_within_window(lung | wall, [PointPrompt(REF, (32.0, 24.0), True)], region(image))
    assert (kept & wall).sum() < 0.15 * wall.sum() and np.array_equal(kept & lung, lung)


def aorta_beside_bone(seed: int) -> tuple[Session, np.ndarray, np.ndarray]:
    """A Session with the test model on three equal slices (HU, abdomen window): bone (650 HU)
    touching an aorta (205 HU) in fat (-100 HU)."""
    rng = np.random.default_rng(seed)
    bone = disc((64, 64), (32, 24), 12)
    aorta = disc((64, 64), (32, 43), 8) & ~bone
    hu = np.where(bone, 650.0, np.where(aorta, 205.0, -100.0)) + rng.normal(0, 10, (64, 64))
    volume = np.repeat(hu[:, :, None], 3, axis=2).astype(np.float32)
    return Session(volume, model=BrightBlobModel(), preset="ct-abdomen"), bone, aorta


def test_the_session_trims_first_answers_on_a_ct_window():
    """A real Session: bone (650 HU) touching an aorta (205 HU) under the abdomen window, where the
    test model's answer joins both (everything above the window's middle, connected)."""
    session, bone, aorta = aorta_beside_bone(4)
    click = PointPrompt(SliceRef(2, 1), (32.0, 24.0), True)
    preview = session.add_prompts(click)
    dropped = aorta & ~preview.mask
    assert dropped.sum() > 0.85 * aorta.sum() and (preview.mask & bone).sum() == bone.sum()
    assert (preview.logits[dropped] < 0).all()  # a refinement starts without the aorta
    session.clear_preview()
    on_aorta = session.add_prompts(PointPrompt(SliceRef(2, 1), (32.0, 45.0), True))
    # the aorta lies inside the window: the bone (1.3 windows beyond it) leaves its answer
    assert on_aorta.mask[aorta].sum() > 0.95 * aorta.sum() and (on_aorta.mask & bone).sum() < 0.05 * bone.sum()
    session.clear_preview()
    session.trim_beyond_window = False
    assert session.add_prompts(click).mask[aorta].all()


def test_a_correction_loses_only_what_it_added_beyond_the_window():
    image, bone, vessel = bone_and_vessel(np.random.default_rng(5))
    click = PointPrompt(REF, (32.0, 45.0), True)  # on the vessel: the bone lies far beyond it
    before = vessel & (np.indices((64, 64))[0] < 38)  # the previous mask: most of the vessel
    border = PointPrompt(REF, (39.0, 43.0), True)  # a correction on the vessel's lower border
    answer = vessel | bone  # ...whose answer took the bone back in
    kept = trim_added(answer, before, [click, border], [border], region(image))
    assert (kept & bone).sum() < 0.05 * bone.sum(), "the bone it added went"
    assert kept[vessel].all(), "the vessel it mended stayed"
    held = before | bone  # the previous mask held the bone: the correction does not take it away
    assert trim_added(answer, held, [click, border], [border], region(image)) is answer
    # the newest click is on the bone (the prompts as a whole still say "the vessel"): the user wants it
    stroke = ScribblePrompt(REF, ((28.0, 42.0), (36.0, 44.0)), True, 3.0)
    asked = PointPrompt(REF, (32.0, 24.0), True)
    assert trim_added(answer, before, [stroke, asked], [asked], region(image))[bone].all()
    assert (trim_added(answer, before, [stroke, asked], [], region(image)) & bone).sum() < 0.05 * bone.sum()


def test_the_session_trims_what_a_correction_added_beyond_the_window():
    """The test model answers everything above the window's middle that is connected to a positive
    prompt: a border click on the aorta brings the bone back, and the session takes it out again."""
    session, bone, aorta = aorta_beside_bone(6)
    first = session.add_prompts(PointPrompt(SliceRef(2, 1), (32.0, 45.0), True))
    assert (first.mask & bone).sum() < 0.05 * bone.sum()
    second = session.add_prompts(PointPrompt(SliceRef(2, 1), (38.0, 43.0), True))
    assert second.mask[aorta].sum() > 0.95 * aorta.sum() and (second.mask & bone).sum() < 0.05 * bone.sum()
    session.clear_preview()
    session.trim_beyond_window = False
    session.add_prompts(PointPrompt(SliceRef(2, 1), (32.0, 45.0), True))
    assert (session.add_prompts(PointPrompt(SliceRef(2, 1), (38.0, 43.0), True)).mask & bone).sum() > 0.9 * bone.sum()
