"""Evaluation sets: volumes with reference labels that the built-in model never saw in training.

* ``sample``: the bundled CT-like phantom (:func:`napari_medseg.core.sample.load_sample`), one case
  per labelled structure.
* ``synthetic``: 3D test volumes from the generator below (curved tubes along the slicing axis, a
  Y-shaped branching vessel, lobulated blobs of low and high contrast); its code and seeds are
  separate from the training generator in ``training/``.
* ``mni``: the MNI152 2009a T1 template with brain, grey-matter and white-matter labels, shipped
  inside the ``nilearn`` package (``pip install napari-medseg[bench]``; nothing is downloaded).
* ``radiomics``: real CT lung and MR brain and breast tumours with hand-drawn labels, from the test
  data of pyradiomics' source package on PyPI (``evaluation/radiomics_set.py``; fetched once).
* ``totalseg``: a real abdominal CT at 3 mm with TotalSegmentator's own segmentation as the reference
  (its test example, from its source package on PyPI; ``evaluation/totalseg_set.py``).

A :class:`Case` is one structure of one volume; cases of one volume share the image array, so the
benchmark can share one embedding cache per volume and model across structures and prompt types.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from napari_medseg.core.volume_io import Volume
from napari_medseg.errors import MedsegError

SETS = ("sample", "synthetic", "mni", "radiomics", "totalseg")
# Development volumes for choosing weights and options: other seeds of the phantom and synthetic
# generators. Never reported as evaluation, never used in training; the evaluation SETS stay untouched
# by such choices.
DEV_SET = "dev"
DEV_PHANTOM_SEEDS = (7, 8)
DEV_SYNTHETIC_SEEDS = (99, 98)
SYNTHETIC_SEEDS = (0, 1)  # the synthetic evaluation set
DEV_MR_SET = "dev-mr"  # T1-like brain phantoms (evaluation/mr_phantom.py): MR choices without the MNI set
# folded brain phantoms (gyral white matter, a thin cortical ribbon, deep grey nuclei): the MR choices
# that the smooth phantoms of ``dev-mr`` cannot show
DEV_MR_FOLDED_SET = "dev-mr-folded"
DEV_SETS = (DEV_SET, DEV_MR_SET, DEV_MR_FOLDED_SET)
# Every case is cut to its structure's in-plane bounding box plus this margin (all slices kept), the
# same for every method: it bounds the cost of the classical baselines on large slices.
CROP_MARGIN = 24
MR_PHANTOM_SPACING = (2.0, 2.0, 2.0)  # mm: the MR phantoms are drawn at a template's 2 mm (a brain 96 x 112 voxels)


@dataclass
class Case:
    """One structure to segment: the image, its reference mask, the slicing axis, the preset and the
    voxel spacing (mm; the built-in model scales coarse slices up by it, models/working_scale.py)."""

    set_name: str
    volume_name: str
    structure: str
    image: np.ndarray
    reference: np.ndarray
    axis: int = 2
    preset: str = "auto"
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)

    @property
    def name(self) -> str:
        return f"{self.volume_name}/{self.structure}"

    def volume(self) -> Volume:
        """The image with its spacing, as a session opens it."""
        return Volume.with_spacing(self.image, self.spacing)

    def key_slice(self) -> int:
        """The slice where the reference has its largest area: where an annotator starts."""
        other = tuple(a for a in range(3) if a != self.axis)
        return int(np.argmax(self.reference.sum(axis=other)))


def _cases_from_labels(
    set_name: str, volume_name: str, image: np.ndarray, labels: np.ndarray, names: dict[int, str], **kw
) -> list[Case]:
    cases = []
    for value, structure in sorted(names.items()):
        ref = labels == value
        if ref.any():
            cases.append(Case(set_name, volume_name, structure, image, ref, **kw))
    return cases


# --- bundled sample ------------------------------------------------------------------------------


def sample_cases() -> list[Case]:
    from napari_medseg.core.sample import load_sample

    volume, labels, names = load_sample()
    image = np.asarray(volume.data)
    return _cases_from_labels("sample", "ct-phantom", image, np.asarray(labels), names, axis=2, preset="ct-abdomen",
                              spacing=tuple(volume.spacing))


# --- synthetic test volumes ----------------------------------------------------------------------


def _smooth_noise(shape: tuple[int, ...], sigma: float, rng: np.random.Generator) -> np.ndarray:
    field = ndimage.gaussian_filter(rng.normal(size=shape), sigma)
    return field / max(float(field.std()), 1e-6)


def _ellipsoid_radius(grid: np.ndarray, centre: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Each voxel's ellipsoidal radius about ``centre`` (1 on the ellipsoid with semi-axes ``radii``);
    ``grid`` is ``np.indices(shape)``."""
    return np.sqrt(sum(((grid[d] - centre[d]) / radii[d]) ** 2 for d in range(3)))


def _tube(shape: tuple[int, int, int], points: np.ndarray, radius: float) -> np.ndarray:
    """Voxels within ``radius`` of a densely sampled 3D polyline."""
    line = np.zeros(shape, dtype=bool)
    idx = np.round(points).astype(int)
    ok = np.all((idx >= 0) & (idx < np.array(shape)), axis=1)
    line[tuple(idx[ok].T)] = True
    return ndimage.distance_transform_edt(~line) <= radius


def _curve(start: np.ndarray, end: np.ndarray, wiggle: float, rng: np.random.Generator, n: int = 400) -> np.ndarray:
    """A smooth random curve from ``start`` to ``end`` (a sine bend of ``wiggle`` voxels sideways)."""
    t = np.linspace(0, 1, n)[:, None]
    base = start + t * (end - start)
    direction = (end - start) / max(np.linalg.norm(end - start), 1e-6)
    side = np.cross(direction, rng.normal(size=3))
    side /= max(np.linalg.norm(side), 1e-6)
    phase, freq = rng.uniform(0, np.pi), rng.uniform(0.5, 1.5)
    return base + wiggle * np.sin(np.pi * freq * t + phase) * side


def _blob(shape: tuple[int, int, int], centre: np.ndarray, radii: np.ndarray, rng: np.random.Generator, lobes: float) -> np.ndarray:
    grid = np.indices(shape, dtype=np.float32)
    r = _ellipsoid_radius(grid, centre, radii)
    return r + lobes * _smooth_noise(shape, 4.0, rng) < 1.0


def synthetic_volume(seed: int, shape: tuple[int, int, int] = (96, 96, 48)) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """A CT-like test volume in Hounsfield-like units with four labelled structures.

    Slices are ``[:, :, k]`` (axis 2). Soft-tissue background with smooth texture; a contrast-filled
    tube winding along the slicing axis, a Y-shaped branching vessel, a large lobulated low-contrast
    blob and a small hypodense blob; blur and noise on top.
    """
    rng = np.random.default_rng(10_000 + seed)
    h, w, d = shape
    labels = np.zeros(shape, dtype=np.uint8)
    blob = _blob(shape, np.array([0.35 * h, 0.62 * w, 0.5 * d]), np.array([0.17 * h, 0.2 * w, 0.3 * d]), rng, 0.15)
    labels[blob] = 3
    small = _blob(shape, np.array([0.72 * h, 0.72 * w, 0.45 * d]), np.array([0.07 * h, 0.07 * w, 0.15 * d]), rng, 0.1)
    labels[small] = 4
    tube_pts = _curve(np.array([0.7 * h, 0.3 * w, -2.0]), np.array([0.6 * h, 0.25 * w, d + 1.0]), 0.08 * h, rng)
    labels[_tube(shape, tube_pts, rng.uniform(3.0, 4.5))] = 1
    trunk_end = np.array([0.3 * h, 0.25 * w, 0.5 * d])
    trunk = _curve(np.array([0.12 * h, 0.08 * w, 0.5 * d - 6]), trunk_end, 3.0, rng)
    arm_a = _curve(trunk_end, np.array([0.15 * h, 0.45 * w, 0.5 * d + 8]), 3.0, rng)
    arm_b = _curve(trunk_end, np.array([0.5 * h, 0.4 * w, 0.5 * d + 5]), 3.0, rng)
    branch = _tube(shape, np.concatenate([trunk, arm_a, arm_b]), rng.uniform(2.5, 3.5))
    labels[branch & (labels == 0)] = 2
    values = {0: 40.0, 1: 220.0, 2: 160.0, 3: 95.0, 4: -40.0}
    image = np.zeros(shape, dtype=np.float32)
    for value, hu in values.items():
        image[labels == value] = hu
    image += 15.0 * _smooth_noise(shape, 3.0, rng).astype(np.float32)
    image += 25.0 * np.linspace(-1, 1, h, dtype=np.float32)[:, None, None]  # a gentle bias field
    image = ndimage.gaussian_filter(image, 0.8)
    image += rng.normal(0.0, 12.0, size=shape).astype(np.float32)
    names = {1: "winding tube", 2: "branching vessel", 3: "lobulated blob", 4: "small hypodense blob"}
    return image.astype(np.float32), labels, names


def synthetic_cases(
    seeds: tuple[int, ...] = SYNTHETIC_SEEDS, shape: tuple[int, int, int] = (96, 96, 48), set_name: str = "synthetic"
) -> list[Case]:
    cases: list[Case] = []
    for seed in seeds:
        image, labels, names = synthetic_volume(seed, shape)
        # (1 mm voxels: the generator draws in voxels, a vessel 5-9 across)
        cases += _cases_from_labels(set_name, f"synthetic-{seed}", image, labels, names, axis=2, preset="ct-abdomen",
                                    spacing=(1.0, 1.0, 1.0))
    return cases


def phantom_cases(seeds: tuple[int, ...], set_name: str = DEV_SET) -> list[Case]:
    """One case per structure of the phantom generator's volume at each seed (whole, not cropped)."""
    from napari_medseg.core.sample import SPACING, generate_phantom

    cases: list[Case] = []
    for seed in seeds:
        image, labels, _, names = generate_phantom(seed)
        cases += _cases_from_labels(set_name, f"phantom-{seed}", image, labels, names, axis=2, preset="ct-abdomen",
                                    spacing=SPACING)
    return cases


def dev_cases() -> list[Case]:
    """The development set: the phantom generator at seeds 7 and 8, the synthetic one at 99 and 98."""
    return phantom_cases(DEV_PHANTOM_SEEDS) + synthetic_cases(DEV_SYNTHETIC_SEEDS, set_name=DEV_SET)


def dev_mr_cases(folded: bool = False) -> list[Case]:
    """The MR development set: brain, white matter, grey matter and ventricles of two brain phantoms;
    ``folded``: of a folded brain and two averages of folded brains (set ``dev-mr-folded``)."""
    from napari_medseg.evaluation import folded_brain, mr_phantom

    if folded:
        volumes = [(DEV_MR_FOLDED_SET, f"mr-folded-{s}", lambda s=s: folded_brain.folded_brain_phantom(s))
                   for s in folded_brain.FOLDED_SEEDS]
        volumes += [(DEV_MR_FOLDED_SET, f"mr-average-{s}", lambda s=s: folded_brain.average_brain_phantom(s))
                    for s in folded_brain.AVERAGE_SEEDS]
    else:
        volumes = [(DEV_MR_SET, f"mr-phantom-{s}", lambda s=s: mr_phantom.brain_phantom(s)) for s in mr_phantom.MR_DEV_SEEDS]
    cases: list[Case] = []
    for set_name, volume_name, make in volumes:
        image, labels, _ = make()
        cases += [Case(set_name, volume_name, name, image, ref, axis=2, preset="mr", spacing=MR_PHANTOM_SPACING)
                  for name, ref in mr_phantom.brain_labels(labels).items()]
    return cases


# --- MNI152 from nilearn -------------------------------------------------------------------------


def mni_cases(resolution: int = 2) -> list[Case]:
    """Brain, white matter (tissue probability > 0.5) and grey matter (> 0.5) of the MNI152 T1
    template at ``resolution`` mm; axial slices (axis 2)."""
    try:
        from nilearn import datasets
    except ImportError as exc:
        raise MedsegError(
            "the 'mni' set needs nilearn (it ships the MNI152 template); run: pip install 'napari-medseg[bench]'"
        ) from exc
    template = datasets.load_mni152_template(resolution=resolution)
    image = np.asarray(template.dataobj, dtype=np.float32)
    spacing = tuple(float(v) for v in template.header.get_zooms()[:3])
    brain = np.asarray(datasets.load_mni152_brain_mask(resolution=resolution).dataobj) > 0
    wm = np.asarray(datasets.load_mni152_wm_template(resolution=resolution).dataobj) > 0.5
    gm = np.asarray(datasets.load_mni152_gm_template(resolution=resolution).dataobj) > 0.5
    labels = {"brain": brain, "white matter": wm, "grey matter": gm}
    return [Case("mni", "mni152-t1", name, image, ref, axis=2, preset="mr", spacing=spacing) for name, ref in labels.items()]


def crop_case(case: Case, margin: int = 8, half_depth: int | None = None) -> Case:
    """The case cut to its reference's bounding box plus ``margin`` pixels in plane and, with
    ``half_depth``, to that many slices either side of its key slice (for smoke runs)."""
    ref = case.reference
    box = []
    key = case.key_slice()
    for axis in range(3):
        others = tuple(a for a in range(3) if a != axis)
        present = np.flatnonzero(ref.any(axis=others))
        if axis == case.axis:
            lo, hi = (0, ref.shape[axis]) if half_depth is None else (key - half_depth, key + half_depth + 1)
        else:
            lo, hi = present[0] - margin, present[-1] + margin + 1
        box.append(slice(max(int(lo), 0), min(int(hi), ref.shape[axis])))
    box_t = tuple(box)
    return Case(case.set_name, case.volume_name + "-crop", case.structure, np.ascontiguousarray(case.image[box_t]),
                np.ascontiguousarray(ref[box_t]), case.axis, case.preset, case.spacing)


def load_cases(set_name: str, quick: bool = False) -> list[Case]:
    """The cases of one set; ``quick`` gives a small subset for a smoke run."""
    if set_name == "sample":
        cases = sample_cases()
    elif set_name == "synthetic":
        cases = synthetic_cases((0,), (48, 48, 16)) if quick else synthetic_cases()
    elif set_name == "mni":
        cases = mni_cases(4 if quick else 2)
    elif set_name == "radiomics":
        from napari_medseg.evaluation.radiomics_set import radiomics_cases

        cases = radiomics_cases()
    elif set_name == "totalseg":
        from napari_medseg.evaluation.totalseg_set import totalseg_cases

        cases = totalseg_cases()
    elif set_name == DEV_SET:
        cases = dev_cases()
    elif set_name in (DEV_MR_SET, DEV_MR_FOLDED_SET):
        cases = dev_mr_cases(folded=set_name == DEV_MR_FOLDED_SET)
    else:
        raise MedsegError(f"unknown evaluation set '{set_name}'; choose from {', '.join((*SETS, *DEV_SETS))}")
    if quick:  # one structure, cut close, a few slices: a smoke run of seconds
        return [crop_case(cases[0], margin=6, half_depth=3)]
    return [crop_case(c, margin=CROP_MARGIN) for c in cases]
