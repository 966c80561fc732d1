"""The background worker: every model call runs here, never on the Qt thread.

One Python thread owns the session. Jobs run in the order they were submitted, with three twists
that keep the UI responsive:

* interactions (prompts) still waiting in the queue are merged into the newest one, so a burst of
  clicks costs one decode and only the newest preview is shown ("newest wins"); a preview whose
  request was superseded while it ran is dropped;
* long jobs (propagation) get a cancel flag, set by :meth:`SessionWorker.cancel`;
* prefetch (encoding slices near the one being viewed) runs only when nothing else is waiting and
  gives way between slices as soon as something is.

Results and errors come back to the Qt thread as signals (queued connections).
"""

from __future__ import annotations

import itertools
import threading
import traceback
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from qtpy.QtCore import QObject, Signal

from napari_medseg.core.prompts import Prompt
from napari_medseg.errors import CancelledError, MedsegError


@dataclass
class Job:
    """One unit of work: ``run(job)`` is called on the worker thread (``job.cancelled()`` to poll)."""

    kind: str
    run: Callable[[Job], Any]
    job_id: int = 0
    cancellable: bool = False
    cancel: threading.Event = field(default_factory=threading.Event)

    def cancelled(self) -> bool:
        return self.cancel.is_set()


@dataclass
class Interaction:
    """Prompts waiting to reach the session; merged with newer ones while still queued."""

    prompts: list[Prompt]
    label_id: int | None
    job_id: int = 0


def error_message(exc: BaseException) -> str:
    """One line for a notification: MedsegErrors are already user-facing, the rest get their type."""
    if isinstance(exc, MedsegError):
        return str(exc)
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else 'unexpected error'}"


class SessionWorker(QObject):
    """A single worker thread fed by a queue; talks back through Qt signals."""

    #: (job_id, kind, result) when a job finished.
    finished = Signal(int, str, object)
    #: (job_id, kind, one-line message) when a job raised.
    failed = Signal(int, str, str)
    #: (job_id, kind) when a job stopped because it was cancelled.
    cancelled = Signal(int, str)
    #: (job_id, preview) when an interaction produced a preview that is still the newest.
    preview_ready = Signal(int, object)
    #: (job_id, done, total) progress of a long job.
    progress = Signal(int, int, int)
    #: (job_id, payload) partial results of a long job (a propagated slice).
    partial = Signal(int, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ids = itertools.count(1)
        self._queue: deque[Job | Interaction] = deque()
        self._prefetch: deque[Callable[[], Any]] = deque()
        self._cond = threading.Condition()
        self._running: Job | Interaction | None = None
        self._stopping = False
        self._latest_interaction = 0
        #: jobs that ended (one terminal signal each): compare with what the Qt side handled.
        self.ended = 0
        self._interact: Callable[[list[Prompt], int | None], Any] | None = None
        self._thread = threading.Thread(target=self._loop, name="medseg-worker", daemon=True)
        self._thread.start()

    # --- submitting (Qt thread) ------------------------------------------------------------------

    def set_interaction_handler(self, handler: Callable[[list[Prompt], int | None], Any]) -> None:
        """What an interaction runs: ``handler(prompts, label_id) -> preview`` (Session.add_prompts)."""
        self._interact = handler

    def submit(self, kind: str, run: Callable[[Job], Any], cancellable: bool = False) -> Job:
        """Queue ``run(job) -> result`` behind everything already queued.

        A ``cancellable`` job (propagation) is stopped by :meth:`cancel`; it polls ``job.cancelled()``.
        """
        job = Job(kind=kind, run=run, job_id=next(self._ids), cancellable=cancellable)
        with self._cond:
            self._queue.append(job)
            self._cond.notify()
        return job

    def submit_interaction(self, prompts: Iterable[Prompt], label_id: int | None = None) -> int:
        """Queue prompts of one interaction; merges into a still-queued interaction on the same slice."""
        prompts = list(prompts)
        with self._cond:
            job_id = next(self._ids)
            self._latest_interaction = job_id
            last = self._queue[-1] if self._queue else None
            if isinstance(last, Interaction):
                same_slice = {p.slice for p in last.prompts} == {p.slice for p in prompts}
                # A queued interaction on another slice would be discarded by the session anyway.
                last.prompts = (last.prompts if same_slice else []) + prompts
                last.label_id = label_id
                last.job_id = job_id
            else:
                self._queue.append(Interaction(prompts, label_id, job_id))
            self._cond.notify()
        return job_id

    def prefetch(self, tasks: Iterable[Callable[[], Any]]) -> None:
        """Replace the prefetch list: low-priority tasks run only while the queue is empty."""
        with self._cond:
            self._prefetch = deque(tasks)
            self._cond.notify()

    def cancel(self) -> None:
        """Cancel the running and the queued cancellable jobs; commits, undo and the like still run."""
        with self._cond:
            for job in [self._running, *self._queue]:
                if isinstance(job, Job) and job.cancellable:
                    job.cancel.set()
            self._prefetch.clear()

    def is_idle(self) -> bool:
        """Nothing queued or running (prefetch does not count)."""
        with self._cond:
            return self._running is None and not self._queue

    def is_latest(self, job_id: int) -> bool:
        return job_id == self._latest_interaction

    def stop(self, timeout: float = 5.0) -> None:
        """Finish the running job, drop the rest, end the thread."""
        with self._cond:
            self._stopping = True
            self._queue.clear()
            self._prefetch.clear()
            if isinstance(self._running, Job):
                self._running.cancel.set()
            self._cond.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    # --- the worker thread -----------------------------------------------------------------------

    def _next(self) -> Job | Interaction | Callable[[], Any] | None:
        with self._cond:
            while not self._stopping and not self._queue and not self._prefetch:
                self._cond.wait()
            if self._stopping:
                return None
            if self._queue:
                self._running = self._queue.popleft()
                return self._running
            return self._prefetch.popleft()

    def _loop(self) -> None:
        while True:
            item = self._next()
            if item is None:
                return
            try:
                if isinstance(item, Interaction):
                    self._run_interaction(item)
                elif isinstance(item, Job):
                    self._run_job(item)
                else:
                    self._run_prefetch(item)
            finally:
                with self._cond:
                    self._running = None

    def _run_interaction(self, item: Interaction) -> None:
        try:
            if self._interact is None:
                raise MedsegError("no image is set up for segmentation; choose an image layer first")
            preview = self._interact(item.prompts, item.label_id)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a notification
            self._report(item.job_id, "interaction", exc)
            return
        self._count_end()
        if self.is_latest(item.job_id):
            self.preview_ready.emit(item.job_id, preview)
        else:  # superseded while it ran: the newer request refines it, so skip showing it
            self.finished.emit(item.job_id, "interaction", None)

    def _run_job(self, job: Job) -> None:
        try:
            if job.cancel.is_set():
                raise CancelledError(f"{job.kind} was cancelled")
            result = job.run(job)
        except CancelledError:
            self._count_end()
            self.cancelled.emit(job.job_id, job.kind)
            return
        except Exception as exc:  # noqa: BLE001 - every failure becomes a notification
            self._report(job.job_id, job.kind, exc)
            return
        self._count_end()
        self.finished.emit(job.job_id, job.kind, result)

    def _run_prefetch(self, task: Callable[[], Any]) -> None:
        try:
            task()
        except Exception:  # noqa: BLE001 - prefetch is best effort; the real request will report
            traceback.print_exc()

    def _report(self, job_id: int, kind: str, exc: BaseException) -> None:
        if not isinstance(exc, MedsegError):
            traceback.print_exc()
        self._count_end()
        self.failed.emit(job_id, kind, error_message(exc))

    def _count_end(self) -> None:
        with self._cond:
            self.ended += 1
