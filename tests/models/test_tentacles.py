"""A click's small first answer loses the thin arms it sent into the tissue's noise (tentacles.py)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from napari_medseg.core.prompts import PointPrompt, ScribblePrompt, SliceRef
from napari_medseg.models.builtin.tentacles import TentacleOptions, cut_tentacles

ON = TentacleOptions(radius=3.0)  # the rule as chosen on the development phantoms (off by default)

REF = SliceRef(2, 0)
SHAPE = (64, 64)
CLICK = PointPrompt(REF, (32.0, 32.0))


def _disc(radius: float, centre=(32, 32)) -> np.ndarray:
    rr, cc = np.mgrid[: SHAPE[0], : SHAPE[1]]
    return (rr - centre[0]) ** 2 + (cc - centre[1]) ** 2 <= radius**2


def _logits(mask: np.ndarray) -> np.ndarray:
    return np.where(mask, 3.0, -3.0).astype(np.float32)


def _lesion_with_arms() -> tuple[np.ndarray, np.ndarray]:
    """A disc of radius 9 (the lesion) with two arms 3 px wide and 14 px long."""
    lesion = _disc(9)
    arms = np.zeros(SHAPE, dtype=bool)
    arms[31:34, 41:55] = True
    arms[41:55, 20:23] = True
    return lesion, lesion | arms


def test_the_arms_go_and_the_clicked_object_stays():
    lesion, answer = _lesion_with_arms()
    out = cut_tentacles(_logits(answer), [CLICK], False, False, ON) > 0
    assert out[_disc(8)].all()  # the lesion, but for the opening's rounding of its border
    assert not out[31:34, 44:55].any() and not out[44:55, 20:23].any()
    assert np.count_nonzero(out & ~lesion) <= 6  # where the arms met the lesion


def test_other_prompts_corrections_mr_sizes_and_a_click_on_an_arm_leave_the_answer():
    _, answer = _lesion_with_arms()
    logits = _logits(answer)
    assert cut_tentacles(logits, [CLICK], True, False, ON) is logits  # a correction: the previous mask rules
    assert cut_tentacles(logits, [CLICK], False, True, ON) is logits  # MR
    scribble = ScribblePrompt(REF, ((30.0, 30.0), (34.0, 34.0)))
    assert cut_tentacles(logits, [scribble], False, False, ON) is logits
    assert cut_tentacles(logits, [PointPrompt(REF, (32.0, 50.0))], False, False, ON) is logits  # on an arm
    columns = np.arange(64)
    small = _logits(_disc(5) | (np.abs(columns - 32) <= 1)[:, None] & ((columns > 32) & (columns <= 47))[None, :])
    assert cut_tentacles(small, [CLICK], False, False, ON) is small  # under min_area: a vessel's own branch
    assert cut_tentacles(small, [CLICK], False, False, replace(ON, min_area=0.0)) is not small
    tipped = _disc(12)
    tipped[31:34, 44:50] = True  # a short thin part, 4 % of the answer: a real structure's, kept
    nibbled = _logits(tipped)
    assert cut_tentacles(nibbled, [CLICK], False, False, ON) is nibbled
    assert cut_tentacles(nibbled, [CLICK], False, False, replace(ON, min_removed=0.0)) is not nibbled
    big = _logits(_disc(20))
    assert cut_tentacles(big, [CLICK], False, False, ON) is big
    assert cut_tentacles(logits, [CLICK], False, False, TentacleOptions()) is logits  # off by default


def test_the_shipped_model_answers_a_held_out_lesion_click_without_its_arms(held_out_lesion):
    """Clicked as the bench's simulated user clicks it, the lesion's first answer had arms (the recut of
    faint_border.py, which mends the same answer another way, left out)."""
    off, on = (held_out_lesion("point", {"tentacles.radius": radius, "faint_border.enabled": 0})
               for radius in (0.0, 3.0))
    assert off < 0.8 and on > off + 0.07
