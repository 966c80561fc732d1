"""The object's look on its key slice, to tell when propagation has run past the object's end.

A promptable model given the previous slice's mask tends to carry that mask on even where the
object has ended: the mask prompt says "something is here". The key slice, which the user checked,
says what the object looks like and what surrounds it. :class:`AppearanceModel` keeps two intensity
histograms (inside the key mask, and in a ring around it) and scores a new slice's mask by the share
of its pixels that look more like the object than like its surroundings. When that share falls far
below the key slice's own share, the walk stops: the mask now covers something else.

Only the model's view of the image is used (the [0, 1] slice after the intensity preset), lightly
smoothed so that noise does not decide. It is cheap: a crop, a small gaussian and a histogram lookup.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

BINS = 32
SMOOTH_SIGMA = 1.0
MIN_JUDGED = 16  # pixels: a smaller mask is left to the area rule (smoothing blurs it into its ring)
MIN_PATCH = 5  # pixels: smaller patches of surroundings-like intensity are noise, not a leak
MIN_DENSITY = 0.2 / BINS  # a bin holding less than a fifth of a uniform share is "never seen"  # pixels; noise of CT/MR slices is mostly pixel to pixel


@dataclass(frozen=True)
class AppearanceModel:
    """Object-versus-surroundings intensity evidence learned from one key slice."""

    object_like: np.ndarray  # bool (BINS,): the bins where the object is the likelier explanation
    key_share: float  # share of the key mask's own pixels that fall in object-like bins

    @classmethod
    def from_key(cls, image: np.ndarray, mask: np.ndarray, ring: int | None = None) -> AppearanceModel | None:
        """Learn from the key slice; None when the object or its ring is too small to say anything."""
        mask = np.asarray(mask, dtype=bool)
        area = int(np.count_nonzero(mask))
        if area < 8:
            return None
        width = ring if ring is not None else max(3, int(round(0.25 * np.sqrt(area))))
        rows, cols = _crop(mask, width + 2)
        crop_mask = mask[rows, cols]
        outside = ndimage.distance_transform_edt(~crop_mask) if crop_mask.any() else None
        if outside is None:
            return None
        ring_mask = (outside > 0) & (outside <= width)
        if np.count_nonzero(ring_mask) < 8:
            return None
        bins = _bins(image[rows, cols])
        p_obj = _density(bins[crop_mask])
        p_bg = _density(bins[ring_mask])
        # an intensity the key object never showed is not object-like, whatever the ring says
        object_like = (p_obj > p_bg) & (p_obj > MIN_DENSITY)
        key_share = float(object_like[bins[crop_mask]].mean())
        return cls(object_like, key_share)

    def share(self, image: np.ndarray, mask: np.ndarray) -> float:
        """Share of ``mask``'s pixels whose (smoothed) intensity is object-like on ``image``."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return 0.0
        rows, cols = _crop(mask, 3)
        bins = _bins(image[rows, cols])
        return float(self.object_like[bins[mask[rows, cols]]].mean())

    def trim(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """``mask`` without the pixels that look like the surroundings (holes closed again)."""
        mask = np.asarray(mask, dtype=bool)
        if np.count_nonzero(mask) < MIN_JUDGED:
            return mask
        rows, cols = _crop(mask, 3)
        inside = mask[rows, cols]
        unlike = inside & ~self.object_like[_bins(image[rows, cols])]
        # only patches of some size are removed: single noisy pixels stay with the object
        labels, count = ndimage.label(unlike)
        if count == 0:
            return mask
        sizes = np.bincount(labels.ravel(), minlength=count + 1)
        big = sizes >= MIN_PATCH
        big[0] = False
        unlike = big[labels]
        kept = ndimage.binary_fill_holes(inside & ~unlike) & inside
        out = np.zeros_like(mask)
        out[rows, cols] = kept
        return out

    def still_object(self, image: np.ndarray, mask: np.ndarray, ratio: float) -> bool:
        """False when the mask looks much less like the object than the key mask did."""
        if np.count_nonzero(mask) < MIN_JUDGED:
            return True
        return self.share(image, mask) >= ratio * self.key_share


def _crop(mask: np.ndarray, margin: int) -> tuple[slice, slice]:
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return slice(0, 0), slice(0, 0)
    return (
        slice(max(int(rows[0]) - margin, 0), min(int(rows[-1]) + 1 + margin, mask.shape[0])),
        slice(max(int(cols[0]) - margin, 0), min(int(cols[-1]) + 1 + margin, mask.shape[1])),
    )


def _density(bins: np.ndarray) -> np.ndarray:
    """Normalised histogram over the bins, spread to the neighbouring bins (1-2-1)."""
    hist = np.bincount(bins, minlength=BINS).astype(np.float64)
    hist = np.convolve(np.pad(hist, 1, mode="edge"), [0.25, 0.5, 0.25], mode="valid")
    return hist / max(hist.sum(), 1.0)


def _bins(image: np.ndarray) -> np.ndarray:
    img = np.nan_to_num(np.asarray(image, dtype=np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    smooth = ndimage.gaussian_filter(img, SMOOTH_SIGMA, mode="nearest")
    return np.clip((smooth * BINS).astype(np.int64), 0, BINS - 1)
