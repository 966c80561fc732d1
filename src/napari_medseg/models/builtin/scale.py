"""The coarse grid of large slices: a first click on a 512-pixel slice is answered at 1/k.

The network was trained on 128- and 256-pixel slices whose objects span tens of pixels, and the
answer to a click reaches a few dozen pixels from it. On a 512-pixel CT slice (0.7-0.9 mm pixels)
an organ spans two to three times more pixels than on the bench's phantoms, and one click's answer
stopped halfway: the development phantoms' whole slices scaled up 2.5x in plane (480 x 400 px,
``benchmarks/bench_slice_scale.py``) gave clicks a first-answer Dice of 0.581 against 0.830 at their
own size. Boxes, lassos and scribbles say how far the object reaches and held (0.885 / 0.958 /
0.878 at 2.5x), and running them on a coarser grid lost detail: scribbles fell to 0.812 at 1/2 and
0.679 at 1/3, a small liver lesion's click leaked into the liver.

So a slice longer than ``max_side`` is also encoded averaged down by the smallest whole factor ``k``
that brings it within it, and only a first answer from clicks alone is decoded there (clicks 0.581
-> 0.747 at 2.5x; 0.738 with ``max_side`` 192, i.e. k = 3); prompts are mapped onto that grid. On
absolute intensities (CT) the steps after the network (calibration, edge refinement, extension,
evidence) run there too, on every k-th pixel of the slice, and the final logits are interpolated
back (``whole_pipeline``, 2026-12-05: dev clicks at 2x / 2.5x / 3x 0.862 / 0.780 / 0.853 -> 0.877 /
0.792 / 0.872, and a click at 512 px 8.7 -> 4.8 ms); on relative intensities (MR) the network's
logits are interpolated back and those steps run on the full-resolution slice (their window, measured
on the coarse grid, cut a dev-mr white matter's extension short). Corrections, boxes, lassos,
scribbles and propagation use the full-resolution features (but the first of a box's two decodes:
second_look.py, and a scribble's first answer on MR, below). Slices up to ``max_side`` (every bench
volume) are untouched. On relative intensities (MR) a first answer from scribbles runs on the coarse
grid too (2026-12-06, tenth session; ``relative_scribbles``): the MR development phantoms' whole
slices scaled 2.5 / 3.5 / 4.5x (``bench_slice_scale.py --set dev-mr``) gave scribbles a first-answer
Dice of 0.835 / 0.774 / 0.728 at full resolution and 0.855 / 0.846 / 0.836 there (after five
interactions 0.963 / 0.935 / 0.912 -> 0.957 / 0.970 / 0.961); on CT it lost (dev at 2 / 2.5x 0.889 /
0.907 -> 0.850 / 0.869, and 0.838 / 0.851 with only the network there). With the steps after the
network on the coarse grid as well (``relative_scribble_steps``; they ran at full resolution first)
dev-mr gave 0.845 / 0.842 / 0.826 at 2.5 / 3.5 / 4.5x and 0.964 / 0.971 / 0.961 after five, and a
white-matter scribble on a 512-px MR slice took 12.2 ms against 21.8 ms (25.7 ms at full
resolution): kept, for the speed. The same for clicks (``relative_click_steps``, 2026-12-06,
thirteenth session) was mixed and is off: first-answer Dice at 2.5 / 3.5 / 4.5x on dev-mr 0.755 /
0.588 / 0.492 -> 0.772 / 0.542 / 0.480 and at 2.5 / 3.5x on dev-mr-folded 0.425 / 0.439 -> 0.417 /
0.436; after five interactions dev-mr 0.964 / 0.923 / 0.917 -> 0.969 / 0.926 / 0.942 but dev-mr-folded
0.847 / 0.690 -> 0.771 / 0.715. A whole factor keeps the geometry exact: coarse pixel ``i`` covers
slice pixels ``[i*k, (i+1)*k)``. The coarse maps add a fifth to a 512-pixel slice's embedding.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from napari_medseg.core.prompts import BoxPrompt, Coord, LassoPrompt, PointPrompt, Prompt, ScribblePrompt


@dataclass(frozen=True)
class ScaleOptions:
    max_side: int = 256  # px: a first click on a slice longer than this runs at 1/k (0: never)
    # on absolute intensities (CT), the steps after the network run on the coarse grid too, and only
    # the final logits are interpolated back (False: the network's logits are, as before 2026-12-05)
    whole_pipeline: bool = True
    # on relative intensities (MR), a first answer from scribbles (and clicks) runs there too, and
    # so do the steps after the network when it holds a scribble (a click's window measured there
    # fell short)
    relative_scribbles: bool = True
    relative_scribble_steps: bool = True
    relative_click_steps: bool = False  # ...and when it holds clicks only (tried: mixed, see above)


def clicks_only(prompts: Sequence[Prompt]) -> bool:
    """Whether the slice's prompts are clicks alone (what the coarse grid and the edge fill serve)."""
    return bool(prompts) and all(p.kind == "point" for p in prompts)


def coarse_first_answer(prompts: Sequence[Prompt], relative: bool, opts: ScaleOptions) -> bool:
    """Whether a first answer (no previous logits) from ``prompts`` runs on a large slice's coarse
    grid: clicks alone; on relative intensities, clicks and scribbles (``relative_scribbles``)."""
    if clicks_only(prompts):
        return True
    return bool(prompts) and relative and opts.relative_scribbles and {p.kind for p in prompts} <= {"point", "scribble"}


def working_factor(h: int, w: int, max_side: int) -> int:
    """The smallest whole ``k`` with ``max(h, w) / k <= max_side`` (1 when ``max_side`` is 0)."""
    if max_side <= 0:
        return 1
    return max(1, math.ceil(max(h, w) / max_side))


def working_shape(h: int, w: int, k: int) -> tuple[int, int]:
    return -(-h // k), -(-w // k)


def block_mean(array: np.ndarray, k: int) -> np.ndarray:
    """``array`` averaged over k x k blocks (the last row/column of blocks padded by repetition), as
    float32; ``array`` itself for k = 1. Pooled by torch: numpy's mean over the strided block axes took
    2.4 ms at 512 x 512."""
    if k == 1:
        return array
    h, w = array.shape
    hw, ww = working_shape(h, w, k)
    with torch.inference_mode():
        x = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))[None, None]
        if (hw * k, ww * k) != (h, w):
            x = torch.nn.functional.pad(x, (0, ww * k - w, 0, hw * k - h), mode="replicate")
        return torch.nn.functional.avg_pool2d(x, k)[0, 0].numpy()


def upsample(logits: torch.Tensor, k: int, shape: tuple[int, int]) -> torch.Tensor:
    """Working-grid logits (h', w') back to the slice's ``shape`` (bilinear, pixel centres aligned)."""
    if k == 1:
        return logits
    hw, ww = logits.shape
    full = torch.nn.functional.interpolate(logits[None, None], size=(hw * k, ww * k), mode="bilinear",
                                           align_corners=False)
    return full[0, 0, : shape[0], : shape[1]]


def _to_working(rc: Coord, k: int) -> Coord:
    """A slice pixel's (row, col) on the working grid: pixel centres map to pixel centres."""
    return ((rc[0] + 0.5) / k - 0.5, (rc[1] + 0.5) / k - 0.5)


def prompts_to_working(prompts: Sequence[Prompt], k: int) -> list[Prompt]:
    """The prompts in working-grid coordinates (a scribble's width shrinks too, to at least 1 px)."""
    if k == 1:
        return list(prompts)
    out: list[Prompt] = []
    for p in prompts:
        if isinstance(p, PointPrompt):
            out.append(replace(p, point=_to_working(p.point, k)))
        elif isinstance(p, BoxPrompt):
            out.append(replace(p, corner_a=_to_working(p.corner_a, k), corner_b=_to_working(p.corner_b, k)))
        elif isinstance(p, ScribblePrompt):
            out.append(replace(p, points=tuple(_to_working(q, k) for q in p.points), width=max(1.0, p.width / k)))
        elif isinstance(p, LassoPrompt):
            out.append(replace(p, vertices=tuple(_to_working(q, k) for q in p.vertices)))
        else:
            raise TypeError(f"unknown prompt type {type(p).__name__}")
    return out
