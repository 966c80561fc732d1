"""The whole network (encoder + decoder) and the tensor-level helpers shared by training and inference."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from napari_medseg.models.builtin.decoder import MaskDecoder
from napari_medseg.models.builtin.encoder import STRIDE, ImageEncoder
from napari_medseg.models.builtin.prompt_maps import PREV_CLIP, SCALE

ARCH = "medseg-builtin-v1"


class PromptableUNet(nn.Module):
    """Image encoder (cached) + prompt-conditioned mask decoder."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = ImageEncoder()
        self.decoder = MaskDecoder()


def padded_size(h: int, w: int) -> tuple[int, int]:
    return -(-h // STRIDE) * STRIDE, -(-w // STRIDE) * STRIDE


def prev_channels(prev: torch.Tensor, given: torch.Tensor) -> torch.Tensor:
    """Previous logits (B, 1, Hp, Wp) at padded full resolution and a (B,) 0/1 flag -> (B, 2, h, w)."""
    scaled = F.avg_pool2d(prev.clamp(-PREV_CLIP, PREV_CLIP) / PREV_CLIP, SCALE)
    flag = given.to(scaled.dtype)[:, None, None, None].expand_as(scaled)
    return torch.cat([scaled * flag, flag], dim=1)


def logits_to_full(logit2: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """1/2-resolution logits -> padded full resolution, cropped to ``hw``."""
    full = F.interpolate(logit2, scale_factor=2, mode="bilinear", align_corners=False)
    return full[..., : hw[0], : hw[1]]
