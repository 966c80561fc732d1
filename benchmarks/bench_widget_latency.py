"""Widget latency in a real napari viewer: click-to-mask and the longest Qt stall while propagating.

1. Click-to-mask on a cached 512x512 slice with the built-in model: a real Qt mouse click on the
   napari canvas (point tool) until the preview Labels layer holds the new mask. Baseline, same run,
   same slice and clicks: the bare ``Session.add_prompts`` call on the widget's worker thread, so the
   widget's own overhead (event translation, worker hand-off, layer update) is the difference.
   Target: widget p95 <= 150 ms.
   Then boxes drawn by real drags on the same slice (box tool), timed from the button's release to
   the preview, with the bare call on the same boxes as the baseline; and freehand lassos (lasso
   tool, the mouse moved round the organ with the button held) and brush strokes across it
   (scribble tool), with the bare call on the lassos and strokes the widget sent.
2. Event-loop stall during a 200-slice propagation: a QTimer ticks every 5 ms on the Qt thread and
   the longest gap between ticks is recorded while the worker propagates a box-initialised object
   through all slices. Baseline, same run: the longest gap of the idle event loop over 2 s (timer
   jitter on this machine). Target: longest stall <= 100 ms.

Run under a display (or Xvfb)::

    QT_API=pyqt6 xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/bench_widget_latency.py
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

os.environ.setdefault("QT_API", "pyqt6")


def synthetic_ct(shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    """Air, a body and a bright ellipsoidal organ through every slice of axis 0 (HU, int16)."""
    rng = np.random.default_rng(seed)
    depth, rows, cols = shape
    z, r, c = np.ogrid[:depth, :rows, :cols]
    body = ((r - rows / 2) / (0.45 * rows)) ** 2 + ((c - cols / 2) / (0.45 * cols)) ** 2 <= 1
    # the organ drifts and breathes slowly along axis 0, like a liver across CT slices
    cr = rows * (0.45 + 0.05 * np.sin(z / max(depth, 1) * np.pi))
    rr = rows * (0.16 + 0.03 * np.cos(z / max(depth, 1) * 2 * np.pi))
    organ = ((r - cr) / rr) ** 2 + ((c - cols * 0.42) / (0.2 * cols)) ** 2 <= 1
    vol = np.full(shape, -1000.0, dtype=np.float32)
    vol[np.broadcast_to(body, shape)] = 30.0
    vol[np.broadcast_to(organ, shape)] = 170.0
    vol += rng.normal(0, 10, shape).astype(np.float32)
    return vol.round().astype(np.int16)


def organ_center(volume: np.ndarray, index: int) -> tuple[float, float]:
    rows, cols = np.nonzero(volume[index] > 120)
    return float(rows.mean()), float(cols.mean())


def canvas_pixel(viewer, world_point):
    """The canvas pixel (a QPoint) that shows ``world_point``."""
    from qtpy.QtCore import QPoint

    view = viewer.window._qt_viewer.canvas.view
    displayed = list(viewer.dims.displayed)
    x, y = float(world_point[displayed[1]]), float(world_point[displayed[0]])
    px = (view.transform * view.scene.transform).map([x, y, 0, 1])
    return QPoint(int(round(px[0])), int(round(px[1])))


def canvas_click(viewer, world_point, qt_app) -> None:
    """A real left click (Qt press and release) on the canvas pixel showing ``world_point``."""
    from qtpy.QtCore import Qt
    from qtpy.QtTest import QTest

    QTest.mouseClick(
        viewer.window._qt_viewer.canvas.native,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
        canvas_pixel(viewer, world_point),
    )


def canvas_drag(viewer, start, end, qt_app, steps: int = 8) -> float:
    """A real left-button drag from ``start`` to ``end`` (world points); returns when it was released."""
    from qtpy.QtCore import QPoint, Qt
    from qtpy.QtTest import QTest

    native = viewer.window._qt_viewer.canvas.native
    a, b = canvas_pixel(viewer, start), canvas_pixel(viewer, end)
    QTest.mousePress(native, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
    for t in np.linspace(0.0, 1.0, steps)[1:]:
        QTest.mouseMove(native, QPoint(int(a.x() + t * (b.x() - a.x())), int(a.y() + t * (b.y() - a.y()))))
        qt_app.processEvents()
    released = time.perf_counter()
    QTest.mouseRelease(native, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, b)
    return released


STAGES = ("click_to_prompt", "queue_to_worker", "decode_in_worker", "result_to_layer")


def trace_click_path(widget) -> dict[str, float]:
    """Timestamps of the last click's way through the widget: prompt submitted, decode start and end."""
    stamps = {"submitted": 0.0, "started": 0.0, "decoded": 0.0}
    submit, handler = widget.worker.submit_interaction, widget._interact

    def submit_traced(prompts, label_id=None):
        stamps["submitted"] = time.perf_counter()
        return submit(prompts, label_id)

    def handler_traced(prompts, label_id):
        stamps["started"] = time.perf_counter()
        try:
            return handler(prompts, label_id)
        finally:
            stamps["decoded"] = time.perf_counter()

    widget.worker.submit_interaction = submit_traced
    widget.worker.set_interaction_handler(handler_traced)
    return stamps


def percentile_ms(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000.0, q))


def make_viewer_and_widget(volume: np.ndarray, timeout: float):
    import napari

    from napari_medseg._qt.widget import MedSegWidget

    viewer = napari.Viewer(show=True)
    viewer.window._qt_window.resize(1400, 900)
    image = viewer.add_image(volume, name="ct", contrast_limits=(-160, 240))
    widget = MedSegWidget(viewer)
    viewer.window.add_dock_widget(widget, name="medseg")
    if not widget.wait_idle(timeout) or widget.session is None:
        raise SystemExit("the widget did not set up a session (is the built-in model installed?)")
    return viewer, image, widget


def on_worker(widget, run, timeout: float) -> None:
    """``run()`` on the widget's worker thread, as the widget runs every model call (a torch call on
    another thread than the one torch ran on before is slower on 2 cores: two OpenMP teams)."""
    widget.worker.submit("benchmark", lambda job: run())
    if not widget.wait_idle(timeout):
        raise SystemExit("the widget's worker did not finish the benchmark's own job")


def bare_seconds(widget, interactions: list, timeout: float) -> list[float]:
    """Seconds of each bare ``Session.add_prompts(prompts)`` on a clear slice, run on the worker."""
    session, seconds = widget.session, []

    def run() -> None:
        for prompts in interactions:
            session.clear_preview()
            t0 = time.perf_counter()
            session.add_prompts(prompts)
            seconds.append(time.perf_counter() - t0)
        session.clear_preview()

    on_worker(widget, run, timeout)
    return seconds


def wait_for_preview(shown: list[float], before: int, waiter, timeout: float, what: str) -> None:
    """Wait in an idle Qt event loop until ``shown`` grows past ``before`` (a preview was shown)."""
    from qtpy.QtCore import QTimer

    if len(shown) == before:
        QTimer.singleShot(int(timeout * 1000), waiter.quit)
        waiter.exec()
    if len(shown) == before:
        raise SystemExit(f"no preview arrived after {what}")


def box_drag_latency(viewer, image, widget, volume, index: int, drags: int, timeout: float) -> dict[str, float]:
    """Release-to-mask of real box drags around the organ (three sizes, in turn), with the bare
    ``Session.add_prompts`` of the same boxes as the baseline."""
    from qtpy.QtCore import QEventLoop
    from qtpy.QtWidgets import QApplication

    from napari_medseg.core.prompts import BoxPrompt, SliceRef

    app = QApplication.instance()
    rows, cols = np.nonzero(volume[index] > 120)
    boxes = [((rows.min() - 8 + j, cols.min() - 8 + j), (rows.max() + 8 - j, cols.max() + 8 - j)) for j in (0, 4, 8)]
    prompts = [[BoxPrompt(SliceRef(0, index), (float(lo[0]), float(lo[1])), (float(hi[0]), float(hi[1])))]
               for lo, hi in boxes]
    bare = bare_seconds(widget, [prompts[k % 3] for k in range(drags)], timeout)
    shown: list[float] = []
    waiter = QEventLoop()
    widget.preview_shown.connect(lambda preview: (shown.append(time.perf_counter()), waiter.quit()))
    widget.set_tool("box")
    through = []
    for k in range(drags + 1):  # the first drag warms up the Qt path and is not counted
        lo, hi = boxes[k % 3]
        widget.clear_prompts()
        widget.wait_idle(timeout)
        app.processEvents()
        before = len(shown)
        start, end = (image.data_to_world(np.array([index, *corner])) for corner in (lo, hi))
        released = canvas_drag(viewer, start, end, app)
        wait_for_preview(shown, before, waiter, timeout, "a box drawn on the canvas")
        through.append(shown[-1] - released)
    through = through[1:]
    return {
        "box_bare_p50": percentile_ms(bare, 50),
        "box_bare_p95": percentile_ms(bare, 95),
        "box_p50": percentile_ms(through, 50),
        "box_p95": percentile_ms(through, 95),
    }


def canvas_freehand(viewer, outline, qt_app) -> float:
    """A real freehand drawing: the left button pressed at the path's first world point, the mouse
    moved through the others with it held (a lasso: napari adds a vertex every
    ``lasso_vertex_distance`` screen pixels; a brush stroke: a point per move), released at the
    last; returns when it was released."""
    from qtpy.QtCore import Qt
    from qtpy.QtTest import QTest

    native = viewer.window._qt_viewer.canvas.native
    pixels = [canvas_pixel(viewer, point) for point in outline]
    QTest.mousePress(native, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pixels[0])
    for pixel in pixels[1:]:
        QTest.mouseMove(native, pixel)
        qt_app.processEvents()
    released = time.perf_counter()
    QTest.mouseRelease(native, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pixels[-1])
    return released


def drawn_latency(viewer, image, widget, volume, index: int, tool: str, count: int, timeout: float) -> dict[str, float]:
    """Release-to-mask of real freehand lassos around the organ (``tool`` "lasso", three sizes in
    turn) or brush strokes along it (``tool`` "scribble", three lengths), drawn with Qt mouse moves,
    with the bare ``Session.add_prompts`` of the very prompts the widget sent (their vertices or points
    as napari and the tool made them) as the baseline."""
    from qtpy.QtCore import QEventLoop
    from qtpy.QtWidgets import QApplication

    app = QApplication.instance()
    rows, cols = np.nonzero(volume[index] > 120)
    centre, half = ((rows.min() + rows.max()) / 2, (cols.min() + cols.max()) / 2), ((rows.max() - rows.min()) / 2, (cols.max() - cols.min()) / 2)
    if tool == "lasso":
        angles = np.linspace(0.0, 2 * np.pi, 240)
        paths = [[(centre[0] + (half[0] + m) * np.sin(a), centre[1] + (half[1] + m) * np.cos(a)) for a in angles]
                 for m in (6, 10, 14)]
    else:  # a wavy stroke across the organ's middle, a half to four fifths of its width long
        paths = [[(centre[0] + 0.2 * half[0] * np.sin(6 * t), centre[1] + share * half[1] * (2 * t - 1))
                  for t in np.linspace(0.0, 1.0, 160)] for share in (0.5, 0.65, 0.8)]
    outlines = [[image.data_to_world(np.array([index, r, c])) for r, c in path] for path in paths]
    sent: list = []
    submit = widget.worker.submit_interaction

    def record(prompts, label_id=None):
        sent.append(list(prompts))
        return submit(prompts, label_id)

    widget.worker.submit_interaction = record
    shown: list[float] = []
    waiter = QEventLoop()
    widget.preview_shown.connect(lambda preview: (shown.append(time.perf_counter()), waiter.quit()))
    widget.set_tool(tool)
    through = []
    try:
        for k in range(count + 1):  # the first one warms up the Qt path and is not counted
            widget.clear_prompts()
            widget.wait_idle(timeout)
            app.processEvents()
            before = len(shown)
            released = canvas_freehand(viewer, outlines[k % 3], app)
            wait_for_preview(shown, before, waiter, timeout, f"a {tool} drawn on the canvas")
            through.append(shown[-1] - released)
    finally:
        widget.worker.submit_interaction = submit
    drawn = [[p for p in prompts if p.kind == tool] for prompts in sent[1:]]
    bare = bare_seconds(widget, drawn, timeout)
    return {
        f"{tool}_vertices": float(np.median([len(p[0].vertices if tool == "lasso" else p[0].points) for p in drawn])),
        f"{tool}_bare_p50": percentile_ms(bare, 50),
        f"{tool}_bare_p95": percentile_ms(bare, 95),
        f"{tool}_p50": percentile_ms(through[1:], 50),
        f"{tool}_p95": percentile_ms(through[1:], 95),
    }


def bench_click_latency(size: int, clicks: int, timeout: float, drags: int = 12) -> dict[str, float]:
    from qtpy.QtWidgets import QApplication

    from napari_medseg.core.prompts import PointPrompt, SliceRef

    volume = synthetic_ct((8, size, size))
    index = 4
    viewer, image, widget = make_viewer_and_widget(volume, timeout)
    app = QApplication.instance()
    try:
        viewer.dims.set_point(0, index)
        viewer.reset_view()
        widget.wait_idle(timeout)
        session = widget.session
        # every slice cached, as after prefetch: only decoding is timed
        on_worker(widget, lambda: [session.embedding(i, 0) for i in range(volume.shape[0])], timeout)
        widget.set_tool("point")
        center = organ_center(volume, index)
        rng = np.random.default_rng(1)
        offsets = rng.uniform(-0.05 * size, 0.05 * size, size=(clicks, 2))
        points = [(center[0] + dr, center[1] + dc) for dr, dc in offsets]

        bare = bare_seconds(widget, [[PointPrompt(SliceRef(0, index), rc)] for rc in points], timeout)

        shown: list[float] = []
        widget.preview_shown.connect(lambda preview: shown.append(time.perf_counter()))
        stamps = trace_click_path(widget)
        through_widget, to_screen = [], []
        canvas = viewer.window._qt_viewer.canvas.native
        empty = 0
        stages: list[list[float]] = []
        # Wait for the preview in a Qt event loop, idle as napari's own: a Python loop around
        # processEvents() would hold the GIL and slow the worker thread several times over.
        from qtpy.QtCore import QEventLoop

        waiter = QEventLoop()
        widget.preview_shown.connect(lambda preview: waiter.quit())
        for rc in [points[0], *points]:  # the first click warms up the Qt path and is not counted
            widget.clear_prompts()
            widget.wait_idle(timeout)
            app.processEvents()
            before = len(shown)
            world = image.data_to_world(np.array([index, rc[0], rc[1]]))
            t0 = time.perf_counter()
            canvas_click(viewer, world, app)
            wait_for_preview(shown, before, waiter, timeout, "a click on the canvas")
            empty += int(not widget.preview_layer.data[index].any())
            through_widget.append(shown[-1] - t0)
            canvas.repaint()  # the frame that shows the mask, drawn now rather than on the next vsync
            to_screen.append(time.perf_counter() - t0)
            # the click's marker is drawn just after that frame (tools.py): it must be where the click was
            deadline = time.perf_counter() + timeout
            while not len(widget.tools.points.data) and time.perf_counter() < deadline:
                app.processEvents()
                time.sleep(0.002)
            placed = np.asarray(widget.tools.points.data)[-1]
            if not np.allclose(placed, (index, *rc), atol=1.0):
                raise SystemExit(f"the click landed at voxel {placed}, not at {(index, *rc)}")
            stages.append(
                [
                    stamps["submitted"] - t0,
                    stamps["started"] - stamps["submitted"],
                    stamps["decoded"] - stamps["started"],
                    shown[-1] - stamps["decoded"],
                ]
            )
        through_widget, to_screen = through_widget[1:], to_screen[1:]
        stages = np.asarray(stages[1:]) * 1000.0
        boxes = box_drag_latency(viewer, image, widget, volume, index, drags, timeout) if drags > 0 else {}
        drawn = {key: value for tool in ("lasso", "scribble") if drags > 0
                 for key, value in drawn_latency(viewer, image, widget, volume, index, tool, drags, timeout).items()}
        return {
            **boxes,
            **drawn,
            "bare_p50": percentile_ms(bare, 50),
            "bare_p95": percentile_ms(bare, 95),
            "widget_p50": percentile_ms(through_widget, 50),
            "widget_p95": percentile_ms(through_widget, 95),
            "widget_max": max(through_widget) * 1000.0,
            "screen_p50": percentile_ms(to_screen, 50),
            "screen_p95": percentile_ms(to_screen, 95),
            "empty_previews": float(empty),
            **{f"stage_{name}": float(np.median(stages[:, i])) for i, name in enumerate(STAGES)},
        }
    finally:
        widget.shutdown()
        viewer.close()


def max_tick_gap(app, seconds: float | None = None, until=None, interval_ms: int = 5) -> float:
    """Longest gap (s) between ticks of a QTimer on the Qt thread, for ``seconds`` or until ``until()``."""
    from qtpy.QtCore import QTimer

    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(interval_ms)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    start = time.perf_counter()
    ticks.append(start)
    timer.start()
    try:
        while True:
            app.processEvents()
            time.sleep(0.001)
            now = time.perf_counter()
            if seconds is not None and now - start >= seconds:
                break
            if until is not None and until():
                break
    finally:
        timer.stop()
    ticks.append(time.perf_counter())
    return float(np.max(np.diff(ticks)))


def bench_propagation_stall(size: int, depth: int, timeout: float) -> dict[str, float]:
    from qtpy.QtWidgets import QApplication

    volume = synthetic_ct((depth, size, size))
    key = depth // 2
    viewer, image, widget = make_viewer_and_widget(volume, timeout)
    app = QApplication.instance()
    try:
        viewer.dims.set_point(0, key)
        widget.wait_idle(timeout)
        # The key slice holds the organ, as if drawn by hand: the benchmark measures the UI while the
        # worker propagates, whatever the model's quality. No IoU stop, so it runs through all slices.
        widget.session.labels[key][volume[key] > 120] = widget.label_id
        widget.labels_layer.refresh()
        widget.form.iou_spin.setValue(0.0)
        idle_gap = max_tick_gap(app, seconds=2.0)

        arrived: list[int] = []
        finished: list[int] = []
        errors: list[str] = []
        widget.slice_propagated.connect(arrived.append)
        widget.propagation_finished.connect(finished.append)
        widget.error.connect(errors.append)
        t0 = time.perf_counter()
        widget.propagate()
        gap = max_tick_gap(app, until=lambda: bool(finished or errors) or time.perf_counter() - t0 > timeout)
        if errors:
            raise SystemExit(f"propagation failed: {errors[-1]}")
        elapsed = time.perf_counter() - t0
        widget.wait_idle(timeout)
        labelled = int(np.asarray(widget.labels_layer.data).any(axis=(1, 2)).sum())
        return {
            "idle_gap_ms": idle_gap * 1000.0,
            "propagation_gap_ms": gap * 1000.0,
            "seconds": elapsed,
            "slices_arrived": float(len(arrived)),
            "slices_labelled": float(labelled),
            "depth": float(depth),
        }
    finally:
        widget.shutdown()
        viewer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--size", type=int, default=512, help="slice size for the click latency (default 512)"
    )
    parser.add_argument("--clicks", type=int, default=30)
    parser.add_argument("--drags", type=int, default=12, help="box drags, lassos and strokes after the clicks (0: none)")
    parser.add_argument(
        "--prop-size", type=int, default=128, help="slice size for the propagation (default 128)"
    )
    parser.add_argument("--prop-depth", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--skip-click", action="store_true")
    parser.add_argument("--skip-propagation", action="store_true")
    args = parser.parse_args()

    # autosaves of the benchmark's viewers go to a throwaway folder (no restore prompts)
    os.environ.setdefault("NAPARI_MEDSEG_CACHE", tempfile.mkdtemp(prefix="medseg-bench-"))
    from qtpy.QtWidgets import QApplication

    _app = QApplication.instance() or QApplication([])
    import torch

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"torch threads: {torch.get_num_threads()}, CPU cores: {os.cpu_count()}, load average {load}")
    if not args.skip_click:
        r = bench_click_latency(args.size, args.clicks, args.timeout, args.drags)
        print(
            f"click-to-mask on a cached {args.size}x{args.size} slice, {args.clicks} clicks (point tool, Qt click):"
        )
        print(f"  bare Session.add_prompts   p50 {r['bare_p50']:7.1f} ms   p95 {r['bare_p95']:7.1f} ms")
        print(
            f"  through the widget         p50 {r['widget_p50']:7.1f} ms   p95 {r['widget_p95']:7.1f} ms"
            f"   max {r['widget_max']:.1f} ms   ({int(r['empty_previews'])} empty previews)"
        )
        print(f"  ... and drawn on screen    p50 {r['screen_p50']:7.1f} ms   p95 {r['screen_p95']:7.1f} ms")
        print(
            "  median stages: " + ", ".join(f"{n.replace('_', ' ')} {r['stage_' + n]:.1f} ms" for n in STAGES)
        )
        print(
            f"  widget overhead p95 {r['widget_p95'] - r['bare_p95']:+.1f} ms "
            f"(ratio {r['widget_p95'] / r['bare_p95']:.2f}x);"
            f" target p95 <= 150 ms: {'PASS' if r['widget_p95'] <= 150 else 'FAIL'}"
        )
        if args.drags > 0:
            print(f"box drawn by a drag on the same slice, {args.drags} boxes (release to mask):")
            print(f"  bare Session.add_prompts   p50 {r['box_bare_p50']:7.1f} ms   p95 {r['box_bare_p95']:7.1f} ms")
            print(f"  through the widget         p50 {r['box_p50']:7.1f} ms   p95 {r['box_p95']:7.1f} ms")
            print(f"lasso drawn freehand on the same slice, {args.drags} lassos of {r['lasso_vertices']:.0f} vertices "
                  "(median, as napari made them; release to mask):")
            print(f"  bare Session.add_prompts   p50 {r['lasso_bare_p50']:7.1f} ms   p95 {r['lasso_bare_p95']:7.1f} ms")
            print(f"  through the widget         p50 {r['lasso_p50']:7.1f} ms   p95 {r['lasso_p95']:7.1f} ms")
            print(f"stroke brushed across the organ, {args.drags} strokes of {r['scribble_vertices']:.0f} points "
                  "(median, as the scribble tool recorded them; release to mask):")
            print(f"  bare Session.add_prompts   p50 {r['scribble_bare_p50']:7.1f} ms   p95 {r['scribble_bare_p95']:7.1f} ms")
            print(f"  through the widget         p50 {r['scribble_p50']:7.1f} ms   p95 {r['scribble_p95']:7.1f} ms")
    if not args.skip_propagation:
        r = bench_propagation_stall(args.prop_size, args.prop_depth, args.timeout)
        print(
            f"propagation of {int(r['depth'])} slices of {args.prop_size}x{args.prop_size} in the worker:"
            f" {r['seconds']:.1f} s, {int(r['slices_arrived'])} slices delivered,"
            f" {int(r['slices_labelled'])} labelled"
        )
        print(
            f"  longest Qt event-loop stall {r['propagation_gap_ms']:.1f} ms"
            f" (idle baseline {r['idle_gap_ms']:.1f} ms, 5 ms timer);"
            f" target <= 100 ms: {'PASS' if r['propagation_gap_ms'] <= 100 else 'FAIL'}"
        )


if __name__ == "__main__":
    main()
