"""A T1-like, skull-stripped brain phantom: the MR development volumes (``bench --sets dev-mr``).

Every inference-time constant of the built-in model was first chosen on CT-like volumes only, and the
one MR evaluation volume (the MNI152 template) must not be used for choices. This generator gives
development volumes with what makes MR brains hard for a promptable model: nested structures (white
matter inside grey matter inside the brain, so one click is ambiguous), a thin folded cortical
ribbon, dark sulci and ventricles, a bias field. Its code and seeds are separate from the training
generator (``training/``) and from the MNI template; it is never an evaluation set.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from napari_medseg.evaluation.datasets import _ellipsoid_radius, _smooth_noise

MR_DEV_SEEDS = (3, 4)
# T1-like intensities (arbitrary units): background 0 (skull-stripped), CSF dark, grey matter mid,
# white matter bright
CSF, GREY, WHITE = 0.25, 0.58, 0.85


def brain_outline(rng: np.random.Generator, shape: tuple[int, int, int], axes: tuple[float, float, float],
                  lumps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(grid, centre, radius, brain) of a brain phantom: an ellipsoid near the volume's centre with
    semi-axes ``axes`` (shares of the volume's sides), its surface deformed by a smooth noise field
    ``lumps`` strong; ``radius`` is each voxel's ellipsoidal radius."""
    grid = np.indices(shape, dtype=np.float32)
    centre = np.array([n / 2 for n in shape]) + rng.normal(0, 1.5, 3)
    r = _ellipsoid_radius(grid, centre, np.array(axes) * np.array(shape))
    return grid, centre, r, r + lumps * _smooth_noise(shape, 6.0, rng) < 1.0


def brain_phantom(seed: int, shape: tuple[int, int, int] = (96, 112, 48)) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """(image float32, labels uint8, names): brain (1 = grey matter, 2 = white matter, 3 = ventricles).

    Slices are ``[:, :, k]`` (axis 2, axial). The brain is a deformed ellipsoid; sulci are thin dark
    CSF clefts cut into it where a smooth noise field crosses zero; white matter is the brain eroded
    by a cortex of varying thickness (about 3-5 voxels), which follows the sulci; two ventricles sit
    inside the white matter.
    """
    rng = np.random.default_rng(20_000 + seed)
    h, w, d = shape
    grid, centre, _, brain = brain_outline(rng, shape, (0.40, 0.42, 0.55), 0.06)
    folds = _smooth_noise(shape, 2.5, rng)
    depth = ndimage.distance_transform_edt(brain)
    sulci = brain & (np.abs(folds) < 0.12) & (depth < 9.0)  # clefts from the surface inwards
    tissue = brain & ~sulci
    thickness = 3.0 + 1.0 * _smooth_noise(shape, 5.0, rng)
    white = tissue & (ndimage.distance_transform_edt(tissue) > np.clip(thickness, 2.0, 5.0))
    white = ndimage.binary_opening(white, iterations=1)
    ventricles = np.zeros(shape, dtype=bool)
    for side in (-1.0, 1.0):
        vc = centre + np.array([0.0, side * 0.08 * w, 0.0])
        vr = np.array([0.16 * h, 0.035 * w, 0.22 * d])
        rv = _ellipsoid_radius(grid, vc, vr)
        ventricles |= (rv + 0.1 * _smooth_noise(shape, 3.0, rng) < 1.0) & white
    white &= ~ventricles
    grey = tissue & ~white & ~ventricles
    labels = np.zeros(shape, dtype=np.uint8)
    labels[grey], labels[white], labels[ventricles] = 1, 2, 3
    image = np.zeros(shape, dtype=np.float32)
    image[brain] = CSF
    image[grey], image[white], image[ventricles] = GREY, WHITE, CSF
    image = ndimage.gaussian_filter(image, 0.7)  # partial volume
    bias = 1.0 + 0.08 * _smooth_noise(shape, 20.0, rng)
    image = image * bias + rng.normal(0.0, 0.025, shape) * (image > 0.02)
    names = {1: "grey matter", 2: "white matter", 3: "ventricles"}
    return np.clip(image, 0.0, None).astype(np.float32), labels, names


def brain_labels(labels: np.ndarray) -> dict[str, np.ndarray]:
    """The reference masks of the MR development cases: the whole brain, white and grey matter,
    the ventricles (the brain holds the sulci too, as a skull-stripping mask does)."""
    tissue = labels > 0
    brain = ndimage.binary_closing(tissue, iterations=2) | tissue
    brain = ndimage.binary_fill_holes(brain)
    return {"brain": brain, "white matter": labels == 2, "grey matter": labels == 1, "ventricles": labels == 3}
