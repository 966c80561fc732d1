"""The prompt for the next slice of a walk, derived from a finished slice's mask.

Small geometry on one mask: its bounding box, the box enlarged, the mask as confident logits, points
deep inside it and just outside the box, and the rule that keeps only the pieces of a new mask that
continue the previous one. Propagation (``core/propagation.py``) builds each slice's prompt from these;
label edits and the benchmarks use ``bounding_box`` too.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

Box = tuple[int, int, int, int]  # row_start, row_stop, col_start, col_stop (stop exclusive)

_EIGHT = np.ones((3, 3), dtype=bool)
_POINTS_GRID = 64  # the distance transform for interior points runs on at most ~64x64 samples


def bounding_box(mask: np.ndarray) -> Box | None:
    """The tight box around the True pixels, or None for an empty mask."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    r0, r1 = int(rows[0]), int(rows[-1]) + 1
    cols = np.flatnonzero(mask[r0:r1].any(axis=0))
    return r0, r1, int(cols[0]), int(cols[-1]) + 1


def mask_logits(mask: np.ndarray, box: Box | None, scale: float = 8.0) -> np.ndarray:
    """``logits_from_mask`` (+scale inside, -scale outside), filled only inside the mask's box."""
    out = np.full(mask.shape, -scale, dtype=np.float32)
    if box is not None:
        r0, r1, c0, c1 = box
        inner = out[r0:r1, c0:c1]
        inner[mask[r0:r1, c0:c1]] = scale
    return out


def enlarge_box(box: Box, shape: tuple[int, int], margin: float) -> Box:
    """``box`` grown by ``margin`` of its size on each side (at least 2 px), clipped to the slice."""
    r0, r1, c0, c1 = box
    mr = max(2, int(math.ceil(margin * (r1 - r0))))
    mc = max(2, int(math.ceil(margin * (c1 - c0))))
    return max(r0 - mr, 0), min(r1 + mr, shape[0]), max(c0 - mc, 0), min(c1 + mc, shape[1])


def interior_points(mask: np.ndarray, box: Box, n: int) -> list[tuple[float, float]]:
    """Up to ``n`` well-separated points deep inside the mask (distance-transform maxima).

    The transform runs on the box, subsampled to about 64x64: a click needs no sub-pixel accuracy.
    """
    r0, r1, c0, c1 = box
    step = max(1, math.ceil(max(r1 - r0, c1 - c0) / _POINTS_GRID))
    sub = np.pad(mask[r0:r1:step, c0:c1:step], 1)
    if not sub.any():  # a thin object the subsampling missed
        rr, cc = np.nonzero(mask[r0:r1, c0:c1])
        mid = len(rr) // 2
        return [(float(r0 + rr[mid]), float(c0 + cc[mid]))]
    dist = ndimage.distance_transform_edt(sub)
    best = float(dist.max())
    rows, cols = np.indices(dist.shape, sparse=True)
    points: list[tuple[float, float]] = []
    while len(points) < n:
        flat = int(np.argmax(dist))
        pr, pc = divmod(flat, dist.shape[1])
        value = float(dist[pr, pc])
        if value <= 0 or (points and value < 0.3 * best):
            break
        points.append((float(r0 + (pr - 1) * step), float(c0 + (pc - 1) * step)))
        dist[(rows - pr) ** 2 + (cols - pc) ** 2 <= (2 * value) ** 2] = 0
    return points


def outside_points(box: Box, shape: tuple[int, int]) -> list[tuple[float, float]]:
    """Negative clicks just outside the middle of each side of ``box`` (those inside the slice)."""
    r0, r1, c0, c1 = box
    rm, cm = (r0 + r1 - 1) / 2.0, (c0 + c1 - 1) / 2.0
    candidates = [(r0 - 1, cm), (r1, cm), (rm, c0 - 1), (rm, c1)]
    return [(float(r), float(c)) for r, c in candidates if 0 <= r < shape[0] and 0 <= c < shape[1]]


def keep_overlapping(mask: np.ndarray, box: Box, prev_mask: np.ndarray) -> tuple[np.ndarray, Box | None]:
    """Drop the connected components of ``mask`` that do not touch ``prev_mask``.

    Like MedSAM2's largest-component rule, but it keeps every piece that continues the object (a
    structure may split between slices). When nothing overlaps, the mask is returned unchanged and
    the IoU rule decides.
    """
    r0, r1, c0, c1 = box
    crop, prev_crop = mask[r0:r1, c0:c1], prev_mask[r0:r1, c0:c1]
    if not np.any(crop > prev_crop):  # nothing outside the previous mask: every piece overlaps it
        return mask, box
    labels, count = ndimage.label(crop, structure=_EIGHT)
    if count <= 1:
        return mask, box
    keep = np.bincount(labels[prev_crop & crop], minlength=count + 1) > 0
    keep[0] = False
    kept = int(np.count_nonzero(keep))
    if kept == 0 or kept == count:
        return mask, box
    out = np.zeros_like(mask)
    out[r0:r1, c0:c1] = labels == int(np.argmax(keep)) if kept == 1 else keep[labels]
    inner = bounding_box(out[r0:r1, c0:c1])
    assert inner is not None
    return out, (r0 + inner[0], r0 + inner[1], c0 + inner[2], c0 + inner[3])
