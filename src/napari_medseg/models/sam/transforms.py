"""Each model's own preprocessing and the mapping between slice pixels and the encoder's input frame.

The session hands the encoder one slice as float32 (H, W) in [0, 1] (the per-volume intensity
preset already applied). What follows is what each model's official inference code does to an
8-bit image, with torch ops instead of PIL/OpenCV/scikit-image:

* ``sam`` (SAM, MobileSAM): x 255, grey to three channels, longest side resized to 1024 (bilinear,
  antialiased, like torchvision's PIL resize), per-channel ImageNet mean/std, zero-padded at the
  bottom and right to 1024 x 1024.
* ``medsam`` (MedSAM_Inference.py): grey to three channels, resized to 1024 x 1024 *without* keeping
  the aspect ratio (bicubic, antialiased; theirs is skimage order 3), then min-max scaled to [0, 1]
  per image; no mean/std. Boxes and points scale per axis. Logits are taken from the 256 x 256
  low-res output straight to (H, W).
* ``litemedsam`` (CVPR24_LiteMedSAM_infer.py): longest side resized to 256 (bilinear, antialiased;
  theirs is cv2 INTER_AREA), min-max scaled to [0, 1] per image, zero-padded to 256 x 256; no mean/std.

Coordinates follow segment-anything's predictor: a pixel (row, col) maps to (x, y) = (col * sx,
row * sy) in the resized frame and the prompt encoder adds half a pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

PIXEL_MEAN = (123.675, 116.28, 103.53)
PIXEL_STD = (58.395, 57.12, 57.375)
PAD_LOGIT = -8.0  # the mask prompt outside the image: background


@dataclass(frozen=True)
class Preprocessing:
    name: str  # "sam" | "medsam" | "litemedsam"
    img_size: int

    @property
    def key(self) -> str:
        return f"{self.name}{self.img_size}"

    @property
    def keep_aspect(self) -> bool:
        return self.name != "medsam"

    def input_size(self, h: int, w: int) -> tuple[int, int]:
        """Size of the resized slice inside the square encoder input (before padding)."""
        if not self.keep_aspect:
            return self.img_size, self.img_size
        scale = self.img_size / max(h, w)
        return int(h * scale + 0.5), int(w * scale + 0.5)

    def image_tensor(self, image: np.ndarray, device: str | torch.device = "cpu") -> torch.Tensor:
        """(H, W) float in [0, 1] to the encoder input (1, 3, S, S), float32."""
        h, w = image.shape
        nh, nw = self.input_size(h, w)
        x = torch.as_tensor(np.ascontiguousarray(image, dtype=np.float32), device=device)[None, None]
        if self.name == "sam":
            x = x * 255.0
        if (nh, nw) != (h, w):
            mode = "bicubic" if self.name == "medsam" else "bilinear"
            x = F.interpolate(x, (nh, nw), mode=mode, align_corners=False, antialias=True)
        x = x.expand(1, 3, nh, nw)
        if self.name == "sam":
            mean = torch.tensor(PIXEL_MEAN, device=device).view(1, 3, 1, 1)
            std = torch.tensor(PIXEL_STD, device=device).view(1, 3, 1, 1)
            x = (x - mean) / std
        else:
            lo, hi = x.amin(), x.amax()
            x = (x - lo) / torch.clamp(hi - lo, min=1e-8)
        return F.pad(x, (0, self.img_size - nw, 0, self.img_size - nh)).contiguous()

    def scale(self, original: tuple[int, int], input_size: tuple[int, int]) -> tuple[float, float]:
        """(sy, sx): slice pixels to input-frame pixels."""
        return input_size[0] / original[0], input_size[1] / original[1]

    def mask_prompt(
        self, logits: np.ndarray, input_size: tuple[int, int], mask_size: int
    ) -> torch.Tensor:
        """Slice-resolution logits to SAM's low-res mask input (1, 1, m, m) in the padded frame."""
        m = mask_size
        mh = max(1, int(round(input_size[0] * m / self.img_size)))
        mw = max(1, int(round(input_size[1] * m / self.img_size)))
        x = torch.as_tensor(np.clip(np.asarray(logits, dtype=np.float32), -32.0, 32.0))[None, None]
        x = F.interpolate(x, (mh, mw), mode="bilinear", align_corners=False, antialias=True)
        return F.pad(x, (0, m - mw, 0, m - mh), value=PAD_LOGIT)

    def postprocess(
        self, low_res: torch.Tensor, input_size: tuple[int, int], original: tuple[int, int]
    ) -> torch.Tensor:
        """Low-res logits (1, k, m, m) to (k, H, W) at slice resolution: upscale, crop the padding, resize."""
        x = low_res.float()
        if not self.keep_aspect:
            return F.interpolate(x, original, mode="bilinear", align_corners=False)[0]
        if x.shape[-1] != self.img_size:
            x = F.interpolate(x, (self.img_size, self.img_size), mode="bilinear", align_corners=False)
        x = x[..., : input_size[0], : input_size[1]]
        return F.interpolate(x, original, mode="bilinear", align_corners=False)[0]
