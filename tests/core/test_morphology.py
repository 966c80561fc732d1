"""The distance and morphology helpers give scipy's answers exactly (they replace it where an
interaction is timed)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from napari_medseg.core.morphology import (
    cross,
    dilate,
    disc,
    distance_to,
    erode,
    farther_than,
    opening,
    square,
    within_distance,
)


def blobs(seed: int, shape=(60, 50)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mask = ndimage.gaussian_filter(rng.random(shape), 3) > 0.52  # several parts, some with holes
    mask[0, :5] = True  # a part on the array's edge
    return mask


@pytest.mark.parametrize("radius", [0.5, 1.0, 1.5, 2.0, 3.0, 4.5, 7.0])
def test_within_distance_is_the_thresholded_distance_transform(radius):
    for seed in range(4):
        mask = blobs(seed)
        np.testing.assert_array_equal(within_distance(mask, radius), ndimage.distance_transform_edt(~mask) <= radius)
    single = np.zeros((5, 3), dtype=bool)
    single[2, 1] = True  # a radius wider than the array
    np.testing.assert_array_equal(within_distance(single, 9.0), np.ones((5, 3), dtype=bool))
    assert not within_distance(np.zeros((4, 4), dtype=bool), radius).any()
    assert not within_distance(blobs(0), -1.0).any()  # as the transform: no pixel lies at a negative distance


def test_distances_to_the_mask_are_the_distance_transform_at_those_pixels():
    """At every pixel, the mask's own (deep inside it: 0) included."""
    for seed in range(5):
        mask = blobs(seed)
        pixels = np.argwhere(np.ones_like(mask))
        expected = ndimage.distance_transform_edt(~mask)[tuple(pixels.T)]
        np.testing.assert_allclose(distance_to(mask, pixels), expected, rtol=0, atol=1e-9)


@pytest.mark.parametrize("block", [2, 5, 8])
def test_farther_than_is_the_thresholded_distance_transform(block):
    """Decided on a coarse grid where the grid's margin allows, measured where it does not: the same
    answer as the transform for reaches below, at and above whole and half-pixel distances."""
    for seed in range(4):
        mask = blobs(seed, shape=(90, 70)) if seed else blobs(seed) & (np.arange(50) < 8)  # a thin part too
        pixels = np.argwhere(np.ones_like(mask))
        distance = ndimage.distance_transform_edt(~mask)[tuple(pixels.T)]
        for reach in (0.0, 1.0, 2.5, 5.0, np.sqrt(50.0), 12.0, 30.0, 200.0):
            np.testing.assert_array_equal(farther_than(mask, pixels, reach, block=block), distance > reach)
    assert farther_than(blobs(1), np.zeros((0, 2), dtype=int), 3.0).shape == (0,)


def scipy_disc(radius: float) -> np.ndarray:
    r = int(radius)
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    return yy * yy + xx * xx <= radius * radius


@pytest.mark.parametrize("shape", [(60, 50), (7, 40), (1, 9), (3, 2)])
def test_dilation_erosion_and_opening_are_scipys(shape):
    """Masks touching the array's edge, arrays smaller than the footprint: the shifted runs give
    scipy's arrays (border 0) for every footprint the interactive steps use."""
    square3 = np.ones((3, 3), dtype=bool)
    for seed in range(6):
        rng = np.random.default_rng(seed)
        mask = blobs(seed, shape) if min(shape) > 5 else rng.random(shape) > 0.3
        for n in (1, 2, 3):
            np.testing.assert_array_equal(dilate(mask, cross(n)), ndimage.binary_dilation(mask, iterations=n))
            np.testing.assert_array_equal(erode(mask, cross(n)), ndimage.binary_erosion(mask, iterations=n))
            np.testing.assert_array_equal(dilate(mask, square(n)), ndimage.binary_dilation(mask, square3, iterations=n))
            np.testing.assert_array_equal(erode(mask, square(n)), ndimage.binary_erosion(mask, square3, iterations=n))
        np.testing.assert_array_equal(opening(mask, square(1)), ndimage.binary_opening(mask, square3))
        for radius in (1.5, 2.0, 3.0, 4.5):
            structure = scipy_disc(radius)
            np.testing.assert_array_equal(opening(mask, disc(radius)), ndimage.binary_opening(mask, structure))
            np.testing.assert_array_equal(erode(mask, disc(radius)), ndimage.binary_erosion(mask, structure))
    full = np.ones(shape, dtype=bool)
    assert not erode(full, square(1))[0].any()  # the array's edge erodes, as with scipy's border 0
