"""The distance helpers give the distance transform's answers exactly (they replace it where an
interaction is timed)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from napari_medseg.core.morphology import distance_to, within_distance


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
