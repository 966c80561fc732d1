"""The SAM ViT image encoder (ViT-B/L/H): windowed and global attention with decomposed relative positions.

Same parameters and key names as segment-anything's ``ImageEncoderViT``; the attention is computed
differently for speed: the decomposed relative-position bias is folded into the query and key
(``q' = [q * scale, q.Rh, q.Rw]``, ``k' = [k, onehot(row), onehot(col)]``) so that one fused
``scaled_dot_product_attention`` call gives exactly ``softmax(scale q.k + bias) v`` without ever
materialising the (tokens x tokens) bias, which is 800 MB per global block of ViT-B at 1024.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from napari_medseg.models.sam.common import LayerNorm2d, MLPBlock


class ImageEncoderViT(nn.Module):
    """Patch embedding, ``depth`` transformer blocks (windowed except ``global_attn_indexes``), a conv neck."""

    def __init__(
        self,
        img_size: int = 1024,
        patch_size: int = 16,
        in_chans: int = 3,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        out_chans: int = 256,
        window_size: int = 14,
        global_attn_indexes: tuple[int, ...] = (2, 5, 8, 11),
    ) -> None:
        super().__init__()
        self.img_size = img_size
        grid = img_size // patch_size
        self.patch_embed = PatchEmbed(patch_size, in_chans, embed_dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, grid, grid, embed_dim))
        self.blocks = nn.ModuleList(
            Block(
                dim=embed_dim,
                num_heads=num_heads,
                mlp_ratio=mlp_ratio,
                window_size=0 if i in global_attn_indexes else window_size,
                input_size=(grid, grid),
            )
            for i in range(depth)
        )
        self.neck = nn.Sequential(
            nn.Conv2d(embed_dim, out_chans, kernel_size=1, bias=False),
            LayerNorm2d(out_chans),
            nn.Conv2d(out_chans, out_chans, kernel_size=3, padding=1, bias=False),
            LayerNorm2d(out_chans),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x) + self.pos_embed
        for blk in self.blocks:
            x = blk(x)
        return self.neck(x.permute(0, 3, 1, 2))


class PatchEmbed(nn.Module):
    """Non-overlapping patches to tokens, NCHW in, NHWC out."""

    def __init__(self, patch_size: int, in_chans: int, embed_dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).permute(0, 2, 3, 1)


class Block(nn.Module):
    """Pre-norm transformer block; ``window_size`` 0 means global attention."""

    def __init__(
        self, dim: int, num_heads: int, mlp_ratio: float, window_size: int, input_size: tuple[int, int]
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        attn_size = input_size if window_size == 0 else (window_size, window_size)
        self.attn = Attention(dim, num_heads=num_heads, input_size=attn_size)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = MLPBlock(embedding_dim=dim, mlp_dim=int(dim * mlp_ratio))
        self.window_size = window_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.norm1(x)
        if self.window_size > 0:
            h, w = x.shape[1], x.shape[2]
            x, pad_hw = window_partition(x, self.window_size)
            x = window_unpartition(self.attn(x), self.window_size, pad_hw, (h, w))
        else:
            x = self.attn(x)
        x = shortcut + x
        return x + self.mlp(self.norm2(x))


class Attention(nn.Module):
    """Multi-head self-attention over an (h, w) grid with decomposed relative position embeddings."""

    def __init__(self, dim: int, num_heads: int, input_size: tuple[int, int]) -> None:
        super().__init__()
        self.num_heads = num_heads
        head_dim = dim // num_heads
        self.scale = head_dim**-0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.rel_pos_h = nn.Parameter(torch.zeros(2 * input_size[0] - 1, head_dim))
        self.rel_pos_w = nn.Parameter(torch.zeros(2 * input_size[1] - 1, head_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, _ = x.shape
        n = h * w
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # (b, heads, n, head_dim)
        rh = get_rel_pos(h, h, self.rel_pos_h).to(q.dtype)
        rw = get_rel_pos(w, w, self.rel_pos_w).to(q.dtype)
        grid_q = q.reshape(b, self.num_heads, h, w, -1)
        rel_h = torch.einsum("bnhwc,hkc->bnhwk", grid_q, rh).reshape(b, self.num_heads, n, h)
        rel_w = torch.einsum("bnhwc,wkc->bnhwk", grid_q, rw).reshape(b, self.num_heads, n, w)
        q_aug = torch.cat([q * self.scale, rel_h, rel_w], dim=-1)
        k_aug = torch.cat([k, _position_onehots(h, w, k).expand(b, self.num_heads, n, h + w)], dim=-1)
        out = F.scaled_dot_product_attention(q_aug, k_aug, v, scale=1.0)
        out = out.transpose(1, 2).reshape(b, h, w, -1)
        return self.proj(out)


def _position_onehots(h: int, w: int, like: torch.Tensor) -> torch.Tensor:
    """(1, 1, h*w, h+w): for token (r, c), a one at r and a one at h + c (selects the bias terms)."""
    rows = torch.arange(h, device=like.device).repeat_interleave(w)
    cols = torch.arange(w, device=like.device).repeat(h)
    onehot = torch.zeros(h * w, h + w, dtype=like.dtype, device=like.device)
    onehot[torch.arange(h * w, device=like.device), rows] = 1
    onehot[torch.arange(h * w, device=like.device), h + cols] = 1
    return onehot[None, None]


def window_partition(x: torch.Tensor, window_size: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """(b, h, w, c) to (b * windows, ws, ws, c), zero-padding h and w up to multiples of ``window_size``."""
    b, h, w, c = x.shape
    pad_h = (window_size - h % window_size) % window_size
    pad_w = (window_size - w % window_size) % window_size
    if pad_h or pad_w:
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    hp, wp = h + pad_h, w + pad_w
    x = x.view(b, hp // window_size, window_size, wp // window_size, window_size, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window_size, window_size, c), (hp, wp)


def window_unpartition(
    windows: torch.Tensor, window_size: int, pad_hw: tuple[int, int], hw: tuple[int, int]
) -> torch.Tensor:
    """Inverse of :func:`window_partition`, dropping the padding."""
    hp, wp = pad_hw
    h, w = hw
    b = windows.shape[0] // (hp * wp // window_size // window_size)
    x = windows.view(b, hp // window_size, wp // window_size, window_size, window_size, -1)
    x = x.permute(0, 1, 3, 2, 4, 5).reshape(b, hp, wp, -1)
    if hp > h or wp > w:
        x = x[:, :h, :w, :].contiguous()
    return x


def get_rel_pos(q_size: int, k_size: int, rel_pos: torch.Tensor) -> torch.Tensor:
    """Relative position embeddings (q_size, k_size, c), interpolated when the table has another length."""
    max_rel_dist = int(2 * max(q_size, k_size) - 1)
    if rel_pos.shape[0] != max_rel_dist:
        resized = F.interpolate(
            rel_pos.reshape(1, rel_pos.shape[0], -1).permute(0, 2, 1), size=max_rel_dist, mode="linear"
        )
        rel_pos = resized.reshape(-1, max_rel_dist).permute(1, 0)
    q_coords = torch.arange(q_size)[:, None] * max(k_size / q_size, 1.0)
    k_coords = torch.arange(k_size)[None, :] * max(q_size / k_size, 1.0)
    relative = (q_coords - k_coords) + (k_size - 1) * max(q_size / k_size, 1.0)
    return rel_pos[relative.long()]
