"""The annotation session: one volume, its labels, a model and the cache, with undo.

Everything the widgets, the command line and the evaluation do goes through here: prompts on a slice
give a preview (model decode on the cached embedding), a commit writes it into the label volume, a
propagation carries a label from its key slices through the volume. Every change is an undo step
that stores only the changed region of each slice (old and new values), never a copy of the volume.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from napari_medseg.core import components as _components
from napari_medseg.core import propagation as _propagation
from napari_medseg.core.beyond_window import trim_added, trim_within_window
from napari_medseg.core.cache import CacheKey, EmbeddingCache, precompute, volume_signature
from napari_medseg.core.intensity import DEFAULT_PRESET, IntensityPreset, get_preset
from napari_medseg.core.label_edits import SliceEdit, Step, write_slice
from napari_medseg.core.label_history import LabelHistory
from napari_medseg.core.prompts import (
    BoxPrompt,
    LassoPrompt,
    PointPrompt,
    Prompt,
    ScribblePrompt,
    SliceRef,
    validate_interaction,
)
from napari_medseg.core.propagation import PropagationOptions
from napari_medseg.core.session_inputs import as_labels, as_volume, check_axis, check_index, plane_index
from napari_medseg.core.volume_io import Volume
from napari_medseg.errors import MedsegError, PromptError
from napari_medseg.models.protocol import (
    DecodesPropagationSteps,
    Embedding,
    OffersAppearanceFeatures,
    PromptableModel,
    ReadsIntensityScale,
    logits_from_mask,
)
from napari_medseg.models.registry import DEFAULT_MODEL, load_model
from napari_medseg.models.working_scale import at_working_scale

_PROMPT_CLASSES = (PointPrompt, BoxPrompt, ScribblePrompt, LassoPrompt)


@dataclass(frozen=True)
class Preview:
    """The model's answer to the current interaction, not yet in the labels."""

    ref: SliceRef
    mask: np.ndarray  # bool (H, W)
    logits: np.ndarray  # float32 (H, W)
    prompts: tuple[Prompt, ...]
    label_id: int | None = None


class Session:
    """Preview, commit, propagate and undo on one volume (see docs/python-api.md)."""

    def __init__(
        self,
        image: Volume | np.ndarray,
        model: PromptableModel | str = DEFAULT_MODEL,
        labels: np.ndarray | None = None,
        preset: str | IntensityPreset = DEFAULT_PRESET,
        cache: EmbeddingCache | None = None,
        axis: int = 2,
        keep_prompted: bool = True,
    ) -> None:
        self.volume = as_volume(image)
        # a bare array has no voxel size: its slices are answered as they are (models/working_scale.py)
        self._spacing_known = isinstance(image, Volume)
        # previews keep only the pieces a positive prompt touches (see core/components.py)
        self.keep_prompted = keep_prompted
        # an answer on an object beyond the window loses what lies inside it, and the mirror (core/beyond_window.py)
        self.trim_beyond_window = True
        self.labels = as_labels(labels, self.volume.shape)
        self.model: PromptableModel = load_model(model) if isinstance(model, str) else model
        self.cache = cache if cache is not None else EmbeddingCache()
        self._axis = check_axis(axis)
        self._lock = threading.RLock()
        self._signature: str | None = None
        self._preview: Preview | None = None
        self._history = LabelHistory(self.labels)  # undo, redo, key and erased slices
        self.set_preset(preset)

    # --- geometry, intensities, embeddings ---------------------------------------------------

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.volume.shape

    @property
    def axis(self) -> int:
        return self._axis

    @axis.setter
    def axis(self, value: int) -> None:
        self._axis = check_axis(value)

    def set_preset(self, preset: str | IntensityPreset) -> None:
        """Choose the intensity preset; it is fitted once to the whole volume (not per slice)."""
        chosen = get_preset(preset) if isinstance(preset, str) else preset
        fitted = chosen.fit(np.asarray(self.volume.data))
        with self._lock:
            self.preset, self.intensity = chosen, fitted
            self.relative_intensity = chosen.is_relative(fitted)
            self._preview = None

    @property
    def signature(self) -> str:
        """Content hash of the volume, computed on first use (the cache key's volume part)."""
        if self._signature is None:
            self._signature = volume_signature(self.volume.data)
        return self._signature

    def working_model(self, axis: int | None = None) -> PromptableModel:
        """The model as it answers slices along ``axis``: on slices scaled to the pixel size it works
        at, when it names one and the volume's pixels in that plane are coarser (or, for a first click
        on MR, finer; models/working_scale.py); else (and for a bare array, which has no voxel size)
        the model itself."""
        axis = self._axis if axis is None else check_axis(axis)
        if not self._spacing_known:
            return self.model
        plane = [i for i in range(3) if i != axis]
        return at_working_scale(self.model, (self.volume.spacing[plane[0]], self.volume.spacing[plane[1]]),
                                (self.shape[plane[0]], self.shape[plane[1]]), self.relative_intensity)

    @property
    def model_key(self) -> str:
        """The cache key's model part along the session's axis: the model's identity (at its working
        scale) and the intensity preset."""
        return self._model_key(self._axis)

    def _model_key(self, axis: int) -> str:
        return f"{self.working_model(axis).identity}|{self.preset.key}"

    def cache_key(self, index: int, axis: int | None = None) -> CacheKey:
        axis = self._axis if axis is None else check_axis(axis)
        return CacheKey(self.signature, self._model_key(axis), axis, int(index))

    def slice_image(self, index: int, axis: int | None = None) -> np.ndarray:
        """Slice ``index`` along ``axis`` as the model sees it: float32 in [0, 1]."""
        axis = self._axis if axis is None else check_axis(axis)
        check_index(index, axis, self.shape)
        return self.intensity.apply(np.asarray(self.volume.data[plane_index(axis, index)]))

    def slice_region(self, index: int, rows: slice, cols: slice, axis: int | None = None,
                     clip: bool = True) -> np.ndarray:
        """A region of slice ``index`` as the model sees it (reads only that region of the volume);
        with ``clip=False`` values beyond the preset's window are kept (below 0, above 1)."""
        axis = self._axis if axis is None else check_axis(axis)
        check_index(index, axis, self.shape)
        where: list = [rows, cols]
        where.insert(axis, int(index))
        data = np.asarray(self.volume.data[tuple(where)])
        return self.intensity.apply(data) if clip else self.intensity.scale(data)

    def embedding(self, index: int, axis: int | None = None) -> Embedding:
        """The slice's embedding, encoded once and then served from the cache."""
        axis = self._axis if axis is None else check_axis(axis)
        check_index(index, axis, self.shape)
        return self.cache.get_or_compute(
            self.cache_key(index, axis), lambda: self.working_model(axis).encode(self.slice_image(index, axis))
        )

    def precompute(
        self,
        axis: int | None = None,
        progress: Callable[[int, int], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> int:
        """Encode every slice along ``axis`` into the cache; returns how many were encoded."""
        axis = self._axis if axis is None else check_axis(axis)
        return precompute(
            lambda i: self.slice_image(i, axis),
            self.shape[axis],
            self.working_model(axis),
            self.cache,
            self.signature,
            axis,
            model_key=self._model_key(axis),
            progress=progress,
            cancel=cancel,
        )

    # --- interaction: preview and commit -----------------------------------------------------

    @property
    def preview(self) -> Preview | None:
        return self._preview

    def clear_preview(self) -> None:
        with self._lock:
            self._preview = None

    def add_prompts(self, prompts: Prompt | Sequence[Prompt], label_id: int | None = None) -> Preview:
        """Add prompts to the current interaction and return the refined preview.

        Prompts on the preview's slice (for the same label) accumulate and refine its logits; another
        slice or label starts a new interaction. A new interaction for a label already present on
        that slice starts from that label's mask, so prompts correct an existing segmentation.
        """
        batch = [prompts] if isinstance(prompts, _PROMPT_CLASSES) else list(prompts)
        for p in batch:
            if not isinstance(p, _PROMPT_CLASSES):
                raise PromptError(
                    f"{type(p).__name__} is not a prompt; use PointPrompt, BoxPrompt, ScribblePrompt or LassoPrompt"
                )
        ref = validate_interaction(batch, self.shape)
        if label_id is not None:
            label_id = self._check_label(label_id)
        current = self._preview
        start_mask: np.ndarray | None = None
        if current is not None and current.ref == ref and label_id in (None, current.label_id):
            accumulated = current.prompts + tuple(batch)
            start: np.ndarray | None = current.logits
            start_mask = current.mask
            label_id = current.label_id
        else:
            accumulated, start = tuple(batch), None
            if label_id is not None:
                existing = self._plane(ref.axis, ref.index) == label_id
                if existing.any():
                    start, start_mask = logits_from_mask(existing), existing
        logits = self._decode(ref, list(accumulated), start)
        mask = logits > 0
        if self.trim_beyond_window:
            def region(rows: slice, cols: slice) -> np.ndarray:
                return self.slice_region(ref.index, rows, cols, ref.axis, clip=False)
            if start_mask is None:
                trimmed = trim_within_window(mask, accumulated, region)
            else:  # a correction: only what it added may go
                trimmed = trim_added(mask, start_mask, accumulated, batch, region)
            if trimmed is not mask:
                logits = np.where(mask & ~trimmed, -np.abs(logits), logits)
                mask = trimmed
        if self.keep_prompted:
            kept = _components.keep_prompted(mask, accumulated, start_mask)
            if kept is not mask:  # the dropped pieces leave the logits too, so a refinement keeps them out
                logits = np.where(mask & ~kept, -logits, logits)
                mask = kept
        preview = Preview(ref, mask, logits, accumulated, label_id)
        with self._lock:
            self._preview = preview
        return preview

    def commit(self, label_id: int, overwrite: bool = True) -> int:
        """Write the preview into the labels as ``label_id``; returns the voxels changed (one undo step).

        The preview replaces ``label_id`` on its slice. With ``overwrite=False`` voxels that already
        hold another label keep it.
        """
        label_id = self._check_label(label_id)
        with self._lock:
            preview = self._preview
            if preview is None:
                raise PromptError("nothing to commit: prompt the slice first (point, box, scribble or lasso)")
            edit = self._write_slice(preview.ref, preview.mask, label_id, overwrite)
            new_key = self._history.mark_key(label_id, preview.ref.axis, preview.ref.index)
            self._preview = None
            if edit is None:
                return 0
            self._history.push(Step([edit], () if new_key is None else (new_key,)))
            return edit.count

    # --- propagation ---------------------------------------------------------------------------

    def key_slices(self, label_id: int, axis: int | None = None) -> list[int]:
        """Slices along ``axis`` the user committed ``label_id`` on (else every slice holding it)."""
        axis = self._axis if axis is None else check_axis(axis)
        return self._key_slices(label_id, axis, self.slices_holding(label_id, axis))

    def _key_slices(self, label_id: int, axis: int, holding: np.ndarray) -> list[int]:
        tracked = sorted(index for index in self._history.tracked_keys(label_id, axis) if holding[index])
        return tracked or [int(i) for i in np.flatnonzero(holding)]

    def label_volume_ml(self, label_id: int) -> float:
        """The volume ``label_id`` covers, in millilitres (its voxels times the voxel size in mm^3)."""
        voxels = sum(int(np.count_nonzero(slab == label_id)) for slab in self._slabs())
        return voxels * float(np.prod(self.volume.spacing)) / 1000.0

    def _slabs(self):
        """The labels in contiguous slabs along axis 0 of about 8 MB each: a pass over the whole volume
        without a volume-sized temporary."""
        step = max(1, (8 << 20) // max(1, self.labels[0].size))
        for start in range(0, self.shape[0], step):
            yield self.labels[start : start + step]

    def slices_holding(self, label_id: int, axis: int | None = None) -> np.ndarray:
        """A bool per slice along ``axis``: does it hold ``label_id``? (One pass over the labels in
        contiguous slabs: far cheaper than testing strided slices one by one.)"""
        axis = self._axis if axis is None else check_axis(axis)
        out = np.zeros(self.shape[axis], dtype=bool)
        start = 0
        for labels in self._slabs():
            slab = labels == label_id
            if axis == 0:
                out[start : start + len(slab)] = slab.reshape(slab.shape[0], -1).any(axis=1)
            elif axis == 1:
                out |= slab.any(axis=2).any(axis=0)
            else:
                out |= slab.reshape(-1, slab.shape[2]).any(axis=0)
            start += len(slab)
        return out

    def propagate(
        self,
        label_id: int,
        options: PropagationOptions | None = None,
        progress: Callable[[int, int], None] | None = None,
        cancel: Callable[[], bool] | None = None,
        on_slice: Callable[[int, np.ndarray], None] | None = None,
        overwrite: bool = True,
    ) -> int:
        """Carry ``label_id`` from its key slices through the volume along the session's axis.

        Each finished slice is written at once (``on_slice(index, mask)`` follows), so a cancelled
        propagation keeps its work; the whole run, cancelled or not, is one undo step. Returns the
        number of voxels changed.
        """
        label_id = self._check_label(label_id)
        axis = self._axis
        holding = self.slices_holding(label_id, axis)  # slices known free of the label skip a scan
        keys = self._key_slices(label_id, axis, holding)
        if not keys:
            raise PromptError(f"label {label_id} is on no slice along axis {axis}; commit a mask first")
        key_masks = {index: self._plane(axis, index) == label_id for index in keys}
        options = options or PropagationOptions()
        if options.growth_look is None:  # absolute intensities (CT) only: see PropagationOptions
            options = replace(options, growth_look=not self.relative_intensity)
        erased = self.erased_slices(label_id, axis)
        if erased:  # a slice the user erased the label from by hand is a stop slice of its walks
            options = replace(options, stop_slices=options.stop_slices | frozenset(erased))
        edits: list[SliceEdit] = []

        def decode_slice(index: int, prompts: list[Prompt], prev_logits: np.ndarray | None) -> np.ndarray:
            return self._decode(SliceRef(axis, index), prompts, prev_logits, step=True)

        def write(index: int, mask: np.ndarray) -> None:
            with self._lock:
                edit = self._write_slice(SliceRef(axis, index), mask, label_id, overwrite, holding[index])
            if edit is not None:
                edits.append(edit)
                holding[index] = True  # a slice written again (the faint blob smoothing) may lose voxels
            if on_slice is not None:
                on_slice(index, mask)

        model = self.working_model(axis)

        def features(index: int) -> tuple[np.ndarray, int]:  # the model's view of the slice (feature_appearance.py)
            return model.appearance_features(self.embedding(index, axis))  # type: ignore[attr-defined]

        try:
            _propagation.propagate(
                decode_slice, key_masks, self.shape[axis], options, progress, cancel, write, axis=axis,
                slice_image=lambda index, rows, cols: self.slice_region(index, rows, cols, axis, clip=False),
                slice_features=features if isinstance(self.model, OffersAppearanceFeatures) else None,
            )
        finally:
            if edits:
                with self._lock:
                    self._history.push(Step(edits))
        return sum(e.count for e in edits)

    def segment_object(
        self,
        interactions: dict[int, list[Prompt]],
        label_id: int,
        propagate: bool = True,
        options: PropagationOptions | None = None,
    ) -> int:
        """Segment one object from its key slices' prompts: each slice's prompts in order, commit,
        then (optionally) propagate. Returns the voxels changed."""
        label_id = self._check_label(label_id)
        if not interactions:
            raise PromptError(f"label {label_id} has no prompts; give at least one prompt on a key slice")
        changed = 0
        for index, prompts in interactions.items():
            if not prompts:
                raise PromptError(f"slice {index} of label {label_id} has no prompts")
            for p in prompts:
                if p.slice != SliceRef(self._axis, int(index)):
                    raise PromptError(
                        f"a {p.kind} prompt of slice {index} lies on axis {p.slice.axis} slice {p.slice.index}; "
                        f"key slices must be on the session axis {self._axis}"
                    )
            self.clear_preview()
            for p in prompts:
                self.add_prompts([p], label_id)
            changed += self.commit(label_id)
        if propagate:
            changed += self.propagate(label_id, options)
        return changed

    # --- undo / redo -----------------------------------------------------------------------------

    @property
    def can_undo(self) -> bool:
        return self._history.can_undo

    @property
    def can_redo(self) -> bool:
        return self._history.can_redo

    def undo(self) -> bool:
        """Revert the last commit, propagation or recorded edit; False when there is nothing to undo."""
        with self._lock:
            return self._history.undo()

    def redo(self) -> bool:
        """Re-apply the last undone step; False when there is nothing to redo."""
        with self._lock:
            return self._history.redo()

    def record_edit(self, region: tuple[slice, slice, slice], before: np.ndarray, axis: int | None = None,
                    after: np.ndarray | None = None) -> int:
        """Make a change someone else made to the labels (a brush stroke or a fill in napari) one undo
        step, in order with the session's own: ``before`` holds ``region``'s values before the change,
        ``after`` after it (default: the labels there now; pass it when a later edit may have come first).
        A slice along ``axis`` (the one the edit was drawn across; default the session's) that it left
        a label on becomes a key slice of that label, as a commit's does, so that a propagation starts
        from the hand-drawn slice instead of drawing over it; one it took a label off entirely stays
        empty of that label when it is propagated again (the overshoot erased at a walk's end does not
        come back). Returns the voxels changed (0: nothing to record)."""
        axis = self._axis if axis is None else check_axis(axis)
        with self._lock:
            return self._history.record(region, before, axis, after)

    def erased_slices(self, label_id: int, axis: int | None = None) -> list[int]:
        """Slices along ``axis`` that ``label_id`` was erased from by hand (and not drawn on again, by hand
        or by a commit): propagation leaves them empty of it."""
        return self._history.erased_slices(label_id, self._axis if axis is None else check_axis(axis))

    # --- internals ---------------------------------------------------------------------------------

    def _plane(self, axis: int, index: int) -> np.ndarray:
        """A writable view of one slice of the labels."""
        return self.labels[plane_index(axis, index)]

    def _decode(self, ref: SliceRef, prompts: list[Prompt], prev_logits: np.ndarray | None,
                step: bool = False) -> np.ndarray:
        """Run the model on a slice (no lock held: decoding is the slow part); ``step``: a propagation step."""
        embedding = self.embedding(ref.index, ref.axis)
        model = self.working_model(ref.axis)  # (the session's model, or it on scaled-up slices)
        if step and prev_logits is not None and isinstance(self.model, DecodesPropagationSteps):
            logits = np.asarray(model.decode_step(embedding, prompts, prev_logits, self.relative_intensity),
                                dtype=np.float32)
        elif isinstance(self.model, ReadsIntensityScale):
            logits = np.asarray(model.decode_relative(embedding, prompts, prev_logits, self.relative_intensity),
                                dtype=np.float32)
        else:
            logits = np.asarray(model.decode(embedding, prompts, prev_logits), dtype=np.float32)
        plane = ref.plane_shape(self.shape)
        if logits.shape != plane:
            raise MedsegError(
                f"model '{self.model.name}' returned logits of shape {logits.shape} for a {plane} slice"
            )
        return logits

    def _write_slice(
        self, ref: SliceRef, mask: np.ndarray, label_id: int, overwrite: bool, holds_label: bool = True
    ) -> SliceEdit | None:
        """Make ``mask`` the label's extent on one slice (lock held); returns the edit or None."""
        return write_slice(self._plane(ref.axis, ref.index), ref, mask, label_id, overwrite, holds_label)

    def _check_label(self, label_id: int) -> int:
        if isinstance(label_id, bool) or not isinstance(label_id, int | np.integer):
            raise PromptError(f"label id must be a positive integer, got {label_id!r}")
        top = np.iinfo(self.labels.dtype).max
        if not 0 < int(label_id) <= top:
            raise PromptError(f"label id {label_id} is outside 1..{top} for {self.labels.dtype} labels")
        return int(label_id)


