"""Wide parts joined through a narrow neck, told apart by what anchors them (core/necks.py)."""

from __future__ import annotations

import numpy as np

from napari_medseg.core.necks import neighbours_past_necks


def _disc(centre: tuple[int, int], radius: float, shape=(60, 100)) -> np.ndarray:
    rr, cc = np.mgrid[: shape[0], : shape[1]]
    return (rr - centre[0]) ** 2 + (cc - centre[1]) ** 2 <= radius**2


def test_the_unanchored_side_of_a_neck_is_the_neighbour_and_one_blob_has_none():
    left, right = _disc((30, 25), 12), _disc((30, 75), 12)
    mask = left | right
    mask[29:32, 25:75] = True  # a neck 3 px wide
    drop = neighbours_past_necks(mask, _disc((30, 25), 3), radius=4.0)
    assert drop is not None and drop[_disc((30, 75), 11)].all() and not drop[_disc((30, 25), 11)].any()
    assert neighbours_past_necks(left, _disc((30, 25), 3), radius=4.0) is None
    assert neighbours_past_necks(mask, np.zeros_like(mask), radius=4.0) is None  # nothing anchored
    assert neighbours_past_necks(mask, mask, radius=4.0) is None  # both sides anchored
    # a neighbour smaller than min_share of the mask stays
    assert neighbours_past_necks(mask, _disc((30, 25), 3), radius=4.0, min_share=0.6) is None
