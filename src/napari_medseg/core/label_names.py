"""Label names beside a label file: ``case01_seg.nii.gz`` keeps its names in ``case01_seg.json``.

NIfTI holds label ids, not what they are. The names a user gives labels in the panel are written next
to the file as ``{"1": "liver", "2": "spleen"}`` (the bundled sample's ``labels.json`` format) and
read back when the file is opened again, so that napari names the label under the cursor.
"""

from __future__ import annotations

import json
from pathlib import Path

from napari_medseg.core.volume_io import atomic_path, volume_suffix
from napari_medseg.errors import VolumeWriteError


def names_path(labels_path: str | Path) -> Path:
    """The sidecar of a label file: its name with ``.json`` for ``.nii.gz``, ``.nii`` or ``.zarr``."""
    path = Path(labels_path)
    suffix = volume_suffix(path) or path.suffix
    return path.with_name(f"{path.name[: len(path.name) - len(suffix)]}.json")


def write_label_names(labels_path: str | Path, names: dict[int, str]) -> Path | None:
    """Write the non-empty names of labels 1, 2, ... beside ``labels_path`` (atomically); None when
    there is none to write (an old sidecar is left as it is)."""
    kept = {int(k): str(v).strip() for k, v in names.items() if int(k) > 0 and str(v).strip()}
    if not kept:
        return None
    target = names_path(labels_path)
    try:
        with atomic_path(target) as tmp:
            tmp.write_text(json.dumps({str(k): kept[k] for k in sorted(kept)}, indent=2) + "\n")
    except OSError as exc:
        raise VolumeWriteError(f"cannot write {target}: {exc.strerror or exc}; check the folder and free space") from exc
    return target


def read_label_names(labels_path: str | Path) -> dict[int, str]:
    """The names beside ``labels_path``, or {} when there is no sidecar or it is not such a mapping
    (a JSON file of another kind with the same name is ignored, never an error)."""
    path = names_path(labels_path)
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(raw, dict):
        return {}
    names: dict[int, str] = {}
    for key, value in raw.items():
        try:
            label_id = int(key)
        except (TypeError, ValueError):
            return {}
        if label_id > 0 and isinstance(value, str):
            names[label_id] = value
    return names
