"""A first answer keeps to the part its prompts are on, not a neighbour joined through a neck (neck_cut.py)."""

from __future__ import annotations

import numpy as np

from napari_medseg.core.prompts import BoxPrompt, PointPrompt, ScribblePrompt, SliceRef
from napari_medseg.models.builtin.neck_cut import NeckOptions, cut_at_necks

REF = SliceRef(2, 0)
CUT = NeckOptions(radius=2.0)


def _disc(centre: tuple[int, int], radius: float, shape=(60, 100)) -> np.ndarray:
    rr, cc = np.mgrid[: shape[0], : shape[1]]
    return (rr - centre[0]) ** 2 + (cc - centre[1]) ** 2 <= radius**2


def _logits(mask: np.ndarray) -> np.ndarray:
    return np.where(mask, 3.0, -3.0).astype(np.float32)


def _two_organs(neck_width: int) -> np.ndarray:
    """Two discs of radius 12 side by side, joined by a horizontal bar ``neck_width`` px wide."""
    mask = _disc((30, 25), 12) | _disc((30, 75), 12)
    mask[30 - neck_width // 2 : 30 - neck_width // 2 + neck_width, 25:75] = True
    return mask


def test_a_neighbour_through_a_narrow_neck_goes_and_the_clicked_organ_stays():
    logits = _logits(_two_organs(neck_width=3))
    out = cut_at_necks(logits, [PointPrompt(REF, (30.0, 25.0))], False, False, CUT) > 0
    assert out[_disc((30, 25), 11)].all()  # the clicked organ, whole
    assert not out[_disc((30, 75), 10)].any()  # the neighbour, gone
    scribble = ScribblePrompt(REF, ((25.0, 70.0), (35.0, 80.0)))
    out = cut_at_necks(logits, [scribble], False, False, CUT) > 0
    assert out[_disc((30, 75), 11)].all() and not out[_disc((30, 25), 10)].any()


def test_a_wide_join_a_thin_tail_a_correction_a_box_a_prompt_on_both_or_mr_leave_the_answer():
    click = PointPrompt(REF, (30.0, 25.0))
    wide = _logits(_two_organs(neck_width=15))
    assert cut_at_necks(wide, [click], False, False, CUT) is wide
    tail = _disc((30, 25), 12).copy()
    tail[29:32, 25:95] = True  # a vessel 3 px wide leaving the organ: no part of its own
    tailed = _logits(tail)
    assert cut_at_necks(tailed, [click], False, False, CUT) is tailed
    narrow = _logits(_two_organs(neck_width=3))
    assert cut_at_necks(narrow, [click], True, False, CUT) is narrow  # a correction: the previous mask rules
    box = BoxPrompt(REF, (15.0, 10.0), (45.0, 40.0))
    assert cut_at_necks(narrow, [box], False, False, CUT) is narrow
    both = [click, PointPrompt(REF, (30.0, 75.0))]
    assert cut_at_necks(narrow, both, False, False, CUT) is narrow
    assert cut_at_necks(narrow, [click], False, False, NeckOptions(radius=0.0)) is narrow
    # on MR (relative intensities) a tissue's parts meet through necks: grey matter's ribbon and nuclei
    assert cut_at_necks(narrow, [click], False, True, CUT) is narrow
    assert not np.array_equal(cut_at_necks(narrow, [click], False, True, NeckOptions(radius=2.0, relative=True)), narrow)
