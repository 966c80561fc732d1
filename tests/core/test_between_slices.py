"""fill_between: a slice gains what both neighbours hold and its own intensities call the object's."""

from __future__ import annotations

import numpy as np

from napari_medseg.core.appearance import AppearanceModel
from napari_medseg.core.between_slices import fill_between


def disc(shape=(64, 64), centre=(32, 32), r=12.0) -> np.ndarray:
    rr, cc = np.mgrid[: shape[0], : shape[1]]
    return (rr - centre[0]) ** 2 + (cc - centre[1]) ** 2 <= r**2


def volume_of(masks: list[np.ndarray], cleft: np.ndarray | None = None) -> np.ndarray:
    """Bright object (0.7) on a dark body (0.3); ``cleft`` pixels of the middle slice are dark."""
    rng = np.random.default_rng(0)
    vol = np.stack([np.where(m, 0.7, 0.3) for m in masks]) + rng.normal(0, 0.02, (len(masks), *masks[0].shape))
    if cleft is not None:
        vol[1][cleft] = 0.3
    return vol.astype(np.float32)


def run(masks, image, key=0, look=True):
    def region(index, rows, cols):
        return image[index][rows, cols]

    model = AppearanceModel.from_key(lambda r, c: image[key][r, c], masks[key]) if look else None
    results = {i: m for i, m in enumerate(masks) if i != key}
    return fill_between(results, {key: masks[key]}, {i: model for i in results}, region)


def test_a_dent_between_two_full_neighbours_is_filled_and_nothing_is_removed():
    full = disc()
    dent = full & ~disc(centre=(32, 46), r=6)  # a bite out of the rim on the middle slice only
    masks = [full, dent, full]
    grown = run(masks, volume_of([full, full, full]))
    assert set(grown) == {1}
    assert (grown[1] & ~full).sum() <= 0.02 * full.sum()  # no halo beyond the neighbours' shape
    assert (grown[1] >= dent).all()
    assert (full & ~grown[1]).sum() <= 2  # the bite is back


def test_a_dark_cleft_stays_open_and_no_evidence_changes_nothing():
    full = disc()
    cleft = disc(centre=(32, 36), r=6)  # a dark hole inside the object on the middle slice only
    masks = [full, full & ~cleft, full]
    grown = run(masks, volume_of([full, full, full], cleft=cleft))
    assert cleft.sum() > 100
    assert 1 not in grown or (grown[1] & cleft).sum() <= 0.1 * cleft.sum()  # its blurred rim at most
    assert run(masks, volume_of([full, full, full]), look=False) == {}


def test_only_slices_between_two_masks_change():
    full = disc()
    small = disc(r=5)
    masks = [full, small, np.zeros_like(full)]  # the object ends after slice 1: nothing to agree on
    assert run(masks, volume_of([full, small, full])) == {}
