"""Folded brain phantoms, and population averages of them: MR development volumes
(``bench --sets dev-mr-folded``).

``mr_phantom.brain_phantom``'s white matter is one smooth blob under a thick (3-5 voxel) cortex whose
few sulci end in the grey matter. A real brain's white matter runs out in thin gyral cores between
dense sulci, under a cortical ribbon about 2 voxels thick at 2 mm, and the MR volumes people annotate
include population templates (averages of many registered brains), where sulci that do not line up
across subjects blur into a mid-grey band and the tissue labels are probabilities > 0.5. Here:

* sulci are clefts (a fold field about 1.7 voxels in scale) running straight in from the surface
  (the field is read at each voxel's nearest surface point), 4-14 voxels deep; a wavy midline fissure
  parts the hemispheres except over the central core; the cortex is 1.5-3 voxels thick along the
  surface and every sulcus; deep grey nuclei (caudate, lentiform, thalamus: grey matter, between grey
  and white in brightness) sit in the white matter beside the ventricles;
* :func:`average_brain_phantom` averages ``subjects`` such brains that share their outline, ventricles
  and nuclei, and whose fold fields share part of their pattern (major sulci line up, minor ones do
  not); its labels are the tissue probabilities > 0.5, as a template's are.

Built from anatomy (sulcal depth and spacing, cortical thickness) and from how a template is made,
not fitted to any volume. Never training data, never an evaluation set.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from napari_medseg.evaluation.datasets import _ellipsoid_radius, _smooth_noise
from napari_medseg.evaluation.mr_phantom import CSF, GREY, WHITE, brain_outline

FOLDED_SEEDS = (5,)  # single brains in ``dev-mr-folded``
AVERAGE_SEEDS = (6, 7)  # population averages in ``dev-mr-folded``
SHAPE = (96, 112, 48)
NUCLEI = 0.5 * (GREY + WHITE)
NAMES = {1: "grey matter", 2: "white matter", 3: "ventricles"}
SHARED_FOLDS = 0.8  # the share of the fold pattern that lines up across the subjects of an average


def _tissues(seed: int, folds: np.ndarray, subject: np.random.Generator,
             shape: tuple[int, int, int]) -> dict[str, np.ndarray]:
    """Boolean masks (brain, grey, white, ventricles, nuclei) of one brain: outline, ventricles and
    nuclei from ``seed``, the sulci from the fold field ``folds`` and draws of ``subject``."""
    rng = np.random.default_rng(30_000 + seed)
    h, w, d = shape
    grid, centre, r, brain = brain_outline(rng, shape, (0.42, 0.38, 0.55), 0.05)
    depth, nearest = ndimage.distance_transform_edt(brain, return_indices=True)
    reach = np.clip(9.0 + 3.0 * _smooth_noise(shape, 8.0, subject), 4.0, 14.0)
    sulci = brain & (np.abs(folds[tuple(nearest)]) < 0.18) & (depth < reach)
    mid = centre[1] + 1.5 * _smooth_noise(shape, 8.0, rng)
    core = (np.abs(grid[0] - centre[0]) < 0.22 * h) & (r < 0.75)
    fissure = brain & (np.abs(grid[1] - mid) < 0.7) & ~core
    tissue = brain & ~sulci & ~fissure
    thickness = np.clip(2.2 + 0.4 * _smooth_noise(shape, 5.0, subject), 1.5, 3.0)
    white = tissue & (ndimage.distance_transform_edt(tissue) > thickness)
    lab, n = ndimage.label(white)
    white = np.isin(lab, 1 + np.flatnonzero(ndimage.sum(white, lab, range(1, n + 1)) >= 30))
    ventricles = np.zeros(shape, dtype=bool)
    nuclei = np.zeros(shape, dtype=bool)
    for side in (-1.0, 1.0):
        vc = centre + np.array([-0.03 * h, side * 0.06 * w, 0.0])
        vr = np.array([0.17 * h, 0.03 * w, 0.20 * d])
        rv = _ellipsoid_radius(grid, vc, vr)
        ventricles |= rv + 0.1 * _smooth_noise(shape, 3.0, rng) < 1.0
        for off, rad in (((-0.12 * h, side * 0.10 * w, 0.0), (0.07 * h, 0.035 * w, 0.10 * d)),  # caudate
                         ((0.0, side * 0.20 * w, -0.02 * d), (0.10 * h, 0.04 * w, 0.10 * d)),  # lentiform
                         ((0.10 * h, side * 0.07 * w, 0.0), (0.07 * h, 0.05 * w, 0.09 * d))):  # thalamus
            nc = centre + np.array(off)
            rn = _ellipsoid_radius(grid, nc, rad)
            nuclei |= rn + 0.1 * _smooth_noise(shape, 3.0, rng) < 1.0
    deep = r < 0.6  # the nuclei and ventricles lie in the central white matter
    ventricles &= deep & tissue
    nuclei &= deep & tissue & ~ventricles
    white = (white | (deep & tissue)) & ~ventricles & ~nuclei
    grey = tissue & ~white & ~ventricles
    return {"brain": brain, "grey": grey, "white": white, "ventricles": ventricles, "nuclei": nuclei}


def _t1(t: dict[str, np.ndarray]) -> np.ndarray:
    """The noiseless T1-like intensities of one brain, with partial volume."""
    image = np.zeros(t["brain"].shape, dtype=np.float32)
    image[t["brain"]] = CSF
    image[t["grey"]], image[t["white"]], image[t["ventricles"]] = GREY, WHITE, CSF
    image[t["nuclei"]] = NUCLEI
    return ndimage.gaussian_filter(image, 0.8)


def _labels(grey: np.ndarray, white: np.ndarray, ventricles: np.ndarray) -> np.ndarray:
    labels = np.zeros(grey.shape, dtype=np.uint8)
    labels[grey], labels[white], labels[ventricles] = 1, 2, 3
    return labels


def _finish(image: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    """A bias field and noise in the brain."""
    bias = 1.0 + 0.08 * _smooth_noise(image.shape, 20.0, rng)
    image = image * bias + rng.normal(0.0, noise, image.shape) * (image > 0.02)
    return np.clip(image, 0.0, None).astype(np.float32)


def folded_brain_phantom(seed: int, shape: tuple[int, int, int] = SHAPE) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """(image float32, labels uint8: 1 grey matter, 2 white matter, 3 ventricles, names) of one
    folded brain; slices are ``[:, :, k]`` (axial)."""
    subject = np.random.default_rng(31_000 + seed)
    t = _tissues(seed, _smooth_noise(shape, 1.7, subject), subject, shape)
    image = _finish(_t1(t), subject, 0.025)
    return image, _labels(t["grey"] | t["nuclei"], t["white"], t["ventricles"]), NAMES


def average_brain_phantom(seed: int, subjects: int = 8,
                          shape: tuple[int, int, int] = SHAPE) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """As :func:`folded_brain_phantom`, the average of ``subjects`` brains (a template): the image is
    their mean (less noise), each label the voxels where more than half of them hold that tissue."""
    shared = _smooth_noise(shape, 1.7, np.random.default_rng(32_000 + seed))
    mean = np.zeros(shape, dtype=np.float32)
    p = {key: np.zeros(shape, dtype=np.float32) for key in ("grey", "white", "ventricles")}
    for i in range(subjects):
        subject = np.random.default_rng(33_000 + 100 * seed + i)
        own = _smooth_noise(shape, 1.7, subject)
        folds = SHARED_FOLDS * shared + np.sqrt(1.0 - SHARED_FOLDS**2) * own
        t = _tissues(seed, folds, subject, shape)
        mean += _t1(t) / subjects
        p["grey"] += (t["grey"] | t["nuclei"]) / subjects
        p["white"] += t["white"] / subjects
        p["ventricles"] += t["ventricles"] / subjects
    image = _finish(mean, np.random.default_rng(34_000 + seed), 0.01)
    return image, _labels(p["grey"] > 0.5, p["white"] > 0.5, p["ventricles"] > 0.5), NAMES

