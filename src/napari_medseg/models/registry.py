"""Model registry: a name (plus an optional checkpoint path) selects a model factory.

Factories are imported lazily so that importing the registry costs nothing and a broken optional
backend cannot break the others.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from napari_medseg.errors import ModelLoadError
from napari_medseg.models.protocol import PromptableModel

DEFAULT_MODEL = "builtin"

# name -> "module:function"; each function takes (checkpoint: Path | None, device: str).
_FACTORIES: dict[str, str | Callable[..., PromptableModel]] = {
    "builtin": "napari_medseg.models.builtin.model:load_builtin",
    "sam": "napari_medseg.models.sam.loader:load_sam",
    "medsam": "napari_medseg.models.sam.loader:load_medsam",
    "mobilesam": "napari_medseg.models.sam.loader:load_mobilesam",
    "litemedsam": "napari_medseg.models.sam.loader:load_litemedsam",
}


def register_model(name: str, factory: str | Callable[..., PromptableModel]) -> None:
    """Add or replace a model factory under ``name``."""
    _FACTORIES[name] = factory


def available_models() -> list[str]:
    return sorted(_FACTORIES)


def _resolve(name: str) -> Callable[..., PromptableModel]:
    entry = _FACTORIES[name]
    if callable(entry):
        return entry
    module, func = entry.split(":")
    try:
        return getattr(importlib.import_module(module), func)
    except (ImportError, AttributeError) as exc:  # a backend missing from this install
        raise ModelLoadError(f"model '{name}' is not available in this installation: {exc}") from exc


def load_model(
    name: str = DEFAULT_MODEL, checkpoint: str | Path | None = None, device: str = "cpu"
) -> PromptableModel:
    """Build the model called ``name``; SAM-family models need ``checkpoint``."""
    if name not in _FACTORIES:
        raise ModelLoadError(f"unknown model '{name}'; choose one of: {', '.join(available_models())}")
    ckpt = Path(checkpoint).expanduser() if checkpoint is not None else None
    if ckpt is not None and not ckpt.is_file():
        raise ModelLoadError(f"checkpoint file not found: {ckpt}")
    return _resolve(name)(checkpoint=ckpt, device=device)
