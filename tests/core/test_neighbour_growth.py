"""The neighbour rule: a tapering walk does not creep into a touching tissue of the object's brightness."""

from __future__ import annotations

import numpy as np
import pytest
from propagation_doubles import disc

from napari_medseg.core.appearance import AppearanceModel
from napari_medseg.core.morphology import within_distance
from napari_medseg.core.neighbour_growth import drop_growth_into_neighbour
from napari_medseg.core.propagation import PropagationOptions, propagate
from napari_medseg.errors import MedsegError

SHAPE = (96, 96)
CENTRE = (40, 48)
BAND = (slice(54, 66), slice(0, 96))  # a tissue as bright as the object, along its lower side


def scene(radius: float, band: bool = True, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    bright = disc(SHAPE, CENTRE, radius)
    if band:
        bright[BAND] = True
    values = np.where(bright, 0.6, 0.2) + rng.normal(0, 0.02, SHAPE)
    return np.clip(values, 0, 1).astype(np.float32)


def region(image: np.ndarray):
    return lambda rows, cols: image[rows, cols]


def key_look() -> AppearanceModel:
    look = AppearanceModel.from_key(region(scene(14)), disc(SHAPE, CENTRE, 14))
    assert look is not None
    return look


def band_mask() -> np.ndarray:
    band = np.zeros(SHAPE, dtype=bool)
    band[BAND] = True
    return band


def test_growth_into_the_bright_tissue_beside_the_mask_is_dropped():
    previous = disc(SHAPE, CENTRE, 14) & ~band_mask()  # the object touches the band
    grown = previous | (band_mask() & within_distance(previous, 6))
    out = drop_growth_into_neighbour(grown, previous, key_look(), region(scene(14)), allowance=1.0)
    assert np.count_nonzero(grown & ~within_distance(previous, 1.0)) > 50
    assert not (out & ~within_distance(previous, 1.0)).any()
    assert (out >= previous).all()


def test_growth_where_the_previous_slice_was_dark_is_kept():
    """Where the object widens, the pixels it takes were something else on the previous slice."""
    previous = disc(SHAPE, CENTRE, 10)
    grown = disc(SHAPE, CENTRE, 14)
    out = drop_growth_into_neighbour(grown, previous, key_look(), region(scene(10, band=False)), allowance=1.0)
    assert out is grown


def test_a_crescent_the_previous_mask_missed_is_not_a_neighbour():
    """Bright on the previous slice, outside its mask, but bounded: the object's own missed part."""
    previous = disc(SHAPE, (CENTRE[0] + 3, CENTRE[1]), 10)
    grown = disc(SHAPE, CENTRE, 14) | previous
    out = drop_growth_into_neighbour(grown, previous, key_look(), region(scene(14, band=False)), allowance=1.0)
    assert out is grown


def creeping_model(volume: np.ndarray):
    """A model double that keeps the previous mask on this slice's bright pixels and creeps 4 px into
    the bright band beside it (the failure the rule exists for)."""

    def decode(index, prompts, prev_logits):
        previous = prev_logits > 0
        bright = volume[index] > 0.4
        mask = (previous | (band_mask() & within_distance(previous, 4))) & bright
        return np.where(mask, 4.0, -4.0).astype(np.float32)

    return decode


@pytest.mark.parametrize("allowance", [None, 1.0])
def test_a_tapering_walk_creeps_along_the_band_only_without_the_rule(allowance):
    radii = [14, 13, 12, 11, 10, 9]
    volume = np.stack([scene(r, seed=i) for i, r in enumerate(radii)])
    key = disc(SHAPE, CENTRE, radii[0]) & (volume[0] > 0.4)
    # (the rule alone: the faint blob smoothing would round the creep off too)
    options = PropagationOptions(direction="forward", neighbour_allowance=allowance, fill_between=False,
                                 smooth_faint_blobs=False)
    result = propagate(creeping_model(volume), {0: key}, len(radii), options,
                       slice_image=lambda i, rows, cols: volume[i][rows, cols])
    assert sorted(result) == [1, 2, 3, 4, 5]
    reach = np.flatnonzero((result[5] & band_mask()).any(axis=0))
    width = reach[-1] - reach[0] + 1
    key_width = np.flatnonzero((key | within_distance(key, 4)).any(axis=0)).size
    if allowance is None:
        assert width > key_width + 12  # 4 px a slice along the band, on both sides
    else:
        assert width <= key_width + 4  # the first step's creep, and a pixel a slice after it


def test_neighbour_allowance_is_validated():
    with pytest.raises(MedsegError, match="neighbour_allowance"):
        PropagationOptions(neighbour_allowance=-1.0).validate()
