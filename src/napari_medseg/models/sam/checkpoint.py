"""Safe checkpoint loading: tensors only, never code; every failure is one ModelLoadError line.

``torch.load(..., weights_only=True)`` uses a restricted unpickler that refuses any global it does
not know (so a pickle whose ``__reduce__`` calls ``os.system`` is rejected before anything runs);
``.safetensors`` files hold no code at all.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import nn

from napari_medseg.errors import ModelLoadError

# Keys in official files that our networks do not need: SAM's pixel statistics (we keep them in
# the preprocessing) and TinyViT's ImageNet classifier head, unused by MobileSAM.
_IGNORED_PREFIXES = ("pixel_mean", "pixel_std", "image_encoder.head.", "image_encoder.norm_head.")
_IGNORED_SUFFIXES = (".attention_bias_idxs", ".ab")


def file_sha256(path: Path, length: int = 12) -> str:
    """The first ``length`` hex digits of the file's SHA-256 (part of the model identity)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:length]


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] + ("..." if len(text) > 200 else "") if text else type(exc).__name__


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a checkpoint as a flat ``{name: tensor}`` dict, refusing anything that is not plain data."""
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"checkpoint file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj: object = load_file(str(path), device="cpu")
        else:
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt, truncated, or a pickle with code in it
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            raise ModelLoadError(
                f"checkpoint {path.name} contains Python objects other than tensors and was refused "
                "(it could run code); use the official checkpoint file or a .safetensors export"
            ) from exc
        raise ModelLoadError(
            f"checkpoint {path.name} cannot be read ({_one_line(exc)}); the file is corrupt or truncated, "
            "download it again"
        ) from exc
    return flatten_state_dict(obj, path.name)


def flatten_state_dict(obj: object, name: str) -> dict[str, torch.Tensor]:
    """Unwrap {"model"|"state_dict": ...}, strip "module.", drop the keys no network of ours has."""
    if isinstance(obj, dict):
        for wrapper in ("model", "state_dict"):
            if isinstance(obj.get(wrapper), dict):
                obj = obj[wrapper]
                break
    if not isinstance(obj, dict) or not obj:
        raise ModelLoadError(f"checkpoint {name} holds no state dict of tensors; it is not a model checkpoint")
    state: dict[str, torch.Tensor] = {}
    for key, value in obj.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise ModelLoadError(f"checkpoint {name} entry {key!r} is not a tensor; it is not a model state dict")
        key = key.removeprefix("module.")
        if key.startswith(_IGNORED_PREFIXES) or key.endswith(_IGNORED_SUFFIXES):
            continue
        state[key] = value
    return state


def load_into(network: nn.Module, state: dict[str, torch.Tensor], name: str) -> None:
    """Copy ``state`` into ``network`` strictly: every key present, none extra, every shape equal."""
    expected = network.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if wrong:
        k = wrong[0]
        raise ModelLoadError(
            f"checkpoint {name} does not fit the model: '{k}' has shape {tuple(state[k].shape)}, expected "
            f"{tuple(expected[k].shape)} ({len(wrong)} tensors differ); pass the checkpoint of the model you chose"
        )
    if missing or unexpected:
        first = f"missing '{missing[0]}'" if missing else f"unexpected '{unexpected[0]}'"
        raise ModelLoadError(
            f"checkpoint {name} does not fit the model: {first} ({len(missing)} missing, {len(unexpected)} "
            "unexpected tensors); pass the official checkpoint of the model you chose"
        )
    for k, v in state.items():
        if v.is_floating_point() and not torch.isfinite(v).all():
            raise ModelLoadError(f"checkpoint {name} has non-finite values in '{k}'; the file is corrupt")
    network.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()}, strict=True)
