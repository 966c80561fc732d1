"""Propagation: carry one object's mask from its key slices into the neighbouring slices.

The user prompts a few key slices; for the slice next to a finished one the model gets a prompt
derived from that finished mask (the mask itself as logits, its enlarged bounding box, interior
points), segments it, and the walk goes on until the object vanishes, changes too much (IoU rule),
reaches a stop slice, the range limit or the volume border. Between two key slices both ends walk
towards each other and meet in the middle, so every slice comes from its nearer key.

Everything here is cheap bookkeeping around the model's ``decode``: per slice it works in the masks'
bounding boxes and computes a (subsampled) distance transform only when the ``points`` mode needs it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from napari_medseg.core.appearance import AppearanceModel
from napari_medseg.core.between_slices import fill_between
from napari_medseg.core.faint_blobs import smooth_faint_blob
from napari_medseg.core.feature_appearance import FeatureAppearance, SliceFeatures
from napari_medseg.core.neighbour_growth import drop_growth_into_neighbour
from napari_medseg.core.prompts import BoxPrompt, PointPrompt, Prompt, SliceRef
from napari_medseg.core.slice_prompts import (
    Box,
    bounding_box,
    enlarge_box,
    interior_points,
    keep_overlapping,
    mask_logits,
    outside_points,
)
from napari_medseg.errors import CancelledError, MedsegError

PROMPT_MODES = ("mask", "box", "points")
DIRECTIONS = ("both", "forward", "backward")

DecodeSlice = Callable[[int, list[Prompt], "np.ndarray | None"], np.ndarray]
SliceImage = Callable[[int, slice, slice], np.ndarray]  # (index, rows, cols) -> [0, 1] image region
FeaturesOf = Callable[[int], "SliceFeatures | None"]  # index -> the model's image features, or None


@dataclass
class PropagationOptions:
    """How the prompt for the next slice is derived and when the walk stops."""

    prompt_mode: str = "mask+box"  # any '+'-join of: mask, box, points
    iou_threshold: float = 0.3  # stop when IoU(previous slice, new slice) < this (0.3: dev volumes, 2026-12-01)
    min_area: int = 4  # stop when the mask has fewer pixels (it vanished)
    max_distance: int | None = None  # range limit in slices from the key slice
    stop_slices: frozenset[int] = frozenset()  # never segmented; a walk ends before them
    direction: str = "both"  # both | forward (+1) | backward (-1)
    box_margin: float = 0.1  # the box is enlarged by this fraction of its size per side (>= 2 px)
    n_points: int = 3  # positive interior points for the "points" mode
    negative_points: bool = True  # "points" mode: add negatives just outside the enlarged box
    keep_overlapping: bool = True  # keep only the components that overlap the previous mask
    raw_logits: bool = False  # "mask" mode: pass the previous slice's own logits, not the mask
    fill_gaps: bool = True  # between key slices, a walk that stopped early is made up by the other
    max_gap: int = 2  # where the object is missing on a slice, look this many slices further on
    # ...but only while the mask holds at least this share of the key slice's area: an object that
    # tapered to its end is not looked for past a gap (a stray blob there was taken for it)
    gap_min_share: float = 0.1
    mask_scale: float = 8.0  # confidence of the mask-as-logits prompt
    # stop when the share of object-like pixels in the mask falls below this fraction of the key
    # slice's share (the mask has left the object; needs the slice images); 0 turns the rule off
    appearance_ratio: float = 0.5
    appearance_trim: bool = True  # also drop mask pixels whose intensity looks like the surroundings
    # judge by the model's image features too (when the model offers them), with the same ratio and
    # trim: tells an organ from a touching tissue of the same brightness (dev volumes, 2026-12-01)
    feature_appearance: bool = True
    # the feature trim holds what the mask grew by (pixels outside the previous slice's mask) to the
    # object's side (score >= 0) rather than one spread beyond it; None: on for absolute intensities
    # (CT), off for relative ones (MR), decided by the session; ``propagate`` alone takes None as on
    # (dev volumes, 2026-12-05)
    growth_look: bool | None = None
    # after the walks, a slice gains the object-like pixels inside the shape its two neighbours agree
    # on (shape-based interpolation; needs the slice images; ``core/between_slices.py``)
    fill_between: bool = True
    # while the walk's mask is smaller than the key slice's, what a step adds more than this many
    # pixels beyond the previous mask is dropped where the previous slice showed an object-looking
    # tissue beside the mask (``core/neighbour_growth.py``); None turns it off (held-out phantoms,
    # 2026-12-06)
    neighbour_allowance: float | None = 1.0
    # at the end, a faint blob's walked slices are smoothed in 3D with their volume kept (needs the
    # slice images; ``core/faint_blobs.py``: a faint lesion's outline follows the noise on each slice)
    smooth_faint_blobs: bool = True
    modes: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.stop_slices = frozenset(int(s) for s in self.stop_slices)
        self.modes = frozenset(m.strip() for m in str(self.prompt_mode).split("+") if m.strip())

    def validate(self) -> None:
        """Raise :class:`MedsegError` (one line) for options that cannot work."""
        unknown = sorted(self.modes - set(PROMPT_MODES))
        if not self.modes or unknown:
            raise MedsegError(
                f"unknown propagation prompt mode '{self.prompt_mode}'; use a '+'-join of {', '.join(PROMPT_MODES)}"
            )
        if self.direction not in DIRECTIONS:
            raise MedsegError(
                f"unknown propagation direction '{self.direction}'; use one of {', '.join(DIRECTIONS)}"
            )
        if not 0.0 <= self.iou_threshold <= 1.0:
            raise MedsegError(f"iou_threshold must lie in [0, 1], got {self.iou_threshold}")
        if self.min_area < 0:
            raise MedsegError(f"min_area must be >= 0, got {self.min_area}")
        if self.max_distance is not None and self.max_distance < 0:
            raise MedsegError(f"max_distance must be >= 0 or None, got {self.max_distance}")
        if self.box_margin < 0:
            raise MedsegError(f"box_margin must be >= 0, got {self.box_margin}")
        if not 0.0 <= self.appearance_ratio <= 1.0:
            raise MedsegError(f"appearance_ratio must lie in [0, 1], got {self.appearance_ratio}")
        if self.neighbour_allowance is not None and self.neighbour_allowance < 0:
            raise MedsegError(f"neighbour_allowance must be >= 0 or None, got {self.neighbour_allowance}")
        if self.max_gap < 0:
            raise MedsegError(f"max_gap must be >= 0, got {self.max_gap}")
        if not 0.0 <= self.gap_min_share <= 1.0:
            raise MedsegError(f"gap_min_share must lie in [0, 1], got {self.gap_min_share}")
        if self.n_points < 1:
            raise MedsegError(f"n_points must be >= 1, got {self.n_points}")


@dataclass(frozen=True)
class Walk:
    """One directed walk: from ``key`` by ``step`` (+1/-1) up to ``last`` (inclusive)."""

    key: int
    step: int
    last: int

    @property
    def length(self) -> int:
        return max(0, (self.last - self.key) * self.step)


def plan_walks(keys: Sequence[int], depth: int, options: PropagationOptions) -> list[Walk]:
    """The walks that fill the gaps between the key slices and beyond the outermost ones."""
    keys = sorted(set(int(k) for k in keys))
    walks: list[Walk] = []
    both = options.direction == "both"
    for i, key in enumerate(keys):
        nxt = keys[i + 1] if i + 1 < len(keys) else None
        prv = keys[i - 1] if i > 0 else None
        if options.direction in ("both", "forward"):
            if nxt is None:
                last = depth - 1
            else:
                last = (key + nxt) // 2 if both else nxt - 1
            walks.append(_limit(Walk(key, +1, last), options))
        if options.direction in ("both", "backward"):
            if prv is None:
                last = 0
            else:
                last = (prv + key) // 2 + 1 if both else prv + 1
            walks.append(_limit(Walk(key, -1, last), options))
    return [w for w in walks if w.length > 0]


def _limit(walk: Walk, options: PropagationOptions) -> Walk:
    last = walk.last
    if options.max_distance is not None:
        far = walk.key + walk.step * options.max_distance
        last = min(last, far) if walk.step > 0 else max(last, far)
    for s in options.stop_slices:
        if (s - walk.key) * walk.step > 0 and (last - s) * walk.step >= 0:
            last = s - walk.step
    return Walk(walk.key, walk.step, last)


def propagate(
    decode_slice: DecodeSlice,
    key_masks: dict[int, np.ndarray],
    depth: int,
    options: PropagationOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    on_slice: Callable[[int, np.ndarray], None] | None = None,
    axis: int = 0,
    slice_image: SliceImage | None = None,
    slice_features: FeaturesOf | None = None,
) -> dict[int, np.ndarray]:
    """Segment the slices around ``key_masks`` of one object; returns {index: bool mask}.

    The key slices keep their masks and are not part of the result. ``decode_slice(index, prompts,
    prev_logits)`` runs the model on slice ``index`` (prompts in plane coordinates, on ``SliceRef(axis,
    index)``). ``on_slice(index, mask)`` is called as each slice finishes, ``progress(done,
    total_estimate)`` after it; ``cancel()`` returning True raises :class:`CancelledError` between
    slices, after everything finished so far went through ``on_slice``. With ``slice_image(index,
    rows, cols)`` (a region of the slice after the intensity preset, unclipped) the appearance rule applies
    (``options.appearance_ratio``, ``options.appearance_trim``); with ``slice_features(index)`` (the
    model's features of the slice, see ``core/feature_appearance.py``) it judges those too.
    """
    options = options or PropagationOptions()
    options.validate()
    keys = _check_keys(key_masks, depth)
    walks = plan_walks(keys, depth, options)
    walker = _Walker(decode_slice, options, axis, progress, cancel, on_slice, slice_image, slice_features)
    walker.total = sum(w.length for w in walks)
    ends: dict[tuple[int, int], _State | None] = {}
    for walk in walks:
        start = _State.of(np.asarray(key_masks[walk.key], dtype=bool), None)
        if start.area and slice_image is not None and options.appearance_ratio > 0:
            start.look = AppearanceModel.from_key(partial(slice_image, walk.key), start.mask)
        if start.area and slice_features is not None and options.feature_appearance and options.appearance_ratio > 0:
            start.feature_look = FeatureAppearance.from_key(slice_features(walk.key), start.mask)
        if start.area == 0:
            walker.total -= walk.length
            continue
        start.key_area, start.index = start.area, walk.key
        ends[(walk.key, walk.step)] = walker.run(start, walk)
    if options.direction == "both" and options.fill_gaps:
        for a, b in zip(keys[:-1], keys[1:], strict=True):
            _fill_gap(walker, a, b, ends, options)
    if options.fill_between and slice_image is not None and walker.results:
        for index, mask in sorted(fill_between(walker.results, key_masks, walker.looks, slice_image).items()):
            walker.results[index] = mask
            if on_slice is not None:
                on_slice(index, mask)
    if options.smooth_faint_blobs and slice_image is not None and walker.results:
        for index, mask in sorted(smooth_faint_blob(walker.results, key_masks, slice_image).items()):
            walker.results[index] = mask
            if on_slice is not None:
                on_slice(index, mask)
    return walker.results


class _Walker:
    """Runs walks slice by slice, delivering results, progress and cancellation."""

    def __init__(self, decode_slice, options, axis, progress, cancel, on_slice, slice_image=None,
                 slice_features=None) -> None:
        self.decode_slice, self.options, self.axis = decode_slice, options, axis
        self.slice_image, self.slice_features = slice_image, slice_features
        self.progress, self.cancel, self.on_slice = progress, cancel, on_slice
        self.results: dict[int, np.ndarray] = {}
        self.looks: dict[int, AppearanceModel | None] = {}  # each result's key look (fill_between)
        self.done = self.total = 0

    def run(self, state: _State, walk: Walk) -> _State | None:
        """Walk from ``state`` (the mask on ``walk.key``); the last state if it got to ``walk.last``.

        Where a stop rule fires, up to ``options.max_gap`` slices further on are tried with the same
        prompt (while the mask holds ``options.gap_min_share`` of its key slice's area); if the object
        is there again the walk goes on from it and the skipped slices stay empty.
        """
        index, walked = walk.key + walk.step, 0
        tapered = self.options.gap_min_share * state.key_area  # below this area the object is ending
        while (walk.last - index) * walk.step >= 0:
            self._check_cancel()
            nxt = _next_slice(self, state, index)
            skipped = 0
            gap = self.options.max_gap if state.area >= tapered else 0
            while (
                nxt is None
                and skipped < gap
                and (walk.last - index - (skipped + 1) * walk.step) * walk.step >= 0
            ):
                skipped += 1
                self._check_cancel()
                ahead = index + skipped * walk.step
                nxt = _next_slice(self, state, ahead)
            if nxt is None:
                self.total -= walk.length - walked
                if self.progress is not None:
                    self.progress(self.done, self.total)
                return None
            index += skipped * walk.step
            walked += skipped + 1
            self.total -= skipped  # the skipped slices stay empty
            state = nxt
            self.results[index] = state.mask
            self.looks[index] = state.look
            self.done += 1
            if self.on_slice is not None:
                self.on_slice(index, state.mask)
            if self.progress is not None:
                self.progress(self.done, self.total)
            index += walk.step
        return state

    def _check_cancel(self) -> None:
        if self.cancel is not None and self.cancel():
            raise CancelledError(
                f"propagation cancelled after {self.done} slices; the slices finished so far are kept"
            )


def _fill_gap(walker: _Walker, a: int, b: int, ends: dict, options: PropagationOptions) -> None:
    """When one of the two walks between key slices ``a`` < ``b`` stopped early, carry the other on."""
    lo, hi = a, b
    while lo + 1 < b and lo + 1 in walker.results:
        lo += 1
    while hi - 1 > lo and hi - 1 in walker.results:
        hi -= 1
    if hi - lo <= 1:
        return
    for key, step, frm, to in ((a, +1, lo, hi - 1), (b, -1, hi, lo + 1)):
        state = ends.get((key, step))
        if state is None or state.mask is not walker.results.get(frm):
            continue  # that walk stopped too (or never reached the gap)
        walk = _limit(Walk(key, step, to), options)
        rest = Walk(frm, step, walk.last)
        if rest.length > 0:
            walker.total += rest.length
            walker.run(state, rest)
        return


def _check_keys(key_masks: dict[int, np.ndarray], depth: int) -> list[int]:
    if not key_masks:
        raise MedsegError("propagation needs at least one key slice with a mask; commit a slice first")
    shapes = {np.shape(m) for m in key_masks.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise MedsegError(f"key masks must be 2D and all of one shape, got {sorted(shapes)}")
    keys = sorted(int(k) for k in key_masks)
    if keys[0] < 0 or keys[-1] >= depth:
        raise MedsegError(f"key slices {keys} must lie in 0..{depth - 1}")
    return keys


@dataclass
class _State:
    """A finished slice: its mask, bounding box, area and (optionally) the logits it came from."""

    mask: np.ndarray
    box: Box | None
    area: int
    logits: np.ndarray | None
    look: AppearanceModel | None = None  # the key slice's appearance, carried along the walk
    feature_look: FeatureAppearance | None = None  # the same in the model's features
    key_area: int = 0  # the key slice's area, carried along too (the gap rule's yardstick)
    index: int | None = None  # the slice it is on (the neighbour rule reads that slice again)

    @classmethod
    def of(cls, mask: np.ndarray, logits: np.ndarray | None) -> _State:
        box = bounding_box(mask)
        area = 0 if box is None else int(np.count_nonzero(mask[box[0] : box[1], box[2] : box[3]]))
        return cls(mask, box, area, logits)


def _next_slice(walker: _Walker, prev: _State, index: int) -> _State | None:
    """Decode slice ``index`` from the previous slice's result; None when a stop rule fires."""
    options, axis = walker.options, walker.axis
    shape = prev.mask.shape
    assert prev.box is not None
    ref = SliceRef(axis, index)
    prompts: list[Prompt] = []
    if "box" in options.modes or "points" in options.modes:
        enlarged = enlarge_box(prev.box, shape, options.box_margin)
    if "box" in options.modes:
        r0, r1, c0, c1 = enlarged
        prompts.append(BoxPrompt(ref, (float(r0), float(c0)), (float(r1 - 1), float(c1 - 1))))
    if "points" in options.modes:
        prompts.extend(
            PointPrompt(ref, p, True) for p in interior_points(prev.mask, prev.box, options.n_points)
        )
        if options.negative_points:
            prompts.extend(PointPrompt(ref, p, False) for p in outside_points(enlarged, shape))
    prev_logits = None
    if "mask" in options.modes:
        if options.raw_logits and prev.logits is not None:
            prev_logits = prev.logits
        else:
            prev_logits = mask_logits(prev.mask, prev.box, options.mask_scale)
    logits = np.asarray(walker.decode_slice(index, prompts, prev_logits), dtype=np.float32)
    if logits.shape != shape:
        raise MedsegError(f"the model returned logits of shape {logits.shape} for a slice of {shape}")
    mask = logits > 0
    box = bounding_box(mask)
    if box is not None and options.keep_overlapping:
        mask, box = keep_overlapping(mask, box, prev.mask)
    ratio, trim = options.appearance_ratio, options.appearance_trim
    if box is not None and prev.look is not None and walker.slice_image is not None and ratio > 0:
        judged = prev.look.judge(partial(walker.slice_image, index), mask, ratio, trim)
        if judged is None:
            return None
        if judged is not mask:
            mask, box = judged, bounding_box(judged)
    if box is not None and prev.feature_look is not None and walker.slice_features is not None and ratio > 0:
        previous = prev.mask if options.growth_look is not False else None
        judged = prev.feature_look.judge(walker.slice_features(index), mask, ratio, trim, previous)
        if judged is None:
            return None
        if judged is not mask:
            mask, box = judged, bounding_box(judged)
    allowance = options.neighbour_allowance
    if (box is not None and allowance is not None and prev.look is not None and prev.area < prev.key_area
            and prev.index is not None and walker.slice_image is not None):
        kept = drop_growth_into_neighbour(mask, prev.mask, prev.look, partial(walker.slice_image, prev.index),
                                          allowance)
        if kept is not mask:
            mask, box = kept, bounding_box(kept)
            if box is not None and options.keep_overlapping:
                mask, box = keep_overlapping(mask, box, prev.mask)
    state = _State(mask, box, 0, None, prev.look, prev.feature_look, prev.key_area, index)
    if box is not None:
        state.area = int(np.count_nonzero(mask[box[0] : box[1], box[2] : box[3]]))
    if state.area < max(options.min_area, 1):
        return None
    if iou(prev, state) < options.iou_threshold:
        return None
    if options.raw_logits:
        state.logits = _clamp_removed(logits, mask, options.mask_scale)
    return state


def iou(a: _State, b: _State) -> float:
    """Intersection over union of two finished slices, computed inside their joint box."""
    if a.box is None or b.box is None:
        return 0.0
    r0, r1 = min(a.box[0], b.box[0]), max(a.box[1], b.box[1])
    c0, c1 = min(a.box[2], b.box[2]), max(a.box[3], b.box[3])
    ma, mb = a.mask[r0:r1, c0:c1], b.mask[r0:r1, c0:c1]
    inter = int(np.count_nonzero(ma & mb))
    union = a.area + b.area - inter
    return inter / union if union else 0.0


def _clamp_removed(logits: np.ndarray, mask: np.ndarray, scale: float) -> np.ndarray:
    """The slice's logits with the pixels that post-processing removed pushed below zero."""
    removed = logits > 0
    removed &= ~mask
    if not removed.any():
        return logits
    out = logits.copy()
    out[removed] = -scale
    return out
