"""Reference implementations for parity tests: segment-anything and MobileSAM from PyPI (test-only).

Both import torchvision (and MobileSAM timm) at package level for code we never call (PIL resizing,
NMS, DropPath during training); those modules cannot be installed next to our torch, so minimal
stand-ins are put in ``sys.modules`` before the import. The modelling code itself is untouched.
"""

from __future__ import annotations

import sys
import types

import torch
from torch import nn


def _stub(name: str, **attrs: object) -> None:
    if name in sys.modules:
        return
    module = types.ModuleType(name)
    module.__path__ = []  # a package, so that submodules resolve
    for key, value in attrs.items():
        setattr(module, key, value)
    sys.modules[name] = module


def _unavailable(*args: object, **kwargs: object) -> object:
    raise RuntimeError("torchvision is not available in this test environment")


class _DropPath(nn.Module):
    def __init__(self, drop_prob: float | None = None) -> None:
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def install_stubs() -> None:
    _stub("torchvision")
    _stub("torchvision.transforms")
    _stub("torchvision.transforms.functional", resize=_unavailable, to_pil_image=_unavailable)
    _stub("torchvision.ops")
    _stub("torchvision.ops.boxes", batched_nms=_unavailable, box_area=_unavailable)
    _stub("timm")
    _stub("timm.models")
    _stub(
        "timm.models.layers",
        DropPath=_DropPath,
        to_2tuple=lambda x: (x, x) if not isinstance(x, tuple) else x,
        trunc_normal_=lambda t, std=1.0: nn.init.trunc_normal_(t, std=std),
    )
    _stub("timm.models.registry", register_model=lambda fn: fn)


def segment_anything_modeling() -> types.ModuleType:
    install_stubs()
    import segment_anything.modeling as modeling

    return modeling


def mobile_sam_modeling() -> types.ModuleType:
    install_stubs()
    import mobile_sam.modeling as modeling

    return modeling
