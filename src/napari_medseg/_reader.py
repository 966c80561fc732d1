"""napari reader for NIfTI (.nii, .nii.gz), NRRD (.nrrd, 3D Slicer's format) and our zarr volumes (.zarr directories).

Voxel spacing and origin come from the affine (``scale`` and ``translate``); the full affine is kept in
``layer.metadata["affine"]`` so that labels drawn on the image are written back with exactly the same
geometry. A file opens as an Image layer, except one whose name ends in ``_labels``, ``_label``, ``_seg``
or ``_mask`` (before the extension) and whose data are integers: that one opens as a Labels layer. The
rule depends only on the name and the dtype, so the same file always opens the same way.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from napari_medseg.core.label_names import read_label_names
from napari_medseg.core.volume_io import Volume, napari_scale_translate, read_volume, volume_suffix

LayerData = tuple[Any, dict[str, Any], str]
ReaderFunction = Callable[[str | Sequence[str]], list[LayerData]]

LABEL_NAME_ENDINGS = ("_labels", "_label", "_seg", "_mask")
# A CT is displayed in the abdomen window (level 40, width 400 HU) when it looks like one.
CT_ABDOMEN_LIMITS = (-160.0, 240.0)


def napari_get_reader(path: str | Sequence[str]) -> ReaderFunction | None:
    """Our reader if every path is a NIfTI or NRRD file or a .zarr directory, else None (napari tries others)."""
    paths = _as_paths(path)
    if not paths or not all(volume_suffix(p) for p in paths):
        return None
    return read_layers


def read_layers(path: str | Sequence[str]) -> list[LayerData]:
    """One layer per path (see the module docstring for image vs labels)."""
    return [layer_data(p) for p in _as_paths(path)]


def layer_data(path: str | Path) -> LayerData:
    """The napari layer tuple of one volume file."""
    path = Path(path)
    volume = read_volume(path)
    stem = path.name[: -len(volume_suffix(path))]
    kind = "labels" if is_labels_file(path, volume.data.dtype) else "image"
    data, kwargs, kind = volume_layer_data(volume, stem, kind, source=path)
    names = read_label_names(path) if kind == "labels" else {}
    if names:  # saved by the panel beside the file: napari names the label under the cursor
        kwargs["metadata"]["label_names"] = names
        kwargs["features"] = label_features(names)
    return data, kwargs, kind


def volume_layer_data(volume: Volume, name: str, kind: str, source: str | Path | None = None) -> LayerData:
    """A Volume as a napari layer tuple with scale, translate and the affine in its metadata."""
    scale, translate = napari_scale_translate(volume.affine)
    metadata: dict[str, Any] = {"affine": np.array(volume.affine, dtype=np.float64)}
    if source is not None:
        metadata["medseg_source"] = str(source)
    kwargs: dict[str, Any] = {
        "name": name,
        "scale": tuple(float(s) for s in scale),
        "translate": tuple(float(t) for t in translate),
        "metadata": metadata,
    }
    data = volume.data
    if kind == "image" and isinstance(data, np.ndarray) and looks_like_ct(data):
        kwargs["contrast_limits"] = CT_ABDOMEN_LIMITS
        metadata["medseg_preset"] = "ct-abdomen"
    return data, kwargs, kind


def label_features(names: dict[int, str]) -> dict[str, Any]:
    """A features table napari's Labels layer understands: one row per label id (0 = background)."""
    ids = sorted({0, *(int(k) for k in names)})
    return {
        "index": np.array(ids, dtype=np.int64),
        "name": np.array(
            [str(names.get(i, "background" if i == 0 else f"label {i}")) for i in ids], dtype=object
        ),
    }


def is_labels_file(path: str | Path, dtype: np.dtype) -> bool:
    """True for an integer volume named like ``*_labels``, ``*_seg``... (see the module docstring)."""
    path = Path(path)
    stem = path.name[: -len(volume_suffix(path))].lower() if volume_suffix(path) else path.stem.lower()
    return stem.endswith(LABEL_NAME_ENDINGS) and np.issubdtype(np.dtype(dtype), np.integer)


def labels_file_for(image_path: str | Path | None, layer_name: str) -> Path:
    """Where to save labels drawn on an image, by default: ``<image>_seg.nii.gz`` beside the image file
    (or named after the layer, in the current folder), a name this reader opens as labels again."""
    if image_path:
        path = Path(image_path)
        suffix = volume_suffix(path)
        stem = path.name[: -len(suffix)] if suffix else path.stem
        return path.with_name(f"{stem}_seg.nii.gz")
    stem = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in layer_name).strip("._") or "image"
    return Path(f"{stem}_seg.nii.gz")


def looks_like_ct(data: np.ndarray) -> bool:
    """Hounsfield units: a signed volume whose darkest voxels are air (-1000) or the scanner's padding
    outside the field of view (-1024, -2048, -3024)."""
    if data.size == 0 or not (
        np.issubdtype(data.dtype, np.signedinteger) or np.issubdtype(data.dtype, np.floating)
    ):
        return False
    with warnings.catch_warnings():  # an all-NaN volume: nanmin warns and gives NaN (not CT)
        warnings.simplefilter("ignore", RuntimeWarning)
        low = float(np.nanmin(data))
        high = float(np.nanmax(data))
    return -3100.0 <= low <= -500.0 and high <= 4000.0


def _as_paths(path: str | Path | Sequence[str | Path]) -> list[Path]:
    if isinstance(path, str | Path):
        return [Path(path)]
    return [Path(p) for p in path]
