"""The background worker: order, newest-wins merging, cancellation, errors, prefetch priority."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from qtpy.QtCore import QTimer

from napari_medseg._qt.worker import SessionWorker
from napari_medseg.core.prompts import PointPrompt, SliceRef
from napari_medseg.errors import CancelledError, PromptError


@pytest.fixture
def worker(qtbot):
    w = SessionWorker()
    w.results, w.errors, w.previews, w.cancels = [], [], [], []
    w.finished.connect(lambda job_id, kind, result: w.results.append((kind, result)))
    w.failed.connect(lambda job_id, kind, message: w.errors.append((kind, message)))
    w.preview_ready.connect(lambda job_id, preview: w.previews.append((job_id, preview)))
    w.cancelled.connect(lambda job_id, kind: w.cancels.append(kind))
    yield w
    w.stop()


def _point(index: int, row: float) -> PointPrompt:
    return PointPrompt(SliceRef(0, index), (row, 5.0))


def _wait(qtbot, worker, ended: int) -> None:
    qtbot.waitUntil(lambda: worker.ended >= ended and worker.is_idle(), timeout=10_000)
    qtbot.wait(20)  # let the queued signals arrive


def test_jobs_run_in_order_off_the_qt_thread(worker, qtbot):
    threads = []
    for i in range(5):
        worker.submit("job", lambda job, i=i: threads.append(threading.get_ident()) or i)
    _wait(qtbot, worker, 5)
    assert worker.results == [("job", i) for i in range(5)]
    assert threading.get_ident() not in threads and len(set(threads)) == 1


def test_queued_interactions_merge_and_only_the_newest_preview_shows(worker, qtbot):
    gate, calls = threading.Event(), []

    def handler(prompts, label_id):
        calls.append([p.point[0] for p in prompts])
        gate.wait(5)
        return f"preview of {len(calls)}"

    worker.set_interaction_handler(handler)
    worker.submit_interaction([_point(3, 1)], 1)
    qtbot.waitUntil(lambda: len(calls) == 1, timeout=5000)  # the first is running, blocked
    worker.submit_interaction([_point(3, 2)], 1)
    newest = worker.submit_interaction([_point(3, 3)], 1)
    gate.set()
    _wait(qtbot, worker, 2)
    assert calls == [[1.0], [2.0, 3.0]]  # the two queued clicks reached the session as one request
    assert worker.previews == [(newest, "preview of 2")]  # the superseded first preview was dropped


def test_interaction_on_another_slice_replaces_the_queued_one(worker, qtbot):
    gate, calls = threading.Event(), []
    worker.set_interaction_handler(lambda prompts, label_id: calls.append(prompts) or gate.wait(5))
    worker.submit_interaction([_point(1, 1)])
    qtbot.waitUntil(lambda: len(calls) == 1, timeout=5000)
    worker.submit_interaction([_point(2, 2)])
    worker.submit_interaction([_point(4, 4)])
    gate.set()
    _wait(qtbot, worker, 2)
    assert [p.slice.index for p in calls[1]] == [4]


def test_cancel_stops_a_long_job_and_the_next_one_runs(worker, qtbot):
    started, steps = threading.Event(), []

    def long_job(job):
        started.set()
        for i in range(500):
            if job.cancelled():
                raise CancelledError("stopped")
            steps.append(i)
            time.sleep(0.01)
        return "done"

    worker.submit("propagate", long_job, cancellable=True)
    worker.submit("after", lambda job: "still working")
    assert started.wait(5)
    qtbot.waitUntil(lambda: len(steps) >= 3, timeout=5000)
    worker.cancel()
    _wait(qtbot, worker, 2)
    assert worker.cancels == ["propagate"] and 3 <= len(steps) < 500
    assert worker.results == [("after", "still working")]


def test_cancel_leaves_ordinary_jobs_alone(worker, qtbot):
    gate = threading.Event()
    worker.submit("commit", lambda job: gate.wait(5) and "committed")
    worker.cancel()
    gate.set()
    _wait(qtbot, worker, 1)
    assert worker.results == [("commit", "committed")] and worker.cancels == []


def test_errors_become_one_line_messages_and_the_worker_keeps_going(worker, qtbot):
    def broken(job):
        raise ValueError("bad thing\nwith a second line")

    def user_error(job):
        raise PromptError("box is degenerate; drag a box")

    worker.submit("a", broken)
    worker.submit("b", user_error)
    worker.submit("c", lambda job: 42)
    _wait(qtbot, worker, 3)
    assert worker.errors == [("a", "ValueError: bad thing"), ("b", "box is degenerate; drag a box")]
    assert worker.results == [("c", 42)]


def test_prefetch_waits_for_real_work_and_is_replaced(worker, qtbot):
    gate, order = threading.Event(), []
    worker.submit("block", lambda job: gate.wait(5) and order.append("job"))
    worker.prefetch([lambda: order.append("old prefetch")])
    worker.prefetch([lambda: order.append("p1"), lambda: order.append("p2")])
    worker.submit("second", lambda job: order.append("job2"))
    gate.set()
    qtbot.waitUntil(lambda: len(order) == 4, timeout=5000)
    assert order == ["job", "job2", "p1", "p2"]


# --- the worker inside the dock widget, with the built-in model --------------------------------------


class _SlowModel:
    """The real model, slowed so that a propagation lasts long enough to be cancelled midway."""

    def __init__(self, model, delay: float) -> None:
        self.model, self.delay, self.name = model, delay, model.name

    @property
    def identity(self) -> str:
        return self.model.identity

    def encode(self, image):
        return self.model.encode(image)

    def decode(self, embedding, prompts, prev_logits=None):
        time.sleep(self.delay)
        return self.model.decode(embedding, prompts, prev_logits)


class _SlowEncoder(_SlowModel):
    """The real model with a slow encoder, as a SAM ViT-B on a CPU (about 17 s a slice), scaled down."""

    def encode(self, image):
        time.sleep(self.delay)
        return self.model.encode(image)

    def decode(self, embedding, prompts, prev_logits=None):
        return self.model.decode(embedding, prompts, prev_logits)


def test_a_slow_encoder_prefetches_the_viewed_slice_only(widget, ct_viewer, qtbot):
    """session_ops.SLOW_ENCODE_S: a click must not wait for a neighbour's encode that takes seconds."""
    from napari_medseg._qt import widget as widget_module

    session = widget.session
    viewed = int(ct_viewer.dims.current_step[0])  # the built-in model prefetches the neighbours too
    around = range(viewed - widget_module.PREFETCH_RADIUS, viewed + widget_module.PREFETCH_RADIUS + 1)
    qtbot.waitUntil(lambda: all(session.cache_key(i, 0) in session.cache for i in around), timeout=20_000)
    assert not widget.ops.slow_encoder
    session.model = _SlowEncoder(session.model, delay=0.6)
    session.cache.clear()

    def cached() -> list[int]:
        return [i for i in range(session.volume.shape[0]) if session.cache_key(i, 0) in session.cache]

    for index, expected in ((3, [3]), (9, [3, 9])):
        ct_viewer.dims.set_current_step(0, index)
        qtbot.waitUntil(lambda i=index: session.cache_key(i, 0) in session.cache, timeout=20_000)
        qtbot.wait(1500)  # time for two more slow encodes, were the neighbours still queued
        assert widget.ops.slow_encoder and cached() == expected


class _FailingOnceModel(_SlowModel):
    """The real model whose next decode raises, as a crashing backend would."""

    def decode(self, embedding, prompts, prev_logits=None):
        if self.delay:
            self.delay = 0
            raise RuntimeError("decoder exploded")
        return self.model.decode(embedding, prompts, prev_logits)


def test_propagation_fills_slices_live_then_undoes_in_one_step(widget, ct_viewer, mouse, organ, qtbot, box_on_organ):
    mask, _ = organ
    k = box_on_organ()
    widget.commit()
    assert widget.wait_idle(30)
    arrived, finished, gaps = [], [], []
    widget.slice_propagated.connect(arrived.append)
    widget.propagation_finished.connect(finished.append)
    ticker, last = QTimer(), [time.perf_counter()]

    def tick():
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    ticker.timeout.connect(tick)
    ticker.start(5)
    widget.propagate()
    assert widget.form.cancel_button.isEnabled() and not widget.form.progress_bar.isHidden()
    assert widget.wait_idle(60)
    ticker.stop()
    assert widget.form.progress_bar.isHidden()
    assert finished == [int(finished[0])] and finished[0] >= 0
    labelled = sorted(set(np.flatnonzero((widget.labels_layer.data == 1).any(axis=(1, 2)))))
    assert set(arrived) - {k} and set(arrived) <= set(range(mask.shape[0]))
    assert len(labelled) >= 5 and k in labelled
    lo, hi = min(set(labelled) - {k}), max(set(labelled) - {k})
    # the status says where the walk went and how many slices it added, each counted once (the fill
    # between the walks writes some slices a second time)
    assert f"{len(set(labelled) - {k})} slices added, from {lo} to {hi}" in widget.form.status.text()
    ml = np.count_nonzero(widget.labels_layer.data == 1) * 2.5 * 0.8 * 0.8 / 1000  # the fixture's voxels, mm
    assert widget.form.status.text().endswith(f"; {ml:,.1f} mL in all")  # the label's volume
    dice = 2 * ((widget.labels_layer.data == 1) & mask).sum() / ((widget.labels_layer.data == 1).sum() + mask.sum())
    assert dice > 0.3  # loose: the model's 3D quality is measured by the evaluation
    assert max(gaps) < 0.5  # the Qt loop kept ticking (the benchmark measures the real target)
    widget.undo()
    assert widget.wait_idle(30)
    assert sorted(set(np.flatnonzero((widget.labels_layer.data == 1).any(axis=(1, 2))))) == [k]


def test_the_walk_summary_counts_a_rewritten_slice_once(widget, ct_viewer, mouse, organ, box_on_organ):
    """The fill between the walks writes some slices a second time (on the bundled sample 24 of 28):
    the status line counted 52 slices added for 28."""
    k = box_on_organ()
    widget.commit()
    assert widget.wait_idle(30)
    widget._walked = set()
    for index in (k + 1, k + 2, k + 1, k + 2, k + 3):
        widget._on_partial(0, index)
    assert widget._walked_summary() == f"3 slices added, from {k + 1} to {k + 3}"


def test_cancel_midway_keeps_the_finished_slices(widget, ct_viewer, mouse, organ, qtbot, box_on_organ):
    k = box_on_organ()
    widget.commit()
    assert widget.wait_idle(30)
    widget.session.model = _SlowModel(widget.session.model, delay=0.15)
    arrived, finished = [], []
    widget.slice_propagated.connect(arrived.append)
    widget.propagation_finished.connect(finished.append)
    widget.propagate()
    qtbot.waitUntil(lambda: len(arrived) >= 2, timeout=30_000)
    bar = widget.form.progress_bar  # in the dock, not napari's activity panel (progress.py)
    assert not bar.isHidden() and bar.maximum() > 1 and "label 1" in bar.format()
    qtbot.waitUntil(lambda: bar.value() >= 1, timeout=5_000)
    widget.form.cancel_button.click()
    assert widget.wait_idle(30)
    assert finished == [-1] and "cancelled" in widget.form.status.text()
    assert bar.isHidden()
    labelled = set(np.flatnonzero((widget.labels_layer.data == 1).any(axis=(1, 2))))
    assert set(arrived) <= labelled | {k} and {k} < labelled and len(labelled) < 16
    assert widget.form.propagate_button.isEnabled() and not widget.form.cancel_button.isEnabled()
    widget.undo()  # the cancelled run is one undo step
    assert widget.wait_idle(30)
    assert set(np.flatnonzero((widget.labels_layer.data == 1).any(axis=(1, 2)))) == {k}


def test_an_exception_in_the_worker_is_shown_and_the_widget_keeps_working(widget, ct_viewer, mouse, organ, box_on_organ):
    from napari.utils.notifications import NotificationSeverity, notification_manager

    errors = []
    widget.error.connect(errors.append)
    widget.session.model = _FailingOnceModel(widget.session.model, delay=1)
    before = len(notification_manager.records)
    k = box_on_organ()
    assert errors == ["RuntimeError: decoder exploded"]
    shown = notification_manager.records[before:]
    assert any(n.severity == NotificationSeverity.ERROR and "decoder exploded" in n.message for n in shown)
    assert not widget.preview_layer.data.any()
    widget.clear_prompts()
    box_on_organ()  # the next interaction works
    assert widget.preview_layer.data[k].any()
    widget.commit()
    assert widget.wait_idle(30) and (widget.labels_layer.data[k] == 1).any()
