"""The object's look in the model's own image features, for when intensity cannot tell it apart.

:class:`~napari_medseg.core.appearance.AppearanceModel` compares intensities. An organ that touches a
tissue of the same brightness (the spleen at about 50 HU against 48 HU muscle of the abdominal wall)
passes that test everywhere, and a walk prompted with the previous slice's mask runs on along the
wall through every slice to the volume's end. The encoder's features see more than one pixel's
brightness (texture, the edges and shapes around it), so they can still separate the two.

:class:`FeatureAppearance` fits a linear discriminant (Fisher's, with a shrunk covariance) on the key
slice between the features under the key mask and those in a ring around it. On a new slice the share
of mask pixels on the object's side is compared with the key slice's own share: far below it, the mask
covers something else and the walk stops. Patches of the mask reached from outside that lie clearly
(one within-class spread) on the surroundings' side are trimmed.

A model offers its features through an optional ``appearance_features(embedding)`` method returning a
channels-last ``(h, w, C)`` array (any float dtype; it may be a view of the cached embedding) on a grid
of ``stride`` slice pixels (row ``i`` covers slice rows ``i*stride`` to ``(i+1)*stride``) and the
stride; models without it are judged by intensity alone. Nothing here imports torch: it is numpy
arithmetic on the cached embedding, about 1 ms per 512x512 slice; only the cells the mask's
surroundings reach are read and converted to float32.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from napari_medseg.core.appearance import MIN_JUDGED, crop_around, drop_reached_patches
from napari_medseg.core.morphology import within_distance

SliceFeatures = tuple[np.ndarray, int]  # (features (h, w, C), stride in slice pixels)
FeatureSource = Callable[[], "SliceFeatures | None"]  # asked only when needed; None: no features

RING = 0.5  # ring width: this fraction of sqrt(key area) (dev volumes, 2026-12-01)
SHRINKAGE = 0.01  # covariance + this fraction of its mean variance on the diagonal
MIN_SAMPLES_PER_DIM = 4  # object and ring each need this many grid cells per feature channel
TRIM_MARGIN = 1.0  # trim only pixels at least this many within-class spreads on the ring's side
PART_SHARE = 0.1  # a separate part of the mask this large is judged as a whole (drop_unlike_parts)
CORE, OUTSIDE = 0.75, 0.25  # a grid cell is object if the key mask covers > 75 % of it, ring if < 25 %


@dataclass(frozen=True)
class FeatureAppearance:
    """A linear object-versus-surroundings score over the model's features, learned on a key slice."""

    weights: np.ndarray  # (C,), scaled so that the within-class spread of the score is 1
    bias: float  # score 0: midway between the object's and the ring's mean scores
    key_share: float  # share of the key mask's grid cells with a positive score

    @classmethod
    def from_key(cls, source: SliceFeatures | None, mask: np.ndarray) -> FeatureAppearance | None:
        """Learn from the key slice; None when there are no features or too few cells to fit."""
        if source is None:
            return None
        features, stride = source[0], int(source[1])
        mask = np.asarray(mask, dtype=bool)
        cover = _cover(mask, stride, features.shape[:2])
        if not cover.any():
            return None
        width = max(2.0, RING * np.sqrt(np.count_nonzero(mask)) / stride)
        # the ring lies within ``width`` cells of the object's cells: only that window is measured
        rows, cols = crop_around(cover > 0, int(np.ceil(width)) + 1)
        cover, features = cover[rows, cols], features[rows, cols]
        obj = cover > CORE
        outside = cover < OUTSIDE
        ring = outside & within_distance(~outside, width)
        dims = features.shape[-1]
        if min(np.count_nonzero(obj), np.count_nonzero(ring)) < MIN_SAMPLES_PER_DIM * dims:
            return None  # a small object: a discriminant fitted on so few cells would only be noise
        x_obj = np.asarray(features[obj], dtype=np.float32)
        x_ring = np.asarray(features[ring], dtype=np.float32)
        centred = np.concatenate([x_obj - x_obj.mean(0), x_ring - x_ring.mean(0)])
        cov = centred.T @ centred / max(len(centred) - 2, 1)
        cov += SHRINKAGE * float(np.trace(cov)) / dims * np.eye(dims, dtype=cov.dtype)
        try:
            w = np.linalg.solve(cov, x_obj.mean(0) - x_ring.mean(0))
        except np.linalg.LinAlgError:
            return None
        spread = float(np.sqrt(np.mean((centred @ w) ** 2)))
        if not np.isfinite(spread) or spread <= 0:
            return None
        w = w / spread
        s_obj, s_ring = x_obj @ w, x_ring @ w
        bias = -0.5 * float(s_obj.mean() + s_ring.mean())
        return cls(w.astype(np.float32), bias, float(np.mean(s_obj + bias > 0)))

    def score(self, source: SliceFeatures, rows: slice, cols: slice) -> np.ndarray:
        """The score at slice resolution over ``rows`` x ``cols`` (bilinear between grid cells)."""
        features, stride = source
        # one cell more on each side, so that the interpolation at the crop's edge has both neighbours
        g0, g1 = max(rows.start // stride - 1, 0), min(-(-rows.stop // stride) + 1, features.shape[0])
        h0, h1 = max(cols.start // stride - 1, 0), min(-(-cols.stop // stride) + 1, features.shape[1])
        cells = np.asarray(features[g0:g1, h0:h1], dtype=np.float32) @ self.weights + self.bias  # (h, w)
        # slice pixel p sits at grid coordinate (p + 0.5) / stride - 0.5 (cell centres)
        r = (np.arange(rows.start, rows.stop) + 0.5) / stride - 0.5 - g0
        c = (np.arange(cols.start, cols.stop) + 0.5) / stride - 0.5 - h0
        return lerp_axis(lerp_axis(cells, r, 0), c, 1)

    def judge(self, source: SliceFeatures | None, mask: np.ndarray, ratio: float, trim: bool,
              previous: np.ndarray | None = None) -> np.ndarray | None:
        """The mask to keep (trimmed if asked), or None when it no longer looks like the object.

        Below ``ratio`` of the key's share, and with ``trim``, the mask first loses every surroundings-
        side patch reached from outside (score < 0): where what is left looks like the object again,
        the object has shrunk under a mask the model carried on, and the walk goes on with the rest.
        With ``previous`` (the previous slice's mask) the trim holds the pixels the mask grew by to
        more: they go from a score below 0, not below ``-TRIM_MARGIN`` (see ``propagation.py``).
        """
        mask = np.asarray(mask, dtype=bool)
        if source is None or np.count_nonzero(mask) < MIN_JUDGED:
            return mask
        rows, cols = crop_around(mask, 1)
        inside = mask[rows, cols]
        score = self.score(source, rows, cols)
        if float(np.mean(score[inside] > 0)) < ratio * self.key_share:
            if not trim:
                return None
            kept = drop_reached_patches(inside, inside & (score < 0))
            if np.count_nonzero(kept) < MIN_JUDGED or float(np.mean(score[kept] > 0)) < ratio * self.key_share:
                return None
            out = np.zeros_like(mask)
            out[rows, cols] = kept
            return out
        if not trim:
            return mask
        unlike = score < -TRIM_MARGIN
        if previous is not None:
            unlike |= (score < 0) & ~np.asarray(previous, dtype=bool)[rows, cols]
        kept = drop_unlike_parts(drop_reached_patches(inside, inside & unlike), score)
        if kept is inside:
            return mask
        out = mask.copy()
        out[rows, cols] = kept
        return out


def drop_unlike_parts(mask: np.ndarray, score: np.ndarray) -> np.ndarray:
    """``mask`` without its separate parts (all but the largest) that hold at least ``PART_SHARE`` of
    it and look, on average, more like the surroundings than the object (mean score < 0); ``mask``
    itself when none does. A strip of abdominal wall that a key mask took in with the liver stays
    on every slice after the liver has ended, and its pixels score only a little below 0, so the
    pixel trim keeps it; as a part of its own it goes (dev phantom liver from a box: the walk ran 20
    slices past the liver's end, 3D Dice 0.850 -> 0.880). Small parts stay: a grey-matter ribbon
    falls apart into many, and judging those cost a dev MR case 0.864 -> 0.842."""
    labels, count = ndimage.label(mask)
    if count < 2:
        return mask
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    means = np.asarray(ndimage.mean(score, labels, index=np.arange(1, count + 1)))
    unlike = (means < 0) & (sizes >= PART_SHARE * sizes.sum())
    unlike[int(np.argmax(sizes))] = False
    if not unlike.any():
        return mask
    return mask & ~np.isin(labels, np.flatnonzero(unlike) + 1)


def lerp_axis(cells: np.ndarray, coords: np.ndarray, axis: int) -> np.ndarray:
    """Linear interpolation of ``cells`` at ``coords`` along ``axis``, the edge cells held beyond the
    ends: one axis of bilinear ``map_coordinates(..., mode="nearest")``. Gathers and weights, not a
    matrix product: numpy's BLAS threads would spin on the cores the network's threads need."""
    n = cells.shape[axis]
    at = np.clip(coords, 0, n - 1)
    low = np.floor(at).astype(np.intp)
    frac = (at - low).astype(np.float32)
    high = np.minimum(low + 1, n - 1)
    shape = [1] * cells.ndim
    shape[axis] = len(at)
    frac = frac.reshape(shape)
    return np.take(cells, low, axis=axis) * (1 - frac) + np.take(cells, high, axis=axis) * frac


def _cover(mask: np.ndarray, stride: int, grid: tuple[int, ...]) -> np.ndarray:
    """Fraction of each grid cell (stride x stride slice pixels) that the mask covers, on ``grid``.

    Only the cells under the mask's bounding box are averaged (the rest are 0): a slice of 512x512
    costs what the mask's box costs.
    """
    gh, gw = int(grid[0]), int(grid[1])
    cover = np.zeros((gh, gw), dtype=np.float32)
    rows, cols = crop_around(mask, 0)
    if rows.stop <= rows.start:
        return cover
    g0, g1 = rows.start // stride, min(-(-rows.stop // stride), gh)
    h0, h1 = cols.start // stride, min(-(-cols.stop // stride), gw)
    if g1 <= g0 or h1 <= h0:
        return cover
    block = np.zeros(((g1 - g0) * stride, (h1 - h0) * stride), dtype=np.float32)
    part = mask[g0 * stride : g1 * stride, h0 * stride : h1 * stride]
    block[: part.shape[0], : part.shape[1]] = part
    cover[g0:g1, h0:h1] = block.reshape(g1 - g0, stride, h1 - h0, stride).mean(axis=(1, 3))
    return cover
