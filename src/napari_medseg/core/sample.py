"""The bundled sample: a CT-like abdominal phantom with reference labels.

EVALUATION DATA ONLY. The built-in model's training must never use this phantom, its generator or
anything derived from them (not even with another seed): the sample is how we measure, on data the
model has not seen, what a user gets on first launch. ``training/`` has its own synthetic data.

The phantom is generated, not scanned, so it can ship under the project's licence and be rebuilt
bit for bit: ``python -m napari_medseg.core.sample --write`` regenerates ``data/`` from
:func:`generate_phantom`. It imitates a contrast-enhanced abdominal CT at 0.9 x 0.9 x 3 mm: a body
with skin/fat and a muscle wall, bowel with gas, a lobed liver (with a low-contrast lesion), the
spleen, both kidneys (cortex, medulla, a fatty hilum), the aorta and the vena cava, and the spine
(cortical ring, cancellous bone, discs, the canal and the posterior arch). Organ shapes are smooth
superellipsoids bent by smooth random displacement fields, so outlines change from slice to slice.
It is generated at 1 mm along z and averaged down to 3 mm (partial volume), blurred in plane, given
a mild bias field and correlated noise (sigma about 17 HU).
"""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

from napari_medseg.core.volume_io import Volume, atomic_path, read_volume

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
IMAGE_FILE = "sample_ct.nii.gz"
LABELS_FILE = "sample_ct_labels.nii.gz"
NAMES_FILE = "labels.json"
DEFAULT_SEED = 20261122

SHAPE = (192, 160, 48)
SPACING = (0.9, 0.9, 3.0)
SUPERSAMPLE_Z = 3  # generated at 1 mm along z, averaged to 3 mm
LABEL_NAMES = {
    1: "liver",
    2: "spleen",
    3: "right kidney",
    4: "left kidney",
    5: "aorta",
    6: "vertebrae",
    7: "liver lesion",
}


def sample_affine() -> np.ndarray:
    """Voxel -> RAS mm: i runs to the patient's right (the liver's side: ``generate_phantom`` draws it
    at high i), j to the back (y flipped, as scanners store it), k up; an offset origin. (Before
    2026-12-06 x was flipped too, which put the liver on the patient's left in every viewer.)"""
    affine = np.diag([SPACING[0], -SPACING[1], SPACING[2], 1.0])
    affine[:3, 3] = (-86.4, 61.2, -412.5)
    return affine


class _Grid:
    """Millimetre coordinates of the fine grid, centred in plane: u to the patient's right, v posterior, w up."""

    def __init__(self) -> None:
        nz = SHAPE[2] * SUPERSAMPLE_Z
        dz = SPACING[2] / SUPERSAMPLE_Z
        self.shape = (SHAPE[0], SHAPE[1], nz)
        self.u = (np.arange(SHAPE[0]) - (SHAPE[0] - 1) / 2) * SPACING[0]
        self.v = (np.arange(SHAPE[1]) - (SHAPE[1] - 1) / 2) * SPACING[1]
        self.w = (np.arange(nz) + 0.5) * dz

    def box(self, center, radius) -> tuple[slice, slice, slice]:
        """Index slices of the fine grid covering ``center +- radius`` (mm)."""
        out = []
        for axis, c, r in zip((self.u, self.v, self.w), center, radius, strict=True):
            lo = int(np.searchsorted(axis, c - r))
            hi = int(np.searchsorted(axis, c + r))
            out.append(slice(max(lo, 0), min(max(hi, lo + 1), len(axis))))
        return tuple(out)  # type: ignore[return-value]

    def coords(self, box) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.u[box[0]][:, None, None], self.v[box[1]][None, :, None], self.w[box[2]][None, None, :]


def _displacement(rng: np.random.Generator, u, v, w, amplitude: float, wavelength: float, terms: int = 3):
    """A smooth random displacement (mm) as a sum of plane waves of long wavelength."""
    out = []
    for _ in range(3):
        d = 0.0
        for _ in range(terms):
            direction = rng.normal(size=3)
            direction /= np.linalg.norm(direction)
            k = 2 * np.pi / (wavelength * rng.uniform(0.7, 1.3))
            phase = rng.uniform(0, 2 * np.pi)
            d = d + np.sin(k * (direction[0] * u + direction[1] * v + direction[2] * w) + phase)
        out.append(d * amplitude / np.sqrt(terms))
    return out


def _superellipsoid(grid, rng, center, semi, power=2.0, amplitude=3.0, wavelength=60.0, tilt=0.0):
    """Boolean mask (its bounding box and the box) of a bent superellipsoid; ``tilt`` rotates in plane (rad)."""
    reach = [s + 2.5 * amplitude for s in semi]
    box = grid.box(center, reach)
    u, v, w = grid.coords(box)
    du, dv, dw = _displacement(rng, u, v, w, amplitude, wavelength)
    uu, vv, ww = u + du - center[0], v + dv - center[1], w + dw - center[2]
    cu, su = np.cos(tilt), np.sin(tilt)
    ru, rv = cu * uu + su * vv, -su * uu + cu * vv
    f = np.abs(ru / semi[0]) ** power + np.abs(rv / semi[1]) ** power + np.abs(ww / semi[2]) ** power
    return f < 1.0, box


def _smooth_noise(rng, shape, sigma, scale=1.0) -> np.ndarray:
    """Gaussian-filtered white noise, normalised to unit standard deviation times ``scale``."""
    n = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma)
    return n * (scale / max(float(n.std()), 1e-6))


def _paint(hu, labels, mask, box, value, label=None, texture=None):
    region = hu[box]
    region[mask] = value if texture is None else value + texture[box][mask]
    if label is not None:
        labels[box][mask] = label


def generate_phantom(seed: int = DEFAULT_SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[int, str]]:
    """Build the phantom: (image int16 HU, labels uint8, affine 4x4, {label id: name}).

    Deterministic for a given seed. Never use it (or its output) to train the built-in model.
    """
    rng = np.random.default_rng(seed)
    g = _Grid()
    hu = np.full(g.shape, -1000.0, dtype=np.float32)
    labels = np.zeros(g.shape, dtype=np.uint8)
    texture = _smooth_noise(rng, g.shape, sigma=(2.0, 2.0, 2.0), scale=6.0)
    full = (slice(None),) * 3
    u, v, w = g.coords(full)

    # body: skin and fat, muscle wall, abdominal cavity (fat with bowel loops and gas)
    du, dv, _ = _displacement(rng, u, v, w, amplitude=3.0, wavelength=120.0)
    bu, bv = u + du, v + dv - 3.0
    a = 78.0 + 2.0 * np.sin(w / 40.0)
    b = 60.0 + 1.5 * np.cos(w / 55.0)

    def inside(shrink: float) -> np.ndarray:
        return np.abs(bu / (a - shrink)) ** 2.4 + np.abs(bv / (b - shrink)) ** 2.4 < 1.0

    body, wall, cavity = inside(0.0), inside(11.0), inside(19.0)
    hu[body] = -95.0 + texture[body]
    hu[wall & ~cavity] = 48.0 + texture[wall & ~cavity]
    bowel_field = _smooth_noise(rng, g.shape, sigma=(5.0, 5.0, 5.0))
    gas_field = _smooth_noise(rng, g.shape, sigma=(3.0, 3.0, 3.0))
    bowel = cavity & (bowel_field > 0.2)
    hu[cavity] = -85.0 + texture[cavity]
    hu[bowel] = 25.0 + 1.5 * texture[bowel]
    hu[bowel & (gas_field > 1.3)] = -750.0
    hu[cavity & (np.abs(bowel_field - 0.2) < 0.06)] = 5.0  # bowel wall / mesentery

    # liver: a large right lobe and a left lobe reaching across the midline in the upper slices
    right, rbox = _superellipsoid(g, rng, (34.0, -6.0, 104.0), (36.0, 40.0, 48.0), 2.2, 4.0, 70.0, 0.15)
    left, lbox = _superellipsoid(g, rng, (-6.0, -24.0, 118.0), (32.0, 20.0, 26.0), 2.0, 3.0, 50.0, -0.3)
    _paint(hu, labels, right, rbox, 62.0, 1, texture)
    _paint(hu, labels, left, lbox, 62.0, 1, texture)
    lesion, sbox = _superellipsoid(g, rng, (44.0, -14.0, 100.0), (9.0, 8.0, 10.0), 2.0, 1.5, 20.0)
    lesion &= labels[sbox] == 1
    _paint(hu, labels, lesion, sbox, 32.0, 7, texture)

    spleen, box = _superellipsoid(g, rng, (-52.0, 14.0, 104.0), (13.0, 27.0, 36.0), 2.0, 3.0, 50.0, 0.5)
    _paint(hu, labels, spleen, box, 50.0, 2, texture)

    # kidneys: cortex, medulla, and renal-sinus fat opening medially (the hilum), not labelled
    for label, side, top in ((3, 1.0, 46.0), (4, -1.0, 56.0)):
        center = (side * 38.0, 22.0, top)
        outer, box = _superellipsoid(g, rng, center, (16.0, 21.0, 40.0), 2.0, 2.0, 40.0, side * 0.35)
        ku, kv, kw = g.coords(box)
        r = np.sqrt(
            ((ku - center[0]) / 16.0) ** 2 + ((kv - center[1]) / 21.0) ** 2 + ((kw - top) / 40.0) ** 2
        )
        hu_c = center[0] - side * 12.0  # the sinus opens on the medial border
        sinus = ((ku - hu_c) / 11.0) ** 2 + ((kv - center[1]) / 7.0) ** 2 + ((kw - top) / 17.0) ** 2 < 1.0
        hilum = outer & sinus
        medulla = outer & ~hilum & (r < 0.68)
        _paint(hu, labels, outer & ~hilum, box, 155.0, label, texture)
        _paint(hu, labels, medulla, box, 105.0, None, texture)
        _paint(hu, labels, hilum, box, -60.0, 0, texture)

    # vessels: the aorta and the vena cava, tubes through every slice
    au = -6.0 + 3.0 * np.sin(w / 50.0)
    av = 11.0 + 2.0 * np.cos(w / 40.0)
    aorta = (u - au) ** 2 + (v - av) ** 2 < (9.0 + 0.6 * np.sin(w / 30.0)) ** 2
    hu[aorta] = 205.0 + texture[aorta]
    labels[aorta] = 5
    ivc = ((u - 15.0 - 2.0 * np.sin(w / 45.0)) / 9.0) ** 2 + ((v - 12.0) / 6.5) ** 2 < 1.0
    hu[ivc & ~aorta] = 115.0 + texture[ivc & ~aorta]
    labels[ivc & (labels != 5)] = 0

    # spine: vertebral bodies with a cortical ring, discs, canal, posterior arch; paraspinal muscle
    for side in (-1.0, 1.0):
        muscle = (((u - side * 21.0) / 13.0) ** 2 + ((v - 47.0) / 9.0) ** 2 < 1.0) & wall
        hu[muscle] = 52.0 + texture[muscle]
        labels[muscle] = 0
    period, disc_height = 33.0, 7.0
    disc = ((w - 9.0) % period) < disc_height
    body_r = np.sqrt(((u - 0.0) / 15.0) ** 2 + ((v - 30.0) / 12.0) ** 2)
    vert = (body_r < 1.0) & ~disc
    cancellous = (body_r < 0.8) & ~disc
    hu[(body_r < 1.0) & disc] = 85.0 + texture[(body_r < 1.0) & disc]
    labels[(body_r < 1.0) & disc] = 0
    hu[vert] = 650.0 + 3.0 * texture[vert]
    hu[cancellous] = 280.0 + 4.0 * texture[cancellous]
    canal_r = np.sqrt(u**2 + (v - 47.0) ** 2)
    arch = (canal_r < 10.0) & (canal_r >= 6.0) & (v > 41.0) & ~disc
    spinous = (np.abs(u) < 3.5) & (v >= 55.0) & (v < 62.0) & ~disc & wall
    bone = vert | arch | spinous
    hu[arch | spinous] = 520.0 + 3.0 * texture[arch | spinous]
    canal = np.broadcast_to(canal_r < 6.0, g.shape)
    hu[canal] = 12.0
    labels[canal] = 0
    labels[bone] = 6

    # acquisition: partial volume along z, in-plane blur, a mild bias field, correlated noise
    hu = hu.reshape(SHAPE[0], SHAPE[1], SHAPE[2], SUPERSAMPLE_Z).mean(axis=3)
    out_labels = labels[:, :, SUPERSAMPLE_Z // 2 :: SUPERSAMPLE_Z].copy()
    hu = ndimage.gaussian_filter(hu, sigma=(0.7, 0.7, 0.0))
    bias = _smooth_noise(rng, SHAPE, sigma=(40.0, 40.0, 12.0), scale=8.0)
    body_final = hu > -500.0
    hu[body_final] += bias[body_final]
    hu += _smooth_noise(rng, SHAPE, sigma=(0.6, 0.6, 0.0), scale=17.0)
    image = np.clip(np.round(hu), -1024, 3071).astype(np.int16)
    return image, out_labels, sample_affine(), dict(LABEL_NAMES)


def _nifti(data: np.ndarray, affine: np.ndarray, description: str) -> nib.Nifti1Image:
    img = nib.Nifti1Image(data, affine)
    img.set_sform(affine, code=1)
    img.set_qform(affine, code=1)
    img.header.set_xyzt_units("mm", "sec")
    img.header["descrip"] = description.encode()[:79]
    return img


def write_sample(directory: str | Path = DATA_DIR, seed: int = DEFAULT_SEED) -> list[Path]:
    """Regenerate the bundled files (image, labels, names) into ``directory``, atomically each."""
    out = Path(directory)
    image, labels, affine, names = generate_phantom(seed)
    written = []
    for name, data, text in (
        (IMAGE_FILE, image, f"napari-medseg CT phantom seed {seed}; evaluation only"),
        (LABELS_FILE, labels, f"napari-medseg CT phantom labels seed {seed}"),
    ):
        with atomic_path(out / name) as tmp:
            nib.save(_nifti(data, affine, text), str(tmp))
        written.append(out / name)
    with atomic_path(out / NAMES_FILE) as tmp:
        tmp.write_text(json.dumps({str(k): v for k, v in names.items()}, indent=2) + "\n")
    written.append(out / NAMES_FILE)
    return written


def load_sample() -> tuple[Volume, np.ndarray, dict[int, str]]:
    """The bundled phantom: image (int16 HU, with its affine), reference labels, {label id: name}.

    Evaluation data: never train the built-in model on it.
    """
    image = read_volume(DATA_DIR / IMAGE_FILE)
    labels = np.asarray(read_volume(DATA_DIR / LABELS_FILE).data)
    names = {int(k): str(v) for k, v in json.loads((DATA_DIR / NAMES_FILE).read_text()).items()}
    return image, labels, names


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Regenerate the bundled CT phantom (evaluation data).")
    parser.add_argument("--write", action="store_true", help="write data/ files")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args()
    if args.write:
        for path in write_sample(seed=args.seed):
            print(path, path.stat().st_size)
    else:
        img, lab, _, nm = generate_phantom(args.seed)
        for k, name in nm.items():
            sel = lab == k
            print(f"{name:14s} voxels {int(sel.sum()):7d} HU {img[sel].mean():7.1f} +- {img[sel].std():5.1f}")
