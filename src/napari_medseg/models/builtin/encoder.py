"""Image encoder: one slice -> multi-scale features, computed once per slice and cached.

A small CNN (down to 1/32) with a feature pyramid. Everything that does not depend on the prompts is
done here, including the decoder's lateral projections, so that each click only pays for the decoder.
The 1/2-resolution map is stored space-to-depth at 1/4. The cache keeps six maps, about 2 MB per 512x512 slice in float16 (a 512x512x300 volume: ~0.6 GB).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from napari_medseg.models.builtin.layers import Pointwise, conv_bn, upsample_to

STRIDE = 32  # the encoder's coarsest stride: slices are padded to a multiple of it
CHANNELS = {"e2": 8, "e4": 16, "s4": 8, "e8": 24, "e16": 48, "e32": 64}


class ImageEncoder(nn.Module):
    """(B, 1, H, W) in [0, 1], H and W multiples of STRIDE -> dict of feature maps."""

    def __init__(self) -> None:
        super().__init__()
        c = CHANNELS
        self.stem = conv_bn(1, 16, stride=2)
        self.down4 = nn.Sequential(conv_bn(16, 24, stride=2), conv_bn(24, 32))
        self.down8 = nn.Sequential(conv_bn(32, 48, stride=2), conv_bn(48, 64))
        self.down16 = nn.Sequential(conv_bn(64, 96, stride=2), conv_bn(96, 96))
        self.down32 = nn.Sequential(conv_bn(96, 128, stride=2), conv_bn(128, 128))
        self.lat32 = Pointwise(128, c["e32"])
        self.lat16 = Pointwise(96, c["e16"])
        self.top16 = Pointwise(c["e32"], c["e16"])
        self.lat8 = Pointwise(64, c["e8"])
        self.top8 = Pointwise(c["e16"], c["e8"])
        self.lat4 = Pointwise(32, c["e4"])
        self.top4 = Pointwise(c["e8"], c["e4"])
        self.sim4 = Pointwise(32, c["s4"])
        self.out2 = Pointwise(16, c["e2"])

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        x = (image - 0.5) * 2.0
        s2 = self.stem(x)
        s4 = self.down4(s2)
        s8 = self.down8(s4)
        s16 = self.down16(s8)
        s32 = self.down32(s16)
        p32 = self.lat32(s32)
        p16 = self.lat16(s16) + upsample_to(self.top16(p32), s16.shape[-2:])
        p8 = self.lat8(s8) + upsample_to(self.top8(p16), s8.shape[-2:])
        p4 = self.lat4(s4) + upsample_to(self.top4(p8), s4.shape[-2:])
        sim = F.normalize(self.sim4(s4), dim=1)
        return {"e2": F.pixel_unshuffle(self.out2(s2), 2), "e4": p4, "s4": sim, "e8": p8, "e16": p16, "e32": p32}
