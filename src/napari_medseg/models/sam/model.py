"""The PromptableModel adapter: our prompts and slices in, SAM-family logits at slice resolution out.

Prompt mapping (documented in docs/sam-models.md):

* point: a SAM point, label 1 or 0;
* box: positive, SAM's box (the last one drawn wins: SAM takes one box); negative, five negative
  points (centre and the four half-way points towards the corners), since SAM has no negative box;
* scribble: up to six points spaced evenly along the stroke, plus a mask prompt: the previous logits
  (or background) with the stroke's pixels set to +8 (positive) or -8 (negative);
* lasso: positive, its bounding box (unless a box was drawn) plus the filled polygon as a mask
  prompt (+8 inside, merged with the previous logits by maximum); negative, a negative point at its
  most interior pixel, the polygon set to -8 in the mask prompt, and the output forced negative
  inside it (the lasso means "remove this");
* previous logits: resized into SAM's 256 x 256 low-res mask input.

A single positive click with no previous mask asks SAM for its three masks and keeps the one with
the best predicted IoU, as segment-anything recommends for ambiguous prompts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from napari_medseg.core.prompts import (
    BoxPrompt,
    LassoPrompt,
    PointPrompt,
    Prompt,
    ScribblePrompt,
    rasterize_polygon,
    rasterize_polyline,
)
from napari_medseg.errors import PromptError
from napari_medseg.models.protocol import Embedding
from napari_medseg.models.sam.build import SamNetwork
from napari_medseg.models.sam.transforms import PAD_LOGIT, Preprocessing

PROMPT_LOGIT = 8.0
MAX_STROKE_POINTS = 6


@dataclass
class SamPrompt:
    """Prompts in SAM's terms, still in slice pixels: (row, col) points, labels, one box, mask logits."""

    points: list[tuple[float, float]] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    box: tuple[float, float, float, float] | None = None  # r0, c0, r1, c1
    mask_logits: np.ndarray | None = None
    force_negative: np.ndarray | None = None

    def add_point(self, rc: tuple[float, float], positive: bool) -> None:
        self.points.append((float(rc[0]), float(rc[1])))
        self.labels.append(1 if positive else 0)


def stroke_points(points: Sequence[tuple[float, float]], n_max: int = MAX_STROKE_POINTS) -> np.ndarray:
    """Up to ``n_max`` points evenly spaced by arc length along a polyline (centres of equal pieces)."""
    p = np.asarray(points, dtype=float).reshape(-1, 2)
    seg = np.linalg.norm(np.diff(p, axis=0), axis=1)
    length = float(seg.sum())
    if len(p) == 1 or length < 1e-6:
        return p[:1]
    n = int(np.clip(np.ceil(length / 8.0), 1, n_max))
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    targets = (np.arange(n) + 0.5) / n * length
    return np.stack([np.interp(targets, cum, p[:, 0]), np.interp(targets, cum, p[:, 1])], axis=1)


def _interior_pixel(mask: np.ndarray) -> tuple[float, float]:
    from scipy import ndimage

    dist = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    r, c = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return float(r), float(c)


def map_prompts(
    prompts: Sequence[Prompt], shape: tuple[int, int], prev_logits: np.ndarray | None
) -> SamPrompt:
    """Our four prompt types (applied in order) plus the previous logits, as SAM inputs."""
    out = SamPrompt()
    mask = None if prev_logits is None else np.asarray(prev_logits, dtype=np.float32).copy()
    lasso_box: list[float] | None = None
    for p in prompts:
        if isinstance(p, PointPrompt):
            out.add_point(p.point, p.positive)
        elif isinstance(p, BoxPrompt):
            r0, c0, r1, c1 = p.bounds
            if p.positive:
                out.box = (r0, c0, r1, c1)
            else:
                rc, cc = (r0 + r1) / 2, (c0 + c1) / 2
                for dr, dc in ((0, 0), (-1, -1), (-1, 1), (1, -1), (1, 1)):
                    out.add_point((rc + dr * (r1 - r0) / 4, cc + dc * (c1 - c0) / 4), False)
        elif isinstance(p, ScribblePrompt):
            for rc in stroke_points(p.points):
                out.add_point((rc[0], rc[1]), p.positive)
            stroke = rasterize_polyline(p.points, shape, p.width)
            if p.positive or mask is not None:
                if mask is None:
                    mask = np.full(shape, PAD_LOGIT, dtype=np.float32)
                mask[stroke] = PROMPT_LOGIT if p.positive else -PROMPT_LOGIT
        elif isinstance(p, LassoPrompt):
            poly = rasterize_polygon(p.vertices, shape)
            if not poly.any():
                raise PromptError("lasso covers no pixel of the slice; draw it around the object")
            if p.positive:
                v = np.asarray(p.vertices, dtype=float)
                b = [v[:, 0].min(), v[:, 1].min(), v[:, 0].max(), v[:, 1].max()]
                lasso_box = b if lasso_box is None else [
                    min(lasso_box[0], b[0]), min(lasso_box[1], b[1]), max(lasso_box[2], b[2]), max(lasso_box[3], b[3])
                ]  # fmt: skip
                if mask is None:
                    mask = np.full(shape, -PROMPT_LOGIT, dtype=np.float32)
                mask[poly] = np.maximum(mask[poly], PROMPT_LOGIT)
                if out.force_negative is not None:
                    out.force_negative &= ~poly
            else:
                out.add_point(_interior_pixel(poly), False)
                if mask is not None:
                    mask[poly] = -PROMPT_LOGIT
                out.force_negative = poly if out.force_negative is None else out.force_negative | poly
        else:
            raise PromptError(f"unknown prompt type {type(p).__name__}; use point, box, scribble or lasso")
    if out.box is None and lasso_box is not None:
        out.box = (lasso_box[0], lasso_box[1], lasso_box[2], lasso_box[3])
    out.mask_logits = mask
    if not out.points and out.box is None and out.mask_logits is None:
        raise PromptError("nothing to segment from: give at least one prompt or a previous mask")
    return out


class SamModel:
    """A SAM-family network behind :class:`~napari_medseg.models.protocol.PromptableModel`."""

    def __init__(
        self,
        name: str,
        network: SamNetwork,
        preprocessing: Preprocessing,
        weights_sha: str,
        device: str = "cpu",
        precision: str = "fp32",
        embedding_dtype: type = np.float16,
    ) -> None:
        self.name = name
        self.network = network.eval().to(device)
        self.preprocessing = preprocessing
        self.weights_sha = weights_sha
        self.device = torch.device(device)
        self.precision = precision
        self.embedding_dtype = embedding_dtype
        with torch.inference_mode():
            self._dense_pe = self.network.prompt_encoder.get_dense_pe()

    @property
    def variant(self) -> str:
        return self.network.config.variant

    @property
    def identity(self) -> str:
        suffix = "+bf16" if self.precision == "bf16" else ""
        return f"{self.name}:{self.variant}:{self.weights_sha}:{self.preprocessing.key}{suffix}"

    def encode(self, image: np.ndarray) -> Embedding:
        """One slice (float32 (H, W) in [0, 1]) to the image embedding (256, 64, 64) and the two sizes."""
        img = np.asarray(image, dtype=np.float32)
        if img.ndim != 2 or min(img.shape) < 1:
            raise PromptError(f"the encoder takes one 2D slice, got an array of shape {img.shape}")
        if not np.isfinite(img).all():  # one NaN voxel would spread through the attention to every logit
            img = np.clip(np.nan_to_num(img, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)
        h, w = img.shape
        x = self.preprocessing.image_tensor(img, self.device)
        with torch.inference_mode(), torch.autocast(
            self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"
        ):
            emb = self.network.image_encoder(x)[0]
        return {
            "image_embeddings": emb.float().cpu().numpy().astype(self.embedding_dtype),
            "original_size": np.array([h, w], dtype=np.int32),
            "input_size": np.array(self.preprocessing.input_size(h, w), dtype=np.int32),
        }

    def decode(
        self, embedding: Embedding, prompts: Sequence[Prompt], prev_logits: np.ndarray | None = None
    ) -> np.ndarray:
        """Prompts of one interaction (and the previous logits) to float32 logits (H, W)."""
        original = (int(embedding["original_size"][0]), int(embedding["original_size"][1]))
        input_size = (int(embedding["input_size"][0]), int(embedding["input_size"][1]))
        if prev_logits is not None and np.shape(prev_logits) != original:
            raise PromptError(
                f"previous logits have shape {np.shape(prev_logits)} but the slice is {original[0]}x{original[1]}"
            )
        sp = map_prompts(prompts, original, prev_logits)
        logits = self._run_decoder(embedding, sp, original, input_size)
        if sp.force_negative is not None:
            logits = np.where(sp.force_negative, np.minimum(logits, -PROMPT_LOGIT), logits)
        return logits.astype(np.float32)

    def _run_decoder(
        self, embedding: Embedding, sp: SamPrompt, original: tuple[int, int], input_size: tuple[int, int]
    ) -> np.ndarray:
        pre = self.preprocessing
        sy, sx = pre.scale(original, input_size)
        dev = self.device
        points = None
        if sp.points:
            rc = np.asarray(sp.points, dtype=np.float32)
            xy = torch.as_tensor(np.stack([rc[:, 1] * sx, rc[:, 0] * sy], axis=1), device=dev)[None]
            points = (xy, torch.as_tensor(sp.labels, dtype=torch.int64, device=dev)[None])
        boxes = None
        if sp.box is not None:
            r0, c0, r1, c1 = sp.box
            boxes = torch.tensor([[c0 * sx, r0 * sy, c1 * sx, r1 * sy]], dtype=torch.float32, device=dev)
        pe = self.network.prompt_encoder
        masks = None
        if sp.mask_logits is not None:
            masks = pre.mask_prompt(sp.mask_logits, input_size, pe.mask_input_size[0]).to(dev)
        multimask = sp.mask_logits is None and sp.box is None and sp.labels == [1]
        with torch.inference_mode():
            emb = torch.as_tensor(embedding["image_embeddings"], device=dev).float()[None]
            sparse, dense = pe(points=points, boxes=boxes, masks=masks)
            low_res, iou = self.network.mask_decoder(emb, self._dense_pe, sparse, dense, multimask)
            best = int(torch.argmax(iou[0])) if multimask else 0
            out = pre.postprocess(low_res[:, best : best + 1], input_size, original)[0]
        return out.cpu().numpy()
