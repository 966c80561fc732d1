"""The background worker: order, newest-wins merging, cancellation, errors, prefetch priority."""

from __future__ import annotations

import threading
import time

import pytest

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
