"""Edge-aware refinement of the decoder's logits at full slice resolution.

The decoder predicts at 1/2 resolution, so its mask boundary can sit a pixel or two off the image's
edge, and a correction click on a thin sliver along the border barely moves it. A guided filter
(He, Sun & Tang, 2013) with the slice itself as the guide fits the mask probability, in every small
window, as a function of the intensity: where the window straddles an edge the probability's step
snaps onto the intensity step; in flat windows the probability is left as it was. The guide has two
channels, the intensity I and I^2, so the fit is quadratic: a window holding a vessel between darker
fat and brighter bone (object in the middle of three intensities) still has a fit, where a linear
one would leave the band near 0.5 and cut the vessel's wall off. Only the uncertain band
(|logit| < ``band``) is rewritten, the coefficients are computed at 1/4 resolution ("fast guided
filter", He & Sun 2015) and only inside the band's bounding box: about 1.5 ms for a kidney-sized
band on a 512x512 slice, 4-5 ms where the band's box spans most of the slice (a brain, a liver; the
simulated user's sequences at 512 px, docs/model-development.md, twenty-seventh session). Radius,
epsilon and band were chosen on the development volumes (``napari-medseg bench --sets dev``), see
docs/model-development.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from napari_medseg.core.appearance import crop_around


@dataclass(frozen=True)
class RefineOptions:
    radius: int = 8  # window half-size in slice pixels
    eps: float = 1e-4  # regulariser: intensity variance (guide in [0, 1]) below which a window counts as flat
    eps_square: float = 1e-3  # the same for the I^2 channel
    band: float = 4.0  # only logits with |logit| < band are rewritten
    subsample: int = 4  # coefficients are computed at 1/subsample resolution
    tidy: float = 1.0  # refined pixels with |logit| < tidy take the 3x3 majority of the mask (0: off)
    enabled: bool = True


def box_mean(x: torch.Tensor, r: int) -> torch.Tensor:
    """Mean over (2r+1)^2 windows by cumulative sums (cost independent of r), edges replicated."""
    if r <= 0:
        return x
    k = 2 * r + 1
    xp = F.pad(x, (r + 1, r, r + 1, r), mode="replicate")
    c = xp.cumsum(-1)
    c = c[..., k:] - c[..., :-k]
    c = c.cumsum(-2)
    c = c[..., k:, :] - c[..., :-k, :]
    return c / (k * k)


def _tidy(logits: torch.Tensor, weak: float) -> torch.Tensor:
    """Where the filter is unsure (|logit| < ``weak``), a border through faint, noisy tissue follows
    the noise pixel by pixel; such pixels take the majority of their 3x3 neighbourhood instead."""
    # the 3x3 count of object pixels, edges replicated (as ``box_mean``), in uint8 sums: a tenth of the
    # cost of a 3x3 average pool on one channel (0.85 ms on a brain-sized crop at 512 px)
    inside = np.pad((logits > 0).numpy(), 1, mode="edge").view(np.uint8)
    rows = inside[:-2] + inside[1:-1]
    rows += inside[2:]
    votes = rows[:, :-2] + rows[:, 1:-1]
    votes += rows[:, 2:]
    majority = torch.where(torch.from_numpy(votes >= 5), 0.05, -0.05).to(logits.dtype)
    return torch.where(logits.abs() < weak, majority, logits)


def guided_refine(logits: torch.Tensor, image: torch.Tensor, opts: RefineOptions = RefineOptions()) -> torch.Tensor:
    """``logits`` and ``image`` (values in [0, 1]): (H, W) float32 -> refined (H, W) logits."""
    if not opts.enabled:
        return logits
    uncertain = logits.abs() < opts.band
    s = max(int(opts.subsample), 1)
    rows, cols = crop_around(uncertain.numpy(), opts.radius + 2 * s)
    if rows.stop == rows.start:
        return logits
    r0, r1, c0, c1 = rows.start, rows.stop, cols.start, cols.stop
    lg = logits[r0:r1, c0:c1]
    guide = image[r0:r1, c0:c1].float()
    h, w = lg.shape
    prob = torch.sigmoid(lg.clamp(-opts.band, opts.band))
    g = guide - guide.mean()  # centred: the window statistics below lose no precision in float32
    x = torch.stack([g, g * g, prob])[None]  # (1, 3, h, w)
    hs, ws = -(-h // s) * s, -(-w // s) * s
    if (hs, ws) != (h, w):
        x = F.pad(x, (0, ws - w, 0, hs - h), mode="replicate")
    small = F.avg_pool2d(x, s) if s > 1 else x
    g1, g2, pr = small.unbind(dim=1)
    rs = max(opts.radius // s, 1)
    means = box_mean(torch.stack([g1, g2, pr, g1 * g1, g1 * g2, g2 * g2, g1 * pr, g2 * pr], dim=1), rs)
    m1, m2, mp, e11, e12, e22, e1p, e2p = means.unbind(dim=1)
    # per window: least squares p ~ k1 * I + k2 * I^2 + b, ridge-regularised by eps
    v11, v12, v22 = e11 - m1 * m1 + opts.eps, e12 - m1 * m2, e22 - m2 * m2 + opts.eps_square
    cov1, cov2 = e1p - m1 * mp, e2p - m2 * mp
    det = v11 * v22 - v12 * v12
    k1, k2 = (v22 * cov1 - v12 * cov2) / det, (v11 * cov2 - v12 * cov1) / det
    coef = box_mean(torch.stack([k1, k2, mp - k1 * m1 - k2 * m2], dim=1), rs)
    if s > 1:
        coef = F.interpolate(coef, scale_factor=s, mode="bilinear", align_corners=False)
    coef = coef[0, :, :h, :w]
    q = (coef[0] * g + coef[1] * g * g + coef[2]).clamp(1e-4, 1 - 1e-4)
    refined = torch.log(q / (1 - q))
    if opts.tidy > 0:
        refined = _tidy(refined, opts.tidy)
    out = logits.clone()
    out[r0:r1, c0:c1] = torch.where(uncertain[r0:r1, c0:c1], refined, lg)
    return out
