"""Registry entry points: ``load_sam``, ``load_medsam``, ``load_mobilesam``, ``load_litemedsam``.

Each takes ``checkpoint`` (the official file the user downloaded; there is no download here) and
``device``; the variant (ViT-B/L/H, TinyViT) is read off the checkpoint's tensor shapes.
"""

from __future__ import annotations

from pathlib import Path

from napari_medseg.errors import ModelLoadError
from napari_medseg.models.sam.build import SamNetwork, TinyViTConfig, ViTConfig, infer_config
from napari_medseg.models.sam.checkpoint import file_sha256, load_into, read_state_dict
from napari_medseg.models.sam.model import SamModel
from napari_medseg.models.sam.transforms import Preprocessing

# name -> (official file, encoder family, patch kernel for TinyViT, input size, preprocessing)
_MODELS = {
    "sam": ("sam_vit_b_01ec64.pth", "vit", None, 1024, "sam"),
    "medsam": ("medsam_vit_b.pth", "vit", None, 1024, "medsam"),
    "mobilesam": ("mobile_sam.pt", "tinyvit", 3, 1024, "sam"),
    "litemedsam": ("lite_medsam.pth", "tinyvit", 1, 256, "litemedsam"),
}
_SUGGEST = {"vit": "sam or medsam", "tinyvit": "mobilesam or litemedsam"}


def load_sam_family(
    name: str, checkpoint: Path | str | None, device: str = "cpu", precision: str = "fp32"
) -> SamModel:
    """Read, check and load ``checkpoint`` as model ``name``; every failure is one ModelLoadError line."""
    official, family, kernel, img_size, preproc = _MODELS[name]
    if checkpoint is None:
        raise ModelLoadError(
            f"model '{name}' needs its weights: pass --checkpoint with the official file ({official}); "
            "nothing is downloaded"
        )
    path = Path(checkpoint).expanduser()
    state = read_state_dict(path)
    config = infer_config(state, img_size)
    found = "vit" if isinstance(config.encoder, ViTConfig) else "tinyvit"
    if found != family:
        raise ModelLoadError(
            f"checkpoint {path.name} holds a {config.variant} encoder, not what '{name}' uses; "
            f"load it with --model {_SUGGEST[found]}"
        )
    if isinstance(config.encoder, TinyViTConfig) and config.encoder.patch_kernel != kernel:
        other = "litemedsam" if kernel == 3 else "mobilesam"
        raise ModelLoadError(f"checkpoint {path.name} is a {other} checkpoint; load it with --model {other}")
    if precision not in ("fp32", "bf16"):
        raise ModelLoadError(f"precision must be fp32 or bf16, got '{precision}'")
    network = SamNetwork(config)
    load_into(network, state, path.name)
    return SamModel(name, network, Preprocessing(preproc, config.img_size), file_sha256(path), device, precision)


def load_sam(checkpoint: Path | None = None, device: str = "cpu") -> SamModel:
    return load_sam_family("sam", checkpoint, device)


def load_medsam(checkpoint: Path | None = None, device: str = "cpu") -> SamModel:
    return load_sam_family("medsam", checkpoint, device)


def load_mobilesam(checkpoint: Path | None = None, device: str = "cpu") -> SamModel:
    return load_sam_family("mobilesam", checkpoint, device)


def load_litemedsam(checkpoint: Path | None = None, device: str = "cpu") -> SamModel:
    return load_sam_family("litemedsam", checkpoint, device)
