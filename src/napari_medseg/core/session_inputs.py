"""Checks of what a Session is given: the image, the labels, axes and slice indices.

Each failure is a one-line :class:`~napari_medseg.errors.MedsegError` that says what to do.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from napari_medseg.core.volume_io import Volume
from napari_medseg.errors import MedsegError, PromptError, VolumeReadError


def plane_index(axis: int, index: int) -> tuple:
    return (slice(None),) * axis + (int(index),)


def check_axis(axis: int) -> int:
    if isinstance(axis, bool) or axis not in (0, 1, 2):
        raise MedsegError(f"slicing axis must be 0, 1 or 2, got {axis!r}")
    return int(axis)


def check_index(index: int, axis: int, shape: Iterable[int]) -> None:
    depth = tuple(shape)[axis]
    if not 0 <= int(index) < depth:
        raise PromptError(f"slice {index} is outside the volume along axis {axis} (0..{depth - 1})")


def as_volume(image: Volume | np.ndarray) -> Volume:
    if isinstance(image, Volume):
        volume = image
    else:
        data = np.asarray(image)
        volume = Volume.with_spacing(data, (1.0, 1.0, 1.0))
    if len(volume.shape) != 3:
        raise VolumeReadError(f"the image must be a 3D volume, got shape {tuple(volume.shape)}")
    if not (np.issubdtype(volume.dtype, np.number) or volume.dtype == np.bool_):
        raise VolumeReadError(f"the image must hold numbers, got {volume.dtype}")
    return volume


def as_labels(labels: np.ndarray | None, shape: tuple[int, int, int]) -> np.ndarray:
    if labels is None:
        return np.zeros(shape, dtype=np.uint16)
    if not isinstance(labels, np.ndarray):
        raise MedsegError(f"labels must be a numpy array, got {type(labels).__name__}")
    if labels.shape != tuple(shape):
        raise MedsegError(f"labels of shape {labels.shape} do not match the image shape {tuple(shape)}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise MedsegError(
            f"labels must be an integer array, got {labels.dtype}; convert with astype(np.uint16)"
        )
    if not labels.flags.writeable:
        raise MedsegError("labels array is read-only; pass a writable copy (labels.copy())")
    return labels
