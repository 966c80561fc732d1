"""Volumes on disk: NIfTI, zarr and NRRD in, labels out, every write atomic.

A :class:`Volume` is the array exactly as nibabel returns it (no reorientation: ``data[i, j, k]``),
its voxel-to-world affine, its voxel spacing and, for NIfTI, the header, so that written labels
carry the same affine and sform/qform codes as the image they annotate. Writes go to a temporary
file next to the target and are renamed onto it only once complete, so a crash or an error never
leaves a half-written label file in place of a good one.
"""

from __future__ import annotations

import gzip
import os
import shutil
import struct
import uuid
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import zarr
from nibabel.filebasedimages import ImageFileError

from napari_medseg.errors import VolumeReadError, VolumeWriteError

NIFTI_SUFFIXES = (".nii", ".nii.gz")
ZARR_SUFFIX = ".zarr"
NRRD_SUFFIX = ".nrrd"  # read only (core/nrrd.py): labels drawn on it are written as NIfTI or zarr
_READ_ERRORS = (OSError, EOFError, zlib.error, gzip.BadGzipFile, ImageFileError, ValueError, struct.error)


@dataclass
class Volume:
    """A 3D scalar image with its geometry; ``data`` may be a lazy ``zarr.Array``."""

    data: np.ndarray | zarr.Array
    affine: np.ndarray
    spacing: tuple[float, float, float]
    header: nib.Nifti1Header | None = None
    path: Path | None = None

    @classmethod
    def with_spacing(cls, data: np.ndarray, spacing: tuple[float, float, float]) -> Volume:
        """An array given only its voxel size (mm): the axis-aligned affine of that spacing."""
        spacing = tuple(float(v) for v in spacing)
        return cls(data=data, affine=np.diag([*spacing, 1.0]), spacing=spacing)  # type: ignore[arg-type]

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.data.shape)  # type: ignore[return-value]

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.data.dtype)


def volume_suffix(path: str | Path) -> str:
    """The volume suffix a file name ends in (``.nii.gz``, ``.nii``, ``.zarr``, ``.nrrd``, any case), or ""."""
    name = Path(path).name.lower()
    return next((s for s in (".nii.gz", *NIFTI_SUFFIXES, ZARR_SUFFIX, NRRD_SUFFIX) if name.endswith(s)), "")


def _is_nifti(path: Path) -> bool:
    return path.name.lower().endswith(NIFTI_SUFFIXES)


def _is_zarr(path: Path) -> bool:
    return path.name.lower().rstrip("/").endswith(ZARR_SUFFIX)


# --- atomic writes ------------------------------------------------------------------------------


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` (same suffixes); rename it onto ``path`` on success.

    The temporary name keeps the full file name at its end so that writers that choose a format
    from the extension (``.nii.gz``) behave as for ``path``. On any exception the temporary file or
    directory is removed and whatever was at ``path`` before is untouched. Directories (zarr stores)
    are swapped in with two renames; the old one is removed only after the new one is in place.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".tmp-{uuid.uuid4().hex[:12]}-{target.name}"
    try:
        yield tmp
        if not tmp.exists():
            raise VolumeWriteError(f"nothing was written for {target}; check the writer")
        if tmp.is_dir():
            old = target.parent / f".old-{uuid.uuid4().hex[:12]}-{target.name}"
            if target.exists():
                os.replace(target, old)
            try:
                os.replace(tmp, target)
            except OSError:
                if old.exists():
                    os.replace(old, target)
                raise
            _remove(old)
        else:
            os.replace(tmp, target)
    except BaseException:
        _remove(tmp)
        raise


# --- reading ------------------------------------------------------------------------------------


def read_volume(path: str | Path) -> Volume:
    """Read a 3D scalar volume from ``.nii``, ``.nii.gz``, ``.nrrd`` or a ``.zarr`` directory.

    A 2D image becomes a one-slice volume ``(X, Y, 1)`` and a 4D file holding a single volume is
    squeezed; anything else that is not one scalar 3D volume raises :class:`VolumeReadError`.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise VolumeReadError(f"file not found: {p}")
    if _is_zarr(p):
        return read_zarr(p)
    if p.name.lower().endswith(NRRD_SUFFIX):
        from napari_medseg.core.nrrd import read_nrrd

        return read_nrrd(p)
    if not _is_nifti(p):
        raise VolumeReadError(f"{p.name} is not a NIfTI (.nii, .nii.gz), .nrrd or .zarr volume; convert it to NIfTI")
    try:
        img = nib.load(str(p))
        if not isinstance(img, nib.Nifti1Image | nib.Nifti2Image):
            raise VolumeReadError(f"{p.name} is not a NIfTI-1/2 image ({type(img).__name__})")
        _refuse_empty(img.shape, p.name)  # (nibabel reads such a file as shape (0,))
        data = np.asanyarray(img.dataobj)  # nibabel is lazy: force the read here to catch corruption
    except VolumeReadError:
        raise
    except _READ_ERRORS as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise VolumeReadError(f"cannot read {p.name}: the file is corrupt or truncated ({detail})") from exc
    data = _as_scalar_3d(data, p.name)
    header = img.header.copy()
    zooms = [float(z) for z in header.get_zooms()[:3]]
    zooms += [1.0] * (3 - len(zooms))
    spacing = tuple(z if z > 0 else 1.0 for z in zooms)
    return Volume(
        data=data, affine=np.asarray(img.affine, dtype=np.float64), spacing=spacing, header=header, path=p
    )


def _refuse_empty(shape: tuple[int, ...], name: str) -> None:
    if 0 in tuple(shape):
        raise VolumeReadError(f"{name} holds no voxels (shape {tuple(shape)}); give a volume of at least one voxel")


def _as_scalar_3d(data: np.ndarray, name: str) -> np.ndarray:
    if data.dtype.fields is not None or not (
        np.issubdtype(data.dtype, np.integer)
        or np.issubdtype(data.dtype, np.floating)
        or data.dtype == np.bool_
    ):
        raise VolumeReadError(
            f"{name} holds {data.dtype} voxels (RGB/vector/complex), shape {data.shape}; "
            "give a scalar grey-value volume"
        )
    if data.ndim == 2:
        return data[:, :, np.newaxis]
    if data.ndim == 4 and data.shape[3] == 1:
        return data[:, :, :, 0]
    if data.ndim != 3:
        raise VolumeReadError(
            f"{name} has shape {data.shape} ({data.ndim}D); give a single 3D volume (split 4D series first)"
        )
    return data


def read_zarr(path: str | Path) -> Volume:
    """Open a zarr array lazily: ours (affine in attrs, identity if absent) or an OME-Zarr image.

    For OME-Zarr (a group with ``multiscales``) the full-resolution level is used and its ``scale``
    and ``translation`` become a diagonal affine; the array must be 3D (no time or channel axis).
    """
    p = Path(path).expanduser()
    try:
        node = zarr.open(store=str(p), mode="r")
    except Exception as exc:  # zarr raises several unrelated types for "nothing readable here"
        raise VolumeReadError(
            f"cannot open {p.name} as zarr ({type(exc).__name__}); write it with write_zarr"
        ) from exc
    if isinstance(node, zarr.Array):
        arr, affine = node, _affine_attr(dict(node.attrs), p.name)
    else:
        arr, affine = _ome_level0(node, p.name)
    shape = tuple(arr.shape)
    if len(shape) != 3 or arr.dtype.fields is not None:
        raise VolumeReadError(
            f"{p.name} has shape {shape} and dtype {arr.dtype}; give a 3D scalar zarr array"
        )
    _refuse_empty(shape, p.name)
    spacing = dict(arr.attrs).get("spacing")
    if spacing is None:
        spacing = np.linalg.norm(affine[:3, :3], axis=0)
    return Volume(data=arr, affine=affine, spacing=tuple(float(s) for s in spacing), header=None, path=p)


def _affine_attr(attrs: dict, name: str) -> np.ndarray:
    affine = np.asarray(attrs.get("affine", np.eye(4)), dtype=np.float64)
    if affine.shape != (4, 4) or not np.all(np.isfinite(affine)):
        raise VolumeReadError(
            f"{name} has a malformed 'affine' attribute (shape {affine.shape}); expected 4x4"
        )
    return affine


def _ome_level0(group: zarr.Group, name: str) -> tuple[zarr.Array, np.ndarray]:
    """The first (full-resolution) array of an OME-Zarr group and its scale/translation as an affine."""
    attrs = dict(group.attrs)
    multiscales = attrs.get("multiscales") or attrs.get("ome", {}).get("multiscales")
    try:
        dataset = multiscales[0]["datasets"][0]
        arr = group[dataset["path"]]
    except (TypeError, KeyError, IndexError) as exc:
        raise VolumeReadError(
            f"{name} is a zarr group but not an OME-Zarr image (no readable 'multiscales'); give a 3D zarr array"
        ) from exc
    if not isinstance(arr, zarr.Array):
        raise VolumeReadError(f"{name}: multiscales path {dataset['path']!r} is not an array")
    affine = np.eye(4)
    for transform in dataset.get("coordinateTransformations", []):
        values = transform.get(transform.get("type", ""), None)
        if transform.get("type") == "scale" and values is not None:
            affine[[0, 1, 2], [0, 1, 2]] = np.asarray(values, dtype=np.float64)[-3:]
        elif transform.get("type") == "translation" and values is not None:
            affine[:3, 3] = np.asarray(values, dtype=np.float64)[-3:]
    return arr, affine


# --- writing ------------------------------------------------------------------------------------


def smallest_label_dtype(labels: np.ndarray) -> np.dtype:
    """The smallest NIfTI integer dtype holding every label; negative or fractional labels are an error."""
    labels = np.asarray(labels)
    if labels.dtype == np.bool_:
        return np.dtype(np.uint8)
    if labels.size == 0:
        return np.dtype(np.uint8)
    if not np.issubdtype(labels.dtype, np.integer):
        if not np.issubdtype(labels.dtype, np.floating) or not np.all(np.mod(labels, 1) == 0):
            raise VolumeWriteError(f"labels must be whole numbers, got {labels.dtype} with fractional values")
    lo, hi = labels.min(), labels.max()
    if lo < 0:
        raise VolumeWriteError(f"labels must be >= 0, found {int(lo)}; use 0 for background and positive ids")
    for dt in (np.uint8, np.uint16, np.int32):
        if hi <= np.iinfo(dt).max:
            return np.dtype(dt)
    raise VolumeWriteError(f"label id {int(hi)} does not fit in int32; renumber the labels")


def write_labels(path: str | Path, labels: np.ndarray, reference: Volume | None = None) -> Path:
    """Write integer labels as NIfTI (or ``.zarr``) with the reference's geometry, atomically."""
    target = Path(path).expanduser()
    labels = np.asarray(labels)
    if labels.ndim != 3:
        raise VolumeWriteError(f"labels must be 3D, got shape {labels.shape}")
    if reference is not None and labels.shape != reference.shape:
        raise VolumeWriteError(
            f"labels shape {labels.shape} does not match the image shape {reference.shape}; "
            "labels must cover the image voxel for voxel"
        )
    dtype = smallest_label_dtype(labels)
    affine = np.eye(4) if reference is None else np.asarray(reference.affine, dtype=np.float64)
    if _is_zarr(target):
        return write_zarr(target, labels.astype(dtype, copy=False), affine=affine)
    if not _is_nifti(target):
        raise VolumeWriteError(
            f"{target.name}: labels are written as .nii, .nii.gz or .zarr; change the extension"
        )
    img = nib.Nifti1Image(labels.astype(dtype, copy=False), affine)
    if reference is not None and reference.header is not None:
        hdr = reference.header
        sform, scode = hdr.get_sform(coded=True)
        qform, qcode = hdr.get_qform(coded=True)
        img.set_sform(affine if sform is None else sform, code=int(scode))
        img.set_qform(affine if qform is None else qform, code=int(qcode))
        img.header.set_xyzt_units(*hdr.get_xyzt_units())
    img.header.set_data_dtype(dtype)
    img.header.set_slope_inter(1.0, 0.0)
    try:
        with atomic_path(target) as tmp:
            nib.save(img, str(tmp))
    except OSError as exc:
        raise VolumeWriteError(
            f"cannot write {target}: {exc.strerror or exc}; check the folder and free space"
        ) from exc
    return target


def _default_chunks(shape: tuple[int, ...]) -> tuple[int, ...]:
    """One chunk per slice along the last axis, in-plane tiles of at most 256x256."""
    return tuple(min(int(s), 256) for s in shape[:-1]) + (1,)


def write_zarr(
    path: str | Path,
    data: np.ndarray,
    affine: np.ndarray | None = None,
    chunks: tuple[int, ...] | None = None,
) -> Path:
    """Write a 3D array as a chunked zarr v3 array with ``affine`` and ``spacing`` attrs, atomically."""
    target = Path(path).expanduser()
    shape = tuple(int(s) for s in data.shape)
    if len(shape) != 3:
        raise VolumeWriteError(f"a zarr volume must be 3D, got shape {shape}")
    aff = np.eye(4) if affine is None else np.asarray(affine, dtype=np.float64)
    if aff.shape != (4, 4):
        raise VolumeWriteError(f"affine must be 4x4, got {aff.shape}")
    chunks = tuple(chunks) if chunks is not None else _default_chunks(shape)
    try:
        with atomic_path(target) as tmp:
            arr = zarr.create_array(store=str(tmp), shape=shape, chunks=chunks, dtype=np.dtype(data.dtype))
            for k in range(0, shape[2], chunks[2]):  # slab by slab: a zarr source is never loaded whole
                arr[:, :, k : k + chunks[2]] = np.asarray(data[:, :, k : k + chunks[2]])
            arr.attrs.update(
                {"affine": aff.tolist(), "spacing": [float(s) for s in np.linalg.norm(aff[:3, :3], axis=0)]}
            )
    except OSError as exc:
        raise VolumeWriteError(
            f"cannot write {target}: {exc.strerror or exc}; check the folder and free space"
        ) from exc
    return target


# --- napari geometry ----------------------------------------------------------------------------


def napari_scale_translate(
    affine: np.ndarray, tol: float = 1e-4
) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """The ``scale`` and ``translate`` napari needs to show voxels at their physical size.

    ``scale`` is the length of each voxel axis (column norms, always positive) and ``translate`` the
    world position of voxel (0, 0, 0). Flips are deliberately not applied: napari shows the array in
    voxel order, like nibabel returns it, and image and label layers given the same transform stay
    aligned; a negative scale would only mirror the display. Rotations and shears cannot be shown by
    scale/translate: for such an oblique (or axis-permuted) affine a one-line ``UserWarning`` is
    issued and the same column norms and translation are returned.
    """
    a = np.asarray(affine, dtype=np.float64)
    if a.shape != (4, 4):
        raise VolumeReadError(f"affine must be 4x4, got shape {a.shape}")
    linear = a[:3, :3]
    scale = np.linalg.norm(linear, axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    off_diagonal = linear - np.diag(np.diag(linear))
    if np.any(np.abs(off_diagonal) > tol * scale[np.newaxis, :]):
        warnings.warn(
            "the image affine is oblique (rotated, sheared or axis-permuted); napari shows it "
            "axis-aligned at the correct voxel size, world coordinates are approximate",
            UserWarning,
            stacklevel=2,
        )
    return tuple(float(s) for s in scale), tuple(float(t) for t in a[:3, 3])  # type: ignore[return-value]
