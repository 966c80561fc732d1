"""After the walk: a faint, blob-shaped object's label smoothed in 3D, its volume kept.

Each walked slice is answered on its own, so where the object is faint (a hypodense liver lesion a
few HU darker than the liver, under noise of the same size) its border follows the noise: a jagged
outline that changes from slice to slice. The true shape of such an object is smooth. Its walked
slices are blurred together with their neighbours (a Gaussian of ``SIGMA_PLANE`` px in the plane and
``SIGMA_SLICES`` slices across) and cut at the level that keeps the walk's own number of voxels: the
label neither shrinks nor grows, it loses its noise. The key slices, which the user made, are never
changed.

Which objects, judged on the largest key slice's mask and image: the contrast between the mask's
inside (2 px in) and a ring 2-5 px outside it, over the noise (the spread of neighbouring pixels'
differences inside), is below ``MAX_CONTRAST``, and the mask is thick (its largest inscribed disc's
radius is at least ``MIN_THICKNESS`` of a disc of its area's). A clear outline (kidneys, vertebrae,
vessels, MR ventricles and white matter: contrast 8-80) is the image's and stays; a branching vessel
would lose its branches.

Chosen on the development volumes (dev, dev-mr, dev-mr-folded) and the phantoms 9-12 and synthetic
volumes 90-93 (344 walks from one interaction: lesions at contrast 1.7-3.5 gained 0.007-0.046 in 3D
Dice, blobs at 3-8 up to 0.015; above 8 the smoothing cost MR ventricles up to 0.036, white matter
and vertebrae 0.003-0.013). On phantoms 13-16 and synthetic volumes 94-97, where nothing was chosen
(176 walks): lesions +0.022 on average, all +0.0028, the worst -0.011 (a branching vessel, a winding
tube). See docs/model-development.md, twenty-seventh session.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from scipy import ndimage

from napari_medseg.core.appearance import crop_around
from napari_medseg.core.morphology import cross, erode, within_distance

SIGMA_PLANE = 1.5  # px
SIGMA_SLICES = 0.7  # slices
MAX_CONTRAST = 8.0  # contrast over noise
MIN_THICKNESS = 0.6
MIN_AREA = 30  # px: smaller key masks are left as they are
RING = (2, 5)  # px outside the mask

ImageOf = Callable[[int, slice, slice], np.ndarray]  # (index, rows, cols) -> unclipped slice region


def contrast_to_noise(image: np.ndarray, mask: np.ndarray) -> float:
    """|median inside (2 px in) - median of the ring 2-5 px out| over the noise's spread (from the
    differences of horizontally neighbouring pixels inside, a median absolute deviation)."""
    mask = np.asarray(mask, dtype=bool)
    image = np.asarray(image, dtype=np.float32)
    inner = erode(mask, cross(2))
    if np.count_nonzero(inner) < 10:
        inner = mask
    ring = within_distance(mask, RING[1]) & ~within_distance(mask, RING[0])
    if not ring.any():
        return float("inf")
    contrast = abs(float(np.median(image[inner])) - float(np.median(image[ring])))
    steps = np.diff(image, axis=1)[inner[:, 1:] & inner[:, :-1]]
    if steps.size < 10:
        return float("inf")
    noise = 1.4826 * float(np.median(np.abs(steps - np.median(steps)))) / np.sqrt(2.0)
    return contrast / noise if noise > 0 else float("inf")


def thickness(mask: np.ndarray) -> float:
    """The largest inscribed disc's radius over the radius of a disc of the mask's area (1: a disc)."""
    mask = np.asarray(mask, dtype=bool)
    area = int(np.count_nonzero(mask))
    if area == 0:
        return 0.0
    deepest = float(ndimage.distance_transform_edt(np.pad(mask, 1)).max())
    return deepest / float(np.sqrt(area / np.pi))


def is_faint_blob(mask: np.ndarray, image: np.ndarray) -> bool:
    """Whether a key slice's object (``mask`` on ``image``, the same region) gets its label smoothed."""
    mask = np.asarray(mask, dtype=bool)
    if np.count_nonzero(mask) < MIN_AREA:
        return False
    return thickness(mask) >= MIN_THICKNESS and contrast_to_noise(image, mask) < MAX_CONTRAST


def smooth_faint_blob(results: Mapping[int, np.ndarray], key_masks: Mapping[int, np.ndarray],
                      slice_image: ImageOf) -> dict[int, np.ndarray]:
    """The walked slices (``results``: index -> mask) that change when the label is smoothed; {} when
    the object is not a faint blob (judged on its largest key slice) or nothing changes."""
    walked = {int(i): np.asarray(m, dtype=bool) for i, m in results.items()}
    keys = {int(i): np.asarray(m, dtype=bool) for i, m in key_masks.items()}
    total = sum(int(np.count_nonzero(m)) for m in walked.values())
    if total == 0 or not keys:
        return {}
    key = max(keys, key=lambda i: int(np.count_nonzero(keys[i])))
    rows, cols = crop_around(keys[key], RING[1] + 1)
    if rows.stop <= rows.start or not is_faint_blob(keys[key][rows, cols], slice_image(key, rows, cols)):
        return {}
    lo, hi = min(*walked, *keys), max(*walked, *keys)
    union = np.zeros_like(keys[key])
    for m in (*walked.values(), *keys.values()):
        union |= m
    rows, cols = crop_around(union, int(np.ceil(3 * SIGMA_PLANE)) + 1)
    stack = np.zeros((hi - lo + 1, rows.stop - rows.start, cols.stop - cols.start), dtype=np.float32)
    for index, m in (*walked.items(), *keys.items()):
        stack[index - lo] = m[rows, cols]
    blur = ndimage.gaussian_filter(stack, (SIGMA_SLICES, SIGMA_PLANE, SIGMA_PLANE), mode="constant")
    order = sorted(walked)
    values = blur[np.array(order) - lo]
    level = np.partition(values.ravel(), -total)[-total]  # the walk's own number of voxels lie above it
    level = max(float(level), 1e-3)  # (never the voxels the blur barely reaches)
    changed: dict[int, np.ndarray] = {}
    for index, plane in zip(order, values, strict=True):
        mask = np.zeros_like(walked[index])
        mask[rows, cols] = plane >= level
        if not np.array_equal(mask, walked[index]):
            changed[index] = mask
    return changed
