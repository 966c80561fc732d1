"""Shared fixtures: small synthetic CT-like volumes and NIfTI files written to a temporary folder."""

from __future__ import annotations

import bz2
import gzip
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest


def ras_affine(spacing=(0.8, 0.8, 2.5), origin=(120.0, 95.0, -40.0)) -> np.ndarray:
    """A typical scanner affine: x and y flipped (LPS data shown in RAS), an origin offset."""
    affine = np.diag([-spacing[0], -spacing[1], spacing[2], 1.0])
    affine[:3, 3] = origin
    return affine


@pytest.fixture
def scanner_affine():
    """The :func:`ras_affine` builder, for tests that need a realistic affine."""
    return ras_affine


@pytest.fixture
def small_ct() -> np.ndarray:
    """A (32, 28, 6) int16 volume in HU: air around a body disc holding a brighter blob."""
    rng = np.random.default_rng(0)
    x, y = np.mgrid[:32, :28]
    body = (x - 16) ** 2 / 14**2 + (y - 14) ** 2 / 12**2 < 1
    blob = (x - 14) ** 2 + (y - 12) ** 2 < 25
    vol = np.full((32, 28, 6), -1000.0)
    vol[body] = 40.0
    vol[blob] = 180.0
    vol += rng.normal(0, 10, vol.shape)
    return vol.round().astype(np.int16)


@pytest.fixture
def small_labels(small_ct: np.ndarray) -> np.ndarray:
    labels = np.zeros(small_ct.shape, dtype=np.uint8)
    labels[small_ct > 100] = 1
    return labels


@pytest.fixture
def nifti_path(tmp_path: Path, small_ct: np.ndarray) -> Path:
    """``small_ct`` saved as .nii.gz with a flipped, offset affine, sform code 4 and qform code 1."""
    affine = ras_affine()
    img = nib.Nifti1Image(small_ct, affine)
    img.set_sform(affine, code=4)
    img.set_qform(affine, code=1)
    img.header.set_xyzt_units("mm", "sec")
    path = tmp_path / "ct.nii.gz"
    nib.save(img, str(path))
    return path


# --- NRRD files (core/nrrd.py) ---------------------------------------------------------------

LPS_HEADER = {
    "space": "left-posterior-superior",
    "space directions": "(0.5,0,0) (0, -0.75, 0) (0,0,3)",
    "space origin": "(-10.0,20.0,-30.0)",
    "kinds": "domain domain domain",
}


def _write_nrrd(path: Path, data: np.ndarray, fields: dict[str, str], encoding: str = "gzip",
               type_name: str | None = None, endian: str = "little") -> Path:
    """An NRRD file with attached data, written the way Slicer writes one (first axis fastest)."""
    type_name = type_name or {"int16": "short", "int32": "int", "uint8": "uchar", "float32": "float",
                              "float64": "double"}[data.dtype.name]
    raw = np.asarray(data, dtype=data.dtype.newbyteorder("<" if endian == "little" else ">")).transpose().tobytes()
    body = {"gzip": gzip.compress, "bzip2": bz2.compress, "raw": lambda b: b}[encoding](raw)
    head = ["NRRD0004", "# written by a test", f"type: {type_name}", f"dimension: {data.ndim}",
            f"sizes: {' '.join(str(s) for s in data.shape)}", f"endian: {endian}", f"encoding: {encoding}"]
    head += [f"{key}: {value}" for key, value in fields.items()]
    path.write_bytes(("\n".join(head) + "\n\n").encode() + body)
    return path


@pytest.fixture
def write_nrrd():
    """The NRRD file writer above (``write_nrrd(path, data, fields, encoding=..., endian=...)``)."""
    return _write_nrrd


@pytest.fixture
def lps_header() -> dict[str, str]:
    """The geometry fields of a Slicer-written NRRD in LPS."""
    return dict(LPS_HEADER)
