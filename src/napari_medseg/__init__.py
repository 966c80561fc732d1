"""napari-medseg: interactive 3D annotation of CT and MRI, in napari and from Python.

The public Python API (docs/python-api.md) is re-exported here. Imports are lazy: napari imports this
package to read the plugin manifest, and that must not pull in torch, zarr or the model code.

    >>> import napari_medseg as ms
    >>> volume = ms.read_volume("ct.nii.gz")
    >>> session = ms.Session(volume)                          # the built-in model, CPU
    >>> box = ms.BoxPrompt(ms.SliceRef(2, 40), (100, 80), (150, 130))
    >>> session.segment_object({40: [box]}, label_id=1)       # preview, commit, propagate
    >>> ms.write_labels("labels.nii.gz", session.labels, reference=volume)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    # volumes
    "Volume": "napari_medseg.core.volume_io",
    "read_volume": "napari_medseg.core.volume_io",
    "write_labels": "napari_medseg.core.volume_io",
    "load_sample": "napari_medseg.core.sample",
    # models
    "load_model": "napari_medseg.models.registry",
    "available_models": "napari_medseg.models.registry",
    # annotation
    "Session": "napari_medseg.core.session",
    "Preview": "napari_medseg.core.session",
    "PropagationOptions": "napari_medseg.core.propagation",
    "EmbeddingCache": "napari_medseg.core.cache",
    "load_prompt_file": "napari_medseg.core.prompt_file",
    # prompts
    "SliceRef": "napari_medseg.core.prompts",
    "PointPrompt": "napari_medseg.core.prompts",
    "BoxPrompt": "napari_medseg.core.prompts",
    "ScribblePrompt": "napari_medseg.core.prompts",
    "LassoPrompt": "napari_medseg.core.prompts",
    # errors
    "MedsegError": "napari_medseg.errors",
}

__all__ = [
    "BoxPrompt",
    "EmbeddingCache",
    "LassoPrompt",
    "MedsegError",
    "PointPrompt",
    "Preview",
    "PropagationOptions",
    "ScribblePrompt",
    "Session",
    "SliceRef",
    "Volume",
    "available_models",
    "load_model",
    "load_prompt_file",
    "load_sample",
    "read_volume",
    "write_labels",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("napari-medseg")
        except PackageNotFoundError:  # running from a source tree that is not installed
            return "0+unknown"
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'napari_medseg' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names load on first use
    from napari_medseg.core.cache import EmbeddingCache
    from napari_medseg.core.prompt_file import load_prompt_file
    from napari_medseg.core.prompts import BoxPrompt, LassoPrompt, PointPrompt, ScribblePrompt, SliceRef
    from napari_medseg.core.propagation import PropagationOptions
    from napari_medseg.core.sample import load_sample
    from napari_medseg.core.session import Preview, Session
    from napari_medseg.core.volume_io import Volume, read_volume, write_labels
    from napari_medseg.errors import MedsegError
    from napari_medseg.models.registry import available_models, load_model
