"""The built-in encoder-cached promptable CNN (default model)."""

from napari_medseg.models.builtin.model import BuiltinModel, load_builtin

__all__ = ["BuiltinModel", "load_builtin"]
