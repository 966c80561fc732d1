"""The undo history of a Session's labels, and the slices its steps marked.

Every change to the labels is a :class:`~napari_medseg.core.label_edits.Step`. Besides the voxels it
changed, a step may mark slices: a commit makes its slice a **key slice** of its label (propagation
starts from key slices and leaves them as they are), an edit by hand makes key slices of the slices it
left a label on, and **erased slices** of those it took a label off entirely (propagation leaves them
empty of it). Undo lifts a step's marks with its voxels, redo sets them again. The history holds no
lock: the Session calls it under its own.
"""

from __future__ import annotations

import numpy as np

from napari_medseg.core.label_edits import Step, edits_of_region, labels_left_on
from napari_medseg.core.session_inputs import plane_index

Marks = dict[int, set[tuple[int, int]]]  # label -> {(axis, index)}


class LabelHistory:
    """Undo and redo of the steps made on ``labels``, with the key and erased slices they marked."""

    def __init__(self, labels: np.ndarray) -> None:
        self.labels = labels
        self._undo: list[Step] = []
        self._redo: list[Step] = []
        self._keys: Marks = {}
        self._erased: Marks = {}

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def last(self) -> Step | None:
        """The step undo would revert next."""
        return self._undo[-1] if self._undo else None

    def push(self, step: Step) -> None:
        """A new step (its marks already set): what was undone can no longer be redone."""
        self._undo.append(step)
        self._redo.clear()

    def undo(self) -> bool:
        """Revert the last step; False when there is none."""
        if not self._undo:
            return False
        step = self._undo.pop()
        for edit in reversed(step.edits):
            self.labels[plane_index(edit.axis, edit.index)][edit.rows, edit.cols] = edit.old
        self._set_marks(step, False)  # an undone commit no longer makes its slice a key slice
        self._redo.append(step)
        return True

    def redo(self) -> bool:
        """Re-apply the last undone step; False when there is none."""
        if not self._redo:
            return False
        step = self._redo.pop()
        for edit in step.edits:
            self.labels[plane_index(edit.axis, edit.index)][edit.rows, edit.cols] = edit.new
        self._set_marks(step, True)
        self._undo.append(step)
        return True

    def mark_key(self, label_id: int, axis: int, index: int) -> tuple[int, int, int] | None:
        """Make the slice a key slice of ``label_id``; the mark for the step that made it, or None when
        it already was one."""
        keys = self._keys.setdefault(int(label_id), set())
        if (axis, index) in keys:
            return None
        keys.add((axis, index))
        return int(label_id), axis, index

    def tracked_keys(self, label_id: int, axis: int) -> set[int]:
        """The key slices of ``label_id`` along ``axis``."""
        return {index for a, index in self._keys.get(int(label_id), set()) if a == axis}

    def erased_slices(self, label_id: int, axis: int) -> list[int]:
        """Slices along ``axis`` that ``label_id`` was erased from by hand and not drawn on again (by
        hand or by a commit)."""
        keys = self._keys.get(int(label_id), set())
        return sorted(i for a, i in self._erased.get(int(label_id), set()) if a == axis and (a, i) not in keys)

    def record(self, region: tuple[slice, slice, slice], before: np.ndarray, axis: int,
               after: np.ndarray | None = None) -> int:
        """An edit made by hand (see ``Session.record_edit``) as one step; the voxels it changed."""
        edits = edits_of_region(self.labels, region, np.asarray(before), axis, after)
        added: list[tuple[int, int, int]] = []
        erased: list[tuple[int, int, int]] = []
        for edit in edits:
            left = labels_left_on(edit, self.labels[plane_index(edit.axis, edit.index)])
            gone = [int(v) for v in np.unique(edit.old) if v and int(v) not in left]
            for store, label_ids, new in ((self._keys, left, added), (self._erased, gone, erased)):
                for label_id in label_ids:
                    if (edit.axis, edit.index) not in store.setdefault(label_id, set()):
                        new.append((label_id, edit.axis, edit.index))
        if edits:
            step = Step(edits, tuple(added), tuple(erased))
            self._set_marks(step, True)
            self.push(step)
        return sum(e.count for e in edits)

    def _set_marks(self, step: Step, present: bool) -> None:
        """Add (redo, a new step) or take away (undo) the key and erased slices ``step`` marked."""
        for store, marks in ((self._keys, step.keys), (self._erased, step.erased)):
            for label_id, axis, index in marks:
                if present:
                    store.setdefault(label_id, set()).add((axis, index))
                else:
                    store.get(label_id, set()).discard((axis, index))
