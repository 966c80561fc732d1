"""A faint object's over-grown first click answer is recut at the halfway level (faint_border.py)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from napari_medseg.core.prompts import PointPrompt, ScribblePrompt, SliceRef
from napari_medseg.evaluation.metrics import dice
from napari_medseg.models.builtin.faint_border import recut_faint_answer

REF = SliceRef(2, 0)
SHAPE = (80, 80)
CLICK = PointPrompt(REF, (40.0, 40.0))


def _disc(radius: float) -> np.ndarray:
    rr, cc = np.mgrid[: SHAPE[0], : SHAPE[1]]
    return (rr - 40) ** 2 + (cc - 40) ** 2 <= radius**2


def _logits(mask: np.ndarray) -> np.ndarray:
    return np.where(mask, 2.0, -2.0).astype(np.float32)


def _faint_lesion(step: float, seed: int = 0) -> np.ndarray:
    """A windowed slice: liver at 0.55, a disc of radius 9 ``step`` darker with an edge blurred by
    1.5 px, noise of 0.04 (a lesion two noise levels darker than its liver, as on the CT phantoms)."""
    rng = np.random.default_rng(seed)
    lesion = ndimage.gaussian_filter(_disc(9).astype(np.float32), 1.5)
    return (0.55 - step * lesion + rng.normal(0.0, 0.04, SHAPE)).astype(np.float32)


def test_an_over_grown_answer_on_a_faint_lesion_is_recut_to_it():
    image, lesion = _faint_lesion(0.08), _disc(9)
    answer = _disc(11)  # 2 px too wide all round: its outer band is halfway to the liver
    out = recut_faint_answer(_logits(answer), image, [CLICK], False, False) > 0
    assert dice(answer, lesion) < 0.81
    assert dice(out, lesion) > 0.93
    assert out[_disc(6)].all()  # the lesion's core stays


def test_a_well_placed_answer_a_clear_object_and_other_prompts_stay():
    image = _faint_lesion(0.08)
    placed = _logits(_disc(9))  # its band is the lesion's: nothing to recut
    assert recut_faint_answer(placed, image, [CLICK], False, False) is placed
    beyond = _logits(_disc(12.5))  # a band wholly like the ring: a part of something larger, not a blob
    assert recut_faint_answer(beyond, image, [CLICK], False, False) is beyond
    clear = _logits(_disc(11))
    assert recut_faint_answer(clear, _faint_lesion(0.5), [CLICK], False, False) is clear  # contrast far above the noise
    assert recut_faint_answer(clear, image, [CLICK], True, False) is clear  # a correction
    assert recut_faint_answer(clear, image, [CLICK], False, True) is clear  # MR
    stroke = ScribblePrompt(REF, ((38.0, 38.0), (42.0, 42.0)))
    assert recut_faint_answer(clear, image, [stroke], False, False) is clear
    negative = PointPrompt(REF, (10.0, 10.0), positive=False)
    assert recut_faint_answer(clear, image, [CLICK, negative], False, False) is clear


def test_the_shipped_model_recuts_a_held_out_lesion_click(held_out_lesion):
    """Clicked as the bench's simulated user clicks it, the lesion's first answer grew into the liver
    (Dice 0.754); recut, 0.901."""
    off, on = (held_out_lesion("point", {"faint_border.enabled": enabled}) for enabled in (0, 1))
    assert off < 0.8 and on > off + 0.1
