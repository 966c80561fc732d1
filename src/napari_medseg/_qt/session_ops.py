"""What the widget asks of the Session, packaged as worker jobs.

Everything here runs on the worker thread (see :mod:`.worker`): the session, the loaded models and
the embedding cache live on that side, so the Qt thread never waits for a model. Each method queues
one job and returns it; its result or error comes back through the worker's signals.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from napari_medseg._qt import autosave
from napari_medseg._qt.worker import Job, SessionWorker
from napari_medseg.core.prompts import Prompt
from napari_medseg.core.volume_io import Volume
from napari_medseg.errors import MedsegError

CACHE_BYTES = 1024**3
# Prefetch cannot be interrupted inside an encode, so a click waits for the one running. The built-in
# model encodes a 512x512 slice in 20-45 ms; a SAM ViT-B takes about 17 s on 2 cores: with such a
# model only the viewed slice is encoded ahead, never its neighbours.
SLOW_ENCODE_S = 0.5


class SessionOps:
    """The worker-side half of the widget: one Session at a time, reused models and cache."""

    def __init__(self, worker: SessionWorker, autosaver: autosave.Autosaver) -> None:
        self.worker = worker
        self.autosaver = autosaver
        self.session = None
        self.signature: str | None = None
        self._models: dict = {}
        self._cache = None
        #: the model's encodes take longer than SLOW_ENCODE_S: prefetch the viewed slice only
        self.slow_encoder = False

    def _require(self):
        if self.session is None:
            raise MedsegError("no image is set up for segmentation; choose an image layer first")
        return self.session

    def interact(self, prompts: list[Prompt], label_id: int | None):
        """The interaction handler: one (merged) interaction to a preview."""
        return self._require().add_prompts(prompts, label_id=label_id)

    def setup(self, volume: Volume, labels: np.ndarray, model: str, checkpoint: str | None, preset: str) -> Job:
        """A new Session on ``volume`` writing into ``labels``; the result is the recovery file found."""
        from napari_medseg.core.cache import EmbeddingCache
        from napari_medseg.core.session import Session
        from napari_medseg.models.registry import load_model

        if self._cache is None:
            self._cache = EmbeddingCache(max_bytes=CACHE_BYTES)
        cache = self._cache

        def run(job: Job):
            key = (model, checkpoint)
            if key not in self._models:
                self._models[key] = load_model(model, checkpoint)
            self.session = None
            volume.data = np.asarray(volume.data)  # lazy (dask, zarr) layers are read here, not on Qt
            session = Session(volume, model=self._models[key], labels=labels, preset=preset, cache=cache)
            self.session = session
            self.slow_encoder = False  # (found out again for this model by the first prefetch)
            self.signature = session.signature
            return autosave.find_recovery(self.signature)

        return self.worker.submit("setup", run)

    def commit(self, label_id: int, overwrite: bool) -> Job:
        """(label, voxels changed), or None when there was no preview to accept."""

        def run(job: Job):
            if self.session is None or self.session.preview is None:
                return None
            return label_id, self.session.commit(label_id, overwrite=overwrite)

        return self.worker.submit("commit", run)

    def record_edit(self, region: tuple[slice, ...], before, after, axis: int) -> Job:
        """An edit made with napari's tools across slices of ``axis``, as one undo step (voxels
        changed; 0 when none)."""
        return self.worker.submit(
            "paint", lambda job: self.session.record_edit(region, before, axis, after) if self.session else 0)

    def clear(self) -> Job:
        return self.worker.submit("clear", lambda job: self.session.clear_preview() if self.session else None)

    def undo(self) -> Job:
        return self.worker.submit("undo", lambda job: self.session.undo() if self.session else False)

    def redo(self) -> Job:
        return self.worker.submit("redo", lambda job: self.session.redo() if self.session else False)

    def propagate(self, label_id: int, overwrite: bool, axis: int, options) -> Job:
        """Propagation along ``axis`` (an unaccepted preview is accepted first); cancellable. Gives the
        label, the voxels changed and the label's volume in mL after it."""

        def run(job: Job):
            session = self._require()
            if session.preview is not None:
                session.commit(label_id, overwrite=overwrite)
            session.axis = axis
            changed = session.propagate(
                label_id,
                options,
                progress=lambda done, total: self.worker.progress.emit(job.job_id, int(done), int(total)),
                cancel=job.cancelled,
                on_slice=lambda index, mask: self.worker.partial.emit(job.job_id, int(index)),
                overwrite=overwrite,
            )
            return label_id, changed, session.label_volume_ml(label_id)

        return self.worker.submit("propagate", run, cancellable=True)

    def save(self, path: str | Path, names: dict[int, str] | None = None) -> Job:
        """The labels as NIfTI (or .zarr) with the image's affine, written atomically, and their
        ``names`` beside them (core/label_names.py)."""
        from napari_medseg.core.label_names import write_label_names
        from napari_medseg.core.volume_io import write_labels

        names = dict(names or {})

        def run(job: Job) -> str:
            session = self._require()
            out = write_labels(path, np.array(session.labels, copy=True), reference=session.volume)
            write_label_names(out, names)
            return str(out)

        return self.worker.submit("save", run)

    def restore(self, shape: Sequence[int]) -> Job:
        """Replace the labels by the recovery file of this image."""
        signature = self.signature

        def run(job: Job):
            data = autosave.read_recovery(signature, tuple(shape))
            self._require().labels[...] = data
            return signature

        return self.worker.submit("restore", run)

    def autosave(self, image_name: str, label_names: dict[int, str]) -> Job:
        """Snapshot the labels in order with the edits; the autosave thread writes them."""
        signature = self.signature

        def run(job: Job) -> None:
            if self.session is not None and signature is not None:
                snapshot = np.array(self.session.labels, copy=True)
                self.autosaver.save(signature, snapshot, self.session.volume, image_name, label_names)

        return self.worker.submit("autosave", run)

    def prefetch(self, axis: int, indices: Sequence[int]) -> None:
        """Encode these slices when the worker is otherwise idle (nearest first: the viewed slice);
        with a slow encoder the first only (``SLOW_ENCODE_S``)."""
        session = self.session
        if session is None:
            return

        def encode(index: int, viewed: bool) -> None:
            if self.slow_encoder and not viewed:
                return  # found slow since this was queued: a click must not wait for a neighbour
            started = time.perf_counter()
            session.embedding(index, axis)
            if time.perf_counter() - started > SLOW_ENCODE_S:
                self.slow_encoder = True

        self.worker.prefetch([lambda i=i, k=k: encode(i, k == 0) for k, i in enumerate(indices)])
