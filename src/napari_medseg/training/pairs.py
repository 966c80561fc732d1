"""Neighbouring-slice pairs for propagation training, made as different as real neighbours are.

Slices 3-5 mm apart differ a lot: the cross-section of an organ shrinks or grows unevenly by several
pixels, splits, or ends (the next slice shows only its neighbours), and neighbours of the same
brightness touch it. If slice B were slice A under a tiny deformation, copying the previous mask would
be the best answer and the model would learn to ignore the image. So slice B is made from slice A by

* a smooth deformation of 0.5-4.5 px (plus a shift) (the whole label map moves, not only the target),
* an uneven erosion/dilation of the target: its signed distance thresholded at a smooth random level
  field (mean erosion in [-2, +2.5] px half the time, in [-4, +8] px otherwise), so some sides shrink by many pixels while others grow,
* sometimes a split (a cut through the object), an end (the target is gone, its place refilled by the
  neighbouring labels), or a touching distractor of the same brightness,

then rendered with the same appearance (means drift slightly) and a fresh noise draw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from napari_medseg.core.between_slices import signed_distance
from napari_medseg.training.synth import (
    _grid,
    deformed_blob,
    pick_target,
    random_appearance,
    random_deformation,
    random_label_map,
    render,
    smooth_noise,
)

END_P = 0.22  # the object ends: nothing of it on the next slice
SPLIT_P = 0.08  # a cut splits it (applied after the uneven change)
STILL_P = 0.12  # only the deformation (the shape barely changes)
DISTRACTOR_P = 0.2  # a same-brightness neighbour touches it (independent of the event)


@dataclass(frozen=True)
class PairProfile:
    """How different the two slices of a pair are (pixels; probabilities of the events)."""

    deform: tuple[float, float] = (0.5, 4.5)  # amplitude of the smooth deformation
    end_p: float = END_P
    still_p: float = STILL_P
    split_p: float = SPLIT_P
    distractor_p: float = DISTRACTOR_P
    mild_p: float = 0.5  # share of uneven changes drawn from ``mild_erode``, the rest from ``wide_erode``
    mild_erode: tuple[float, float] = (-2.0, 2.5)
    wide_erode: tuple[float, float] = (-4.0, 8.0)
    amp: tuple[float, float] = (0.5, 3.5)  # how unevenly (the level field's amplitude)


WIDE = PairProfile()
# neighbours as thin slices of smooth organs are: small, uneven changes, and more often a neighbour
# of the same brightness touching the object (the propagation decoder's pairs, train_propagation.py)
NEAR = PairProfile(deform=(0.3, 2.0), still_p=0.2, distractor_p=0.35, mild_p=0.8, mild_erode=(-1.5, 2.0),
                   wide_erode=(-3.0, 5.0), amp=(0.3, 2.0))


@dataclass
class SlicePair:
    image_a: np.ndarray
    target_a: np.ndarray
    image_b: np.ndarray
    target_b: np.ndarray  # may be empty: the object ended
    labels_b: np.ndarray


def fill_without(labels: np.ndarray, hole: np.ndarray, exclude: np.ndarray) -> np.ndarray:
    """Give the pixels of ``hole`` the label of the nearest pixel outside ``hole | exclude``."""
    source = hole | exclude
    if not hole.any() or source.all():
        return labels
    _, inds = ndi.distance_transform_edt(source, return_indices=True)
    out = labels.copy()
    out[hole] = labels[inds[0][hole], inds[1][hole]]
    return out


def uneven_change(rng: np.random.Generator, target: np.ndarray, profile: PairProfile = WIDE) -> np.ndarray:
    """The target eroded/dilated by a smoothly varying amount (a different one on each side)."""
    sdf = signed_distance(target)
    thick = float(sdf.max())
    erode = rng.uniform(*profile.mild_erode) if rng.random() < profile.mild_p else rng.uniform(*profile.wide_erode)
    if rng.random() < 0.8:  # mostly keep something: ends have their own event
        erode = min(erode, 0.8 * thick)
    amp = rng.uniform(*profile.amp)
    level = erode + amp * smooth_noise(rng, target.shape, rng.uniform(4.0, 16.0))
    return sdf > level


def split(rng: np.random.Generator, target: np.ndarray) -> np.ndarray:
    """The target cut by a 1-4 px line through a random inside point."""
    pts = np.argwhere(target)
    if len(pts) == 0:
        return target
    rr, cc = _grid(target.shape)
    p = pts[rng.integers(len(pts))]
    t = rng.uniform(0, np.pi)
    cut = np.abs((rr - p[0]) * np.cos(t) + (cc - p[1]) * np.sin(t)) < rng.uniform(0.5, 2.0)
    return target & ~cut


def touching_distractor(rng: np.random.Generator, target: np.ndarray) -> np.ndarray | None:
    """A blob next to the target, 0-2 px from it, covering none of it; None if it misses."""
    if not target.any():
        return None
    size = float(np.sqrt(target.sum()))
    blob = deformed_blob(rng, target.shape, rng.uniform(0.3, 1.0) * max(size, 6.0))
    ring = ndi.binary_dilation(target, iterations=int(rng.integers(2, 6))) & ~target
    anchor = np.argwhere(ring)
    if len(anchor) == 0 or not blob.any():
        return None
    shift = anchor[rng.integers(len(anchor))] - np.array(np.nonzero(blob)).mean(axis=1).astype(int)
    blob = np.roll(blob, tuple(shift), axis=(0, 1))
    gap = int(rng.integers(0, 3))
    keep_out = ndi.binary_dilation(target, iterations=gap) if gap else target
    blob &= ~keep_out
    return blob if blob.sum() >= 6 else None


def make_pair(rng: np.random.Generator, size: int = 128, labels: np.ndarray | None = None,
              profile: PairProfile = WIDE) -> SlicePair | None:
    """Two neighbouring slices of one object, for learning to follow it (and to stop at its end)."""
    shape = (size, size)
    labels = random_label_map(rng, shape) if labels is None else labels.copy()
    shape = labels.shape
    target = pick_target(rng, labels, min_area=20)
    if target is None:
        return None
    tid = int(labels.max()) + 1
    original = int(labels[target].flat[0])
    labels[target] = tid
    app = random_appearance(rng, tid + 1)
    app.means[tid] = app.means[original]
    app.textures[tid] = app.textures[original]
    app.aniso = None
    bias = smooth_noise(rng, shape, 0.4 * min(shape))
    image_a = render(rng, labels, app, bias)

    coords = random_deformation(rng, shape, rng.uniform(*profile.deform))
    labels_b = ndi.map_coordinates(labels, coords, order=0, mode="nearest").astype(np.int32)
    tb = labels_b == tid
    event = rng.random()
    if event < profile.end_p:
        new = np.zeros_like(tb)
    elif event < profile.end_p + profile.still_p:
        new = tb
    else:
        new = uneven_change(rng, tb, profile)
        if rng.random() < profile.split_p / (1 - profile.end_p - profile.still_p):
            new = split(rng, new)
    if new is not tb:
        labels_b = fill_without(labels_b, tb, tb)  # the old region gets its neighbours' labels
        labels_b[new] = tid
    if rng.random() < profile.distractor_p:
        blob = touching_distractor(rng, new if new.any() else tb)
        if blob is not None:
            did = tid + 1
            app.means = np.append(app.means, app.means[tid] + rng.normal(0, 0.03)).astype(np.float32)
            app.textures = np.append(app.textures, app.textures[tid]).astype(np.float32)
            labels_b[blob & (labels_b != tid)] = did
    app.means = (app.means + rng.normal(0, 0.02, len(app.means))).astype(np.float32)
    shifted_bias = ndi.map_coordinates(bias, coords, order=1, mode="nearest")
    image_b = render(rng, labels_b, app, shifted_bias)
    return SlicePair(image_a, labels == tid, image_b, labels_b == tid, labels_b)
