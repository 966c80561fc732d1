"""Build a SAM-family network from a state dict: the variant is read off the checkpoint's shapes.

ViT: embed dim from ``patch_embed.proj.weight``, depth from the number of blocks, head width from
``rel_pos_h`` (so heads = dim / head width), global-attention blocks are those whose relative table
spans the whole grid, the window size from the others. TinyViT: widths, depths, heads (rows of
``attention_biases``), windows (sqrt of its columns) per stage; the patch-embedding kernel (3x3 for
MobileSAM, 1x1 for LiteMedSAM). A ViT's input size is its position table times the patch size; a
TinyViT's is not in the weights and comes with the model name.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import torch
from torch import nn

from napari_medseg.errors import ModelLoadError
from napari_medseg.models.sam.image_encoder import ImageEncoderViT
from napari_medseg.models.sam.mask_decoder import MaskDecoder
from napari_medseg.models.sam.prompt_encoder import PromptEncoder
from napari_medseg.models.sam.tiny_vit import TinyViT
from napari_medseg.models.sam.transformer import TwoWayTransformer

VIT_NAMES = {768: "vit_b", 1024: "vit_l", 1280: "vit_h"}


@dataclass(frozen=True)
class ViTConfig:
    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    global_attn_indexes: tuple[int, ...] = (2, 5, 8, 11)
    window_size: int = 14
    patch_size: int = 16
    mlp_ratio: float = 4.0

    @property
    def variant(self) -> str:
        return VIT_NAMES.get(self.embed_dim, f"vit_{self.embed_dim}x{self.depth}")


@dataclass(frozen=True)
class TinyViTConfig:
    embed_dims: tuple[int, ...] = (64, 128, 160, 320)
    depths: tuple[int, ...] = (2, 2, 6, 2)
    num_heads: tuple[int, ...] = (2, 4, 5, 10)
    window_sizes: tuple[int, ...] = (7, 7, 14, 7)
    patch_kernel: int = 3
    mlp_ratio: float = 4.0
    mbconv_expand_ratio: float = 4.0

    @property
    def variant(self) -> str:
        return "tiny_vit_5m" if self.embed_dims == (64, 128, 160, 320) else "tiny_vit_" + "-".join(
            map(str, self.embed_dims)
        )


@dataclass(frozen=True)
class SamConfig:
    """Everything that fixes the network's shapes, plus the encoder's input size."""

    encoder: ViTConfig | TinyViTConfig = field(default_factory=ViTConfig)
    img_size: int = 1024
    prompt_embed_dim: int = 256

    @property
    def embedding_size(self) -> int:
        if isinstance(self.encoder, ViTConfig):
            return self.img_size // self.encoder.patch_size
        return self.img_size // (16 if self.encoder.patch_kernel == 3 else 4)

    @property
    def variant(self) -> str:
        return self.encoder.variant


class SamNetwork(nn.Module):
    """The three SAM modules under their checkpoint names: ``image_encoder``, ``prompt_encoder``, ``mask_decoder``."""

    def __init__(self, config: SamConfig) -> None:
        super().__init__()
        self.config = config
        enc = config.encoder
        if isinstance(enc, ViTConfig):
            self.image_encoder: nn.Module = ImageEncoderViT(
                img_size=config.img_size,
                patch_size=enc.patch_size,
                embed_dim=enc.embed_dim,
                depth=enc.depth,
                num_heads=enc.num_heads,
                mlp_ratio=enc.mlp_ratio,
                out_chans=config.prompt_embed_dim,
                window_size=enc.window_size,
                global_attn_indexes=enc.global_attn_indexes,
            )
        else:
            self.image_encoder = TinyViT(
                img_size=config.img_size,
                embed_dims=enc.embed_dims,
                depths=enc.depths,
                num_heads=enc.num_heads,
                window_sizes=enc.window_sizes,
                mlp_ratio=enc.mlp_ratio,
                mbconv_expand_ratio=enc.mbconv_expand_ratio,
                patch_kernel=enc.patch_kernel,
                out_chans=config.prompt_embed_dim,
            )
        e = config.embedding_size
        self.prompt_encoder = PromptEncoder(
            embed_dim=config.prompt_embed_dim,
            image_embedding_size=(e, e),
            input_image_size=(config.img_size, config.img_size),
            mask_in_chans=16,
        )
        self.mask_decoder = MaskDecoder(
            transformer=TwoWayTransformer(depth=2, embedding_dim=config.prompt_embed_dim, num_heads=8, mlp_dim=2048),
            transformer_dim=config.prompt_embed_dim,
            num_multimask_outputs=3,
            iou_head_depth=3,
            iou_head_hidden_dim=256,
        )


def _count(state: dict[str, torch.Tensor], pattern: str) -> int:
    rx = re.compile(pattern)
    return len({m.group(1) for k in state if (m := rx.match(k))})


def _shape(state: dict[str, torch.Tensor], key: str) -> tuple[int, ...]:
    if key not in state:
        raise ModelLoadError(f"checkpoint has no '{key}'; it is not a SAM-family state dict")
    return tuple(state[key].shape)


def infer_config(state: dict[str, torch.Tensor], img_size: int | None = None) -> SamConfig:
    """The :class:`SamConfig` whose network has exactly the checkpoint's tensor shapes."""
    if "image_encoder.patch_embed.proj.weight" in state:
        dim, _, patch, _ = _shape(state, "image_encoder.patch_embed.proj.weight")
        depth = _count(state, r"image_encoder\.blocks\.(\d+)\.")
        if depth == 0:
            raise ModelLoadError("checkpoint has a ViT patch embedding but no encoder blocks; the file is incomplete")
        grid = _shape(state, "image_encoder.pos_embed")[1]
        rel = [_shape(state, f"image_encoder.blocks.{i}.attn.rel_pos_h") for i in range(depth)]
        head_dim = rel[0][1]
        global_idx = tuple(i for i, r in enumerate(rel) if r[0] == 2 * grid - 1)
        windowed = [r[0] for r in rel if r[0] != 2 * grid - 1]
        window = (windowed[0] + 1) // 2 if windowed else 14
        mlp = _shape(state, "image_encoder.blocks.0.mlp.lin1.weight")[0] / dim
        enc: ViTConfig | TinyViTConfig = ViTConfig(
            embed_dim=dim, depth=depth, num_heads=dim // head_dim, global_attn_indexes=global_idx,
            window_size=window, patch_size=patch, mlp_ratio=mlp,
        )  # fmt: skip
        size = grid * patch  # the absolute position table fixes the ViT's input size
    elif "image_encoder.patch_embed.seq.0.c.weight" in state:
        kernel = _shape(state, "image_encoder.patch_embed.seq.0.c.weight")[2]
        n = _count(state, r"image_encoder\.layers\.(\d+)\.")
        dims, depths, heads, windows = [], [], [], []
        for i in range(n):
            nb = _count(state, rf"image_encoder\.layers\.{i}\.blocks\.(\d+)\.")
            depths.append(nb)
            if i == 0:
                dims.append(_shape(state, "image_encoder.layers.0.blocks.0.conv1.c.weight")[1])
                heads.append(1)
                windows.append(7)
                continue
            dims.append(_shape(state, f"image_encoder.layers.{i}.blocks.0.attn.proj.weight")[0])
            h, offsets = _shape(state, f"image_encoder.layers.{i}.blocks.0.attn.attention_biases")
            heads.append(h)
            windows.append(math.isqrt(offsets))
        expand = _shape(state, "image_encoder.layers.0.blocks.0.conv1.c.weight")[0] / dims[0]
        mlp = _shape(state, "image_encoder.layers.1.blocks.0.mlp.fc1.weight")[0] / dims[1]
        enc = TinyViTConfig(tuple(dims), tuple(depths), tuple(heads), tuple(windows), kernel, mlp, expand)
        size = img_size or (1024 if kernel == 3 else 256)
    else:
        raise ModelLoadError(
            "checkpoint has neither 'image_encoder.patch_embed.proj.weight' (SAM ViT) nor "
            "'image_encoder.patch_embed.seq.0.c.weight' (TinyViT); it is not a SAM-family checkpoint"
        )
    prompt_dim = _shape(state, "prompt_encoder.no_mask_embed.weight")[1]
    return SamConfig(encoder=enc, img_size=size, prompt_embed_dim=prompt_dim)
