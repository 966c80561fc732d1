"""Dense prompt maps: every prompt type as a channel at the decoder's resolution (1/4 of the slice).

Rasterising straight at 1/4 resolution keeps the per-interaction cost tiny (a 512x512 slice gives
128x128 maps) and is the same code in training and inference, so the network sees identical maps.
Coordinates are plane (row, col) pixel centres of the full-resolution slice.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from napari_medseg.core.prompts import (
    BoxPrompt,
    LassoPrompt,
    PointPrompt,
    Prompt,
    ScribblePrompt,
    rasterize_polygon,
    rasterize_polyline,
)

SCALE = 4  # full-resolution pixels per map pixel
CLICK_SIGMA = 1.0  # gaussian radius of a click, in map pixels (4 slice pixels)
PROMPT_CHANNELS = (
    "click_pos",
    "click_neg",
    "scribble_pos",
    "scribble_neg",
    "box",
    "lasso_pos",
    "region_neg",
)
N_PROMPT_CHANNELS = len(PROMPT_CHANNELS)
PREV_CLIP = 8.0  # previous logits are clipped to +-this and scaled to [-1, 1]


def to_map_coords(rc: Sequence[float]) -> tuple[float, float]:
    """Full-resolution pixel centre -> map pixel centre."""
    return (float(rc[0]) + 0.5) / SCALE - 0.5, (float(rc[1]) + 0.5) / SCALE - 0.5


def _coverage_1d(lo: float, hi: float, n: int) -> np.ndarray:
    """Fraction of each map cell [4i, 4i+4) covered by the pixel-edge interval [lo, hi)."""
    edges = np.arange(n + 1, dtype=np.float32) * SCALE
    return np.clip(np.minimum(edges[1:], hi) - np.maximum(edges[:-1], lo), 0, SCALE) / SCALE


def box_map(bounds: tuple[float, float, float, float], shape: tuple[int, int]) -> np.ndarray:
    """Exact area coverage of a box (pixel-centre bounds, inclusive) on the map grid."""
    r0, c0, r1, c1 = bounds
    rlo, rhi = np.floor(r0 + 0.5), np.floor(r1 + 0.5) + 1
    clo, chi = np.floor(c0 + 0.5), np.floor(c1 + 0.5) + 1
    return np.outer(_coverage_1d(rlo, rhi, shape[0]), _coverage_1d(clo, chi, shape[1]))


def click_map(points: Sequence[Sequence[float]], shape: tuple[int, int]) -> np.ndarray:
    """Max of gaussians (peak 1) centred on the clicks."""
    out = np.zeros(shape, dtype=np.float32)
    if len(points) == 0:
        return out
    rows = np.arange(shape[0], dtype=np.float32)[:, None]
    cols = np.arange(shape[1], dtype=np.float32)[None, :]
    k = -0.5 / CLICK_SIGMA**2
    rad = int(np.ceil(3 * CLICK_SIGMA))
    for p in points:
        r, c = to_map_coords(p)
        r = min(max(r, 0.0), shape[0] - 1.0)
        c = min(max(c, 0.0), shape[1] - 1.0)
        ri0, ri1 = max(int(r) - rad, 0), min(int(r) + rad + 2, shape[0])
        ci0, ci1 = max(int(c) - rad, 0), min(int(c) + rad + 2, shape[1])
        g = np.exp(k * ((rows[ri0:ri1] - r) ** 2 + (cols[:, ci0:ci1] - c) ** 2))
        np.maximum(out[ri0:ri1, ci0:ci1], g, out=out[ri0:ri1, ci0:ci1])
    return out


def stroke_map(points: Sequence[Sequence[float]], width: float, shape: tuple[int, int]) -> np.ndarray:
    """A scribble drawn on the map grid, at least one map pixel wide."""
    pts = [to_map_coords(p) for p in points]
    return rasterize_polyline(pts, shape, max(1.0, width / SCALE)).astype(np.float32)


def polygon_map(vertices: Sequence[Sequence[float]], shape: tuple[int, int]) -> np.ndarray:
    verts = [to_map_coords(v) for v in vertices]
    return rasterize_polygon(verts, shape).astype(np.float32)


def map_shape(padded_shape: tuple[int, int]) -> tuple[int, int]:
    return padded_shape[0] // SCALE, padded_shape[1] // SCALE


def build_prompt_maps(prompts: Sequence[Prompt], shape: tuple[int, int]) -> np.ndarray:
    """Prompts -> float32 (N_PROMPT_CHANNELS, h, w) maps on a grid of ``shape`` (the 1/4 grid)."""
    maps = np.zeros((N_PROMPT_CHANNELS,) + tuple(shape), dtype=np.float32)
    clicks: dict[bool, list] = {True: [], False: []}
    for p in prompts:
        if isinstance(p, PointPrompt):
            clicks[bool(p.positive)].append(p.point)
        elif isinstance(p, ScribblePrompt):
            ch = 2 if p.positive else 3
            np.maximum(maps[ch], stroke_map(p.points, p.width, shape), out=maps[ch])
        elif isinstance(p, BoxPrompt):
            ch = 4 if p.positive else 6
            np.maximum(maps[ch], box_map(p.bounds, shape), out=maps[ch])
        elif isinstance(p, LassoPrompt):
            ch = 5 if p.positive else 6
            np.maximum(maps[ch], polygon_map(p.vertices, shape), out=maps[ch])
    maps[0] = click_map(clicks[True], shape)
    maps[1] = click_map(clicks[False], shape)
    return maps
