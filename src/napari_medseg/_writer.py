"""napari writers: a Labels layer (or an Image layer) to NIfTI with its source image's affine.

The affine is looked up in this order, so labels always land on the voxels they were drawn on:
the layer's ``metadata["affine"]`` (our reader and widget put it there); the affine of an open Image
layer of the same shape and scale that carries one; the layer's own ``scale`` and ``translate``.
Writes are atomic: a failed write leaves the previous file at that path untouched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from napari_medseg.core.label_names import write_label_names
from napari_medseg.core.volume_io import Volume, atomic_path
from napari_medseg.core.volume_io import write_labels as write_labels_file
from napari_medseg.errors import VolumeWriteError


def write_labels(path: str, data: Any, attributes: dict[str, Any]) -> list[str]:
    """npe2 single-layer writer for Labels layers: NIfTI (or .zarr), smallest integer dtype."""
    labels = np.asarray(data)
    _check_3d(labels, attributes)
    reference = reference_volume(labels.shape, attributes)
    out = write_labels_file(path, labels, reference=reference)
    names = (attributes.get("metadata") or {}).get("label_names") or {}
    sidecar = write_label_names(out, names)  # the panel's label names, beside the file
    return [str(out)] + ([str(sidecar)] if sidecar is not None else [])


def write_image(path: str, data: Any, attributes: dict[str, Any]) -> list[str]:
    """npe2 single-layer writer for Image layers: NIfTI in the layer's dtype."""
    image = np.asarray(data)
    _check_3d(image, attributes)
    target = Path(path)
    if not target.name.lower().endswith((".nii", ".nii.gz")):
        raise VolumeWriteError(f"cannot write an image to '{target.name}'; use a .nii or .nii.gz name")
    reference = reference_volume(image.shape, attributes)
    header = reference.header.copy() if reference.header is not None else None
    img = nib.Nifti1Image(image, reference.affine, header=header)
    img.set_data_dtype(image.dtype)
    try:
        with atomic_path(target) as tmp:
            nib.save(img, str(tmp))
    except OSError as exc:
        raise VolumeWriteError(
            f"cannot write {target}: {exc.strerror or exc}; check the folder and free space"
        ) from exc
    return [str(target)]


def reference_volume(shape: tuple[int, ...], attributes: dict[str, Any]) -> Volume:
    """The geometry (affine, header) the layer was drawn on, as a Volume whose data take no memory."""
    metadata = attributes.get("metadata") or {}
    affine = metadata.get("affine")
    header = None
    if affine is None:
        affine = _affine_of_matching_image(shape, attributes)
    if affine is None:
        affine = affine_from_scale_translate(attributes.get("scale"), attributes.get("translate"))
    source = metadata.get("medseg_source")
    if source and str(source).lower().endswith((".nii", ".nii.gz")) and Path(source).is_file():
        try:
            header = nib.load(str(source)).header
        except Exception:  # a moved or changed source only loses its header codes, not the write
            header = None
    affine = np.asarray(affine, dtype=np.float64)
    spacing = tuple(float(s) for s in np.linalg.norm(affine[:3, :3], axis=0))
    placeholder = np.broadcast_to(np.zeros((), dtype=np.uint8), tuple(int(s) for s in shape))
    return Volume(data=placeholder, affine=affine, spacing=spacing, header=header)


def affine_from_scale_translate(scale: Any, translate: Any) -> np.ndarray:
    """A diagonal voxel-to-world affine from napari's per-axis scale and translate."""
    affine = np.eye(4)
    if scale is not None:
        affine[[0, 1, 2], [0, 1, 2]] = np.asarray(scale, dtype=float)[-3:]
    if translate is not None:
        affine[:3, 3] = np.asarray(translate, dtype=float)[-3:]
    return affine


def _affine_of_matching_image(shape: tuple[int, ...], attributes: dict[str, Any]) -> np.ndarray | None:
    import napari

    viewer = napari.current_viewer()
    if viewer is None:
        return None
    scale = np.asarray(attributes.get("scale", (1.0, 1.0, 1.0)), dtype=float)
    for layer in viewer.layers:
        affine = getattr(layer, "metadata", {}).get("affine")
        if (
            affine is not None
            and isinstance(layer, napari.layers.Image)
            and tuple(layer.data.shape) == tuple(shape)
            and np.allclose(np.asarray(layer.scale, dtype=float), scale)
        ):
            return np.asarray(affine, dtype=np.float64)
    return None


def _check_3d(data: np.ndarray, attributes: dict[str, Any]) -> None:
    if data.ndim != 3:
        name = attributes.get("name", "layer")
        raise VolumeWriteError(
            f"layer '{name}' has {data.ndim} dimensions; NIfTI export needs a 3D volume (i, j, k)"
        )
