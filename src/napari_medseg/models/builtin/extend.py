"""Extension of a first answer from clicks or scribbles over the object's own connected intensities.

From a click the network's confidence fades with distance, and the calibrated mask (clicks and
scribbles -1.5 logit on large objects, ``calibration.py``) can stop in the middle of a large, even organ where no edge
is: on the development phantoms one click in the liver covered its lower half. The answer's confident
core says what the object looks like. Pixels that the network did not firmly reject (logit above
``floor``), whose lightly smoothed intensity lies within ``spread`` standard deviations of the core's
median, and that reach the core through such pixels, join the mask (their logit is raised to
``boost``), and so do the pixels they enclose (noise must not leave holes). When more pixels would
join than ``max_growth`` times the mask, none does: the object's brightness then runs on far beyond
it, into a neighbour of the same brightness.

Chosen on the development volumes (``bench --sets dev``, 2026-12-01) together with the click/scribble
offset (-1 -> -1.5): Dice@1 clicks 0.832 -> 0.874, scribbles 0.865 -> 0.875, 3D Dice from a click
0.843 -> 0.885; criterion 1.754 -> 1.780. Only the first answer on a slice is extended; corrections
and propagation refine a previous mask instead. About 1.3 ms at 512x512.

The growth limit went 1 -> 4 and the floor -2.5 -> -4 later (2026-12-02), for MR: one click in a
brain phantom's white matter (``bench --sets dev-mr``) covered the strip between the ventricles and
stopped there, the network's logits on the rest of the white matter lying between -5 and -2.5.
MR dev clicks Dice@1 0.415 -> 0.451, 3D 0.415 -> 0.462; on the CT dev set clicks and scribbles
moved by at most 0.001 (Dice@1 0.886 -> 0.887, 3D 0.893 -> 0.896). A floor of -5 gave MR 0.469 but
CT 0.884.

On relative intensities (MR percentiles; ``RELATIVE_EXTEND``, 2026-12-02) that window is still too
narrow: a tissue's brightness drifts across an MR slice with the bias field and noise, and a window of
the core's own spread passes too few of its pixels to stay connected. There the window reaches halfway
from the core's median to the median of a 3 px ring around the answer (toward the surroundings: the
grey matter and ventricles around white matter) and two standard deviations the other way, with a floor
of -6 and up to twenty times the mask. MR dev: clicks Dice@1 0.451 -> 0.724, 3D 0.462 -> 0.638,
Dice@5 0.925 -> 0.956; scribbles Dice@1 0.764 -> 0.780, 3D 0.717 -> 0.727. On the CT dev set the
same rule cost 0.04 of the criterion (1.798 -> 1.756 for clicks and scribbles: a click's answer on a phantom spleen
and aorta leaked into a neighbour, Dice@1 0.84 -> 0.66 and 0.91 -> 0.77, and walks ran 1.4 slices
beyond instead of 0.3), so absolute intensities (a CT window) keep the window above. Tried for both
and not adopted: smoothing sigma 2 / 3 px, re-estimating the window on what joined (3 rounds),
8-connectivity, a window of 1.5 / 2 standard deviations (CT 3D leaks); and gating the rule by how few
of the slice's pixels lie beyond the core on the far side (no threshold kept the phantom aorta out
and let the white matter in).

Only the prompted pieces (``prompted_only``, 2026-12-05): the network's answer to a click on a dev
MR brain's grey matter held small unconnected patches beside the clicked band; their cores took part
in the window's statistics and seeded joins, and whether the band grew around the brain hung on them
(two pixels more or less moved the answer by 1,000 px). The pieces no positive prompt touches, which
the session drops anyway (``core/components.py``), now take no part. MR dev criterion 1.6091 ->
1.6193 (grey matter clicks Dice@1 0.61 -> 0.78, 3D 0.56 -> 0.70); clicks Dice@5 0.960 -> 0.965;
corrections (mean Dice@3/@5) 0.9554 -> 0.9557; the CT dev set unchanged (1.8189, 0.9504).

A stroke across tissues (``stroke_range``, MR only, 2026-12-05): a scribble along a dev MR brain's
skeleton crosses white matter and both ventricles, and the answer was the white matter with the
ventricles (brain Dice@1 0.68): the window, built around the confident core's median, left out the
grey matter whose brightness lies between the two tissues the stroke crossed. Now, when the 10th to
90th percentiles of the smoothed intensities under the positive scribbles reach beyond the window,
the window widens to them, and the feature guard (fitted on the answer, i.e. on one of the tissues)
is not applied: the stroke said the object holds several looks. MR dev scribbles Dice@1 0.780 ->
0.856, 3D 0.727 -> 0.842 (brains 0.68 -> 0.98; percentile 5 the same), Dice@5 0.970 -> 0.969;
criterion 1.5614 -> 1.6091. Without the guard exception the brains reached only 0.80 / 0.75; the
guard off for every MR first answer cost 1.5614 -> 1.5576. On the CT dev set the rule lowered
scribbles Dice@1 0.919 -> 0.914 (percentile 10) / 0.909 (5) and 3D 0.905 -> 0.885 / 0.881 (a spleen
and a lesion leaked), so absolute intensities leave it off.

Clicks on several tissues (``click_range``, MR only, 2026-12-05): two or more positive clicks count
toward that range too (a 2 px disc each), so a first click on a brain's ventricle, answered with the
ventricle, and a second in its white matter ask for the whole they form. The correction's fresh
answer (``whole_answer.whole_from_fresh``) is a first answer to all the clicks and gets the wide window.
Motivated by an evaluation case (the MNI template's brain, whose most interior point lies in the
ventricles: Dice 0.06, 0.10, 0.28, 0.39, 0.53 over five clicks), chosen on the MR development
phantoms with ``benchmarks/dev_mr_whole_from_part.py``: the brains of seeds 3 and 4 with the first
click on the ventricles' or the grey matter's most interior point, then the simulated user's clicks;
mean Dice@2 / @3 / @5 0.616 / 0.654 / 0.926 -> 0.830 / 0.871 / 0.984 (0.831 / 0.873 / 0.992 with
``correction.interior_depth``, added after). ``bench --sets dev-mr`` is
unchanged to four digits (none of its click sequences spans two tissues); CT leaves it off with
``stroke_range``.

The surroundings' brightness (``ring_percentile``, MR only, 2026-12-06): a first answer that stops
inside its tissue (a click's answer covering the central white matter of a folded brain, short of
its gyral cores) has a ring that is partly the same tissue, so the ring's median lies near the
object's, "halfway" lies too close to it and the window passes too little to reach the rest. For
answers to clicks the surroundings are now the ring's 20th percentile on their side (the 80th when
brighter). Chosen on ``bench --sets dev-mr`` and the folded phantoms of ``dev-mr-folded``: criterion
1.6470 / 1.2826 -> 1.6737 / 1.3033 (percentile 40 / 30 / 20 / 10 for clicks and scribbles: 1.6545 /
1.2933, 1.6672 / 1.2966, 1.6731 / 1.2992, 1.6722 / 1.2995: a scribble's answer covers more of its
tissue, and its white matter Dice@1 fell by 0.01 to 0.05 with it); a dev-mr grey matter's click
0.688 -> 0.859 (3D 0.382 -> 0.723), a folded average's white matter 0.611 -> 0.804 (3D 0.518 ->
0.817); dev-mr clicks on slices scaled 1 / 2.5 / 3.5 / 4.5x (``bench_slice_scale.py``) 0.758 / 0.685 /
0.563 / 0.478 -> 0.805 / 0.755 / 0.588 / 0.492; ``dev_mr_whole_from_part.py`` Dice@1 / @2 / @3 / @5
0.423 / 0.847 / 0.889 / 0.998 -> 0.455 / 0.869 / 0.906 / 0.997. A window reaching 60 % of the way
instead of 50 % (``contrast``) gained less (1.6476 / 1.2923). CT keeps the median.

A stroke's answer that would grow by little (``min_growth_strokes``, CT only, 2026-12-08,
thirty-second session): listing per stage what CT strokes' first answers gain and lose (development
phantoms 7, 8; held-out 9-16) showed the extension costing every vertebra 0.03-0.05 (it filled the
spinal canal the answer's ring encloses), most spleens 0.02-0.12 (a leak into the body wall) and most
right kidneys 0.02-0.06 (the renal vein through the hilum), each by adding 1-30 % of the answer,
while the livers it completed grew by 22-64 %. A stroke's answer already covers what the stroke was
drawn along; an answer to positive strokes now joins nothing when less than 15 % of it would join.
Dev strokes Dice@1 0.9195 -> 0.9222, 3D 0.9147 -> 0.9195 (a spleen 0.679 -> 0.769, a kidney 0.871
-> 0.935), @5 0.9608 -> 0.9603; held-out phantoms 9-16 and synthetic volumes 90-97 Dice@1 0.9023 ->
0.9038, 3D 0.8931 -> 0.8935, @5 0.9667 -> 0.9671. What it costs: the lesions' small fills (held-out
3D -0.001 to -0.036), livers whose answer was short by a little (held-out -0.004 / -0.007 at 1), and
vertebra walks that, from a key slice without the canal, run into the aorta (see
docs/model-development.md). 20 % chose the same. On MR the limit cost the ventricles' strokes a
little (dev-mr Dice@1 0.8560 -> 0.8548): off there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from napari_medseg.core.appearance import crop_around
from napari_medseg.core.components import fill_holes, keep_prompted
from napari_medseg.core.feature_appearance import TRIM_MARGIN, FeatureAppearance, FeatureSource
from napari_medseg.core.morphology import within_distance
from napari_medseg.core.prompts import PointPrompt, Prompt, rasterize, rasterize_point
from napari_medseg.models.builtin.calibration import clicks_and_scribbles_only

MIN_CORE = 9  # pixels: a smaller core says too little about the object's intensities
CLICK_RADIUS = 2.0  # px: the disc of a click whose intensities count toward the drawn range


@dataclass(frozen=True)
class ExtendOptions:
    core: float = 1.0  # logits above this are the object's core
    floor: float = -4.0  # logits at or below this were firmly rejected and stay out
    spread: float = 1.0  # intensity window: the core's median +- this many of its standard deviations
    boost: float = 0.5  # the logit a joining pixel gets (at least)
    max_growth: float = 4.0  # join nothing when more pixels than this times the mask would join
    sigma: float = 1.0  # px: gaussian smoothing of the slice before the intensity test
    feature_guard: bool = True  # with the model's features: the surroundings' side does not join
    # > 0: the window reaches this share of the way from the core's median to the median of a ring
    # ``ring`` px outside the answer (toward the surroundings), and ``far_side`` standard deviations
    # the other way; 0: the symmetric window of ``spread`` alone
    contrast: float = 0.0
    far_side: float = 2.0
    ring: float = 3.0
    # the surroundings' brightness: this percentile of the ring on its own side of the core (50: the
    # ring's median)
    ring_percentile: float = 50.0
    ring_percentile_strokes: bool = False  # ...for answers to scribbles too (False: to clicks only)
    # > 0: a positive scribble's intensities between these percentiles (this and 100 - this) widen
    # the window when they reach beyond it, and then the feature guard is not applied
    stroke_range: float = 0.0
    # with ``stroke_range``: positive clicks (a disc of ``CLICK_RADIUS`` px each) count as drawn too
    # when there are two or more positive prompts (one click has no range)
    click_range: bool = False
    # the answer's pieces that no positive prompt touches (the session drops them) neither say what
    # the object looks like nor seed what joins
    prompted_only: bool = True
    # > 0: an answer to positive scribbles joins nothing when fewer pixels than this times the mask
    # would join: a stroke's answer already covers what it was drawn along, and a little more is a
    # leak along its border or what it encloses (CT, 2026-12-08; see the module docstring)
    min_growth_strokes: float = 0.15
    enabled: bool = True


# On relative intensities (a percentile range: MR) a tissue's brightness drifts across the slice with
# the bias field, and the answer's confident core covers too little of it for a window of its own
# spread: the window reaches halfway to the surroundings instead, and the network's weaker rejections
# (down to -6) and growth up to twenty times the mask are let through, and a stroke drawn across
# tissues of other brightness widens the window to what it crossed, as do clicks on several tissues
# (numbers in the module docstring).
RELATIVE_EXTEND = ExtendOptions(contrast=0.5, far_side=2.0, floor=-6.0, max_growth=20.0, stroke_range=10.0,
                                click_range=True, ring_percentile=20.0, min_growth_strokes=0.0)


def extend_first_answer(logits: np.ndarray, image: np.ndarray, prompts: Sequence[Prompt],
                        previous_given: bool, opts: ExtendOptions = ExtendOptions(),
                        features: FeatureSource | None = None) -> np.ndarray:
    """``logits`` with the connected, object-like pixels joined (a copy), or ``logits`` itself.

    With ``features()`` (the model's features of the slice, asked for only when pixels would join),
    pixels that lie clearly on the surroundings' side of a feature discriminant fitted on the answer
    (``core/feature_appearance.py``) do not join.
    """
    if not opts.enabled or previous_given or not prompts:
        return logits
    if not clicks_and_scribbles_only(prompts):
        return logits
    rows, cols = crop_around(logits > opts.floor, 2)
    sub = logits[rows, cols]
    core = sub > opts.core
    if opts.prompted_only:
        kept = keep_prompted(logits > 0, prompts)[rows, cols]
        sub = np.where((sub > 0) & ~kept, np.minimum(sub, -0.01), sub)  # a copy: logits stay as they are
        core &= kept
    if np.count_nonzero(core) < MIN_CORE:
        return logits
    smooth = ndimage.gaussian_filter(np.asarray(image[rows, cols], dtype=np.float32), opts.sigma)
    values = smooth[core]
    centre, spread = float(np.median(values)), float(values.std()) + 1e-4
    strokes = any(p.kind == "scribble" for p in prompts)
    low, high = _window(smooth, sub > 0, centre, spread, opts, median_ring=strokes and not opts.ring_percentile_strokes)
    stroke = _stroke_range(smooth, prompts, logits.shape, (rows, cols), opts)
    widened = stroke is not None and (centre - stroke[0] > low or stroke[1] - centre > high)
    if widened:  # a stroke across tissues of other brightness: the whole they form
        low, high = max(low, centre - stroke[0]), max(high, stroke[1] - centre)
    candidate = (smooth > centre - low) & (smooth < centre + high) & (sub > opts.floor)
    labels, _ = ndimage.label(candidate | core)
    reached = np.zeros(int(labels.max()) + 1, dtype=bool)
    reached[labels[core]] = True
    reached[0] = False
    # pixels enclosed by the joined region join too: noise must not leave holes in an even organ
    join = fill_holes(reached[labels] | (sub > 0)) & (sub > opts.floor) & ~(sub > 0)
    count, area = np.count_nonzero(join), np.count_nonzero(sub > 0)
    if count == 0 or count > opts.max_growth * area:
        return logits
    if count < opts.min_growth_strokes * area and any(p.kind == "scribble" and p.positive for p in prompts):
        return logits
    source = features() if opts.feature_guard and features is not None and not widened else None
    look = FeatureAppearance.from_key(source, logits > 0)
    if look is not None and source is not None:
        join &= look.score(source, rows, cols) >= -TRIM_MARGIN
    out = logits.copy()
    region = out[rows, cols]
    region[join] = np.maximum(region[join], opts.boost)
    return out


def _stroke_range(smooth: np.ndarray, prompts: Sequence[Prompt], shape: tuple[int, int],
                  crop: tuple[slice, slice], opts: ExtendOptions) -> tuple[float, float] | None:
    """The ``stroke_range`` and 100 - ``stroke_range`` percentiles of the smoothed intensities under
    the positive scribbles (with ``click_range`` and two or more positive prompts, also under the
    positive clicks' discs) in the crop, or None when off or when fewer than ``MIN_CORE`` pixels lie
    under them."""
    if opts.stroke_range <= 0:
        return None
    positive = [p for p in prompts if p.positive and p.kind in ("scribble", "point")]
    if not opts.click_range or len(positive) < 2:
        positive = [p for p in positive if p.kind == "scribble"]
    if not positive:
        return None
    drawn = np.zeros(shape, dtype=bool)
    for prompt in positive:
        if isinstance(prompt, PointPrompt):
            drawn |= rasterize_point(prompt.point, shape, CLICK_RADIUS)
        else:
            drawn |= rasterize(prompt, shape)
    values = smooth[drawn[crop]]
    if values.size < MIN_CORE:
        return None
    lo, hi = np.percentile(values, [opts.stroke_range, 100 - opts.stroke_range])
    return float(lo), float(hi)


def _window(smooth: np.ndarray, inside: np.ndarray, centre: float, spread: float,
            opts: ExtendOptions, median_ring: bool = False) -> tuple[float, float]:
    """How far below and above the core's median ``centre`` a joining pixel may lie."""
    low = high = opts.spread * spread
    if opts.contrast <= 0:
        return low, high
    ring = ~inside & within_distance(inside, opts.ring)
    if not ring.any():
        return low, high
    values = smooth[ring]
    step = float(np.median(values)) - centre  # toward the surroundings
    if opts.ring_percentile != 50.0 and not median_ring:
        q = opts.ring_percentile if step < 0 else 100.0 - opts.ring_percentile
        step = float(np.percentile(values, q)) - centre
    if step < 0:
        return max(low, -opts.contrast * step), opts.far_side * spread
    return opts.far_side * spread, max(high, opts.contrast * step)
