"""While an interaction's mask is being decoded, napari's canvas does not repaint.

On a CPU-only machine a repaint is Python on the Qt thread (vispy) plus software rasterising, and it
ran beside the worker's decode: on 2 cores a click's decode took 3-5 times as long in the widget as
alone (``benchmarks/bench_widget_latency.py``), the two threads taking the cores and the GIL from each
other. The canvas is held from the prompt's hand-over to the worker until its preview is shown (or
the interaction fails, or ``HOLD_MS`` passes: a lost answer can never freeze the view), so a stroke,
box or lasso and its mask are drawn in one frame (a click's marker just after it, ``tools.py``). Only
the canvas waits; the dock widget, the layer list and the rest of napari stay live.
"""

from __future__ import annotations

from typing import Any

from qtpy.QtCore import QObject, QTimer

HOLD_MS = 250  # the longest the canvas is held, counted from the first hold


def canvas_widget(viewer: Any) -> Any | None:
    """The Qt widget napari draws the scene in, or None where this napari does not expose it."""
    try:
        return viewer.window._qt_viewer.canvas.native
    except AttributeError:
        return None


class CanvasHold(QObject):
    """``hold()`` stops the canvas's repaints, ``release()`` lets them go on (and repaints once)."""

    def __init__(self, viewer: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._viewer = viewer
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(HOLD_MS)
        self._timer.timeout.connect(self.release)
        self._held = False

    @property
    def held(self) -> bool:
        return self._held

    def hold(self) -> None:
        """Hold the canvas; a hold already on keeps its deadline (repeated clicks cannot starve it)."""
        if self._held:
            return
        canvas = canvas_widget(self._viewer)
        if canvas is None:
            return
        try:
            canvas.setUpdatesEnabled(False)
        except RuntimeError:  # the viewer's window is gone
            return
        self._held = True
        self._timer.start()

    def release(self) -> None:
        """Let the canvas repaint again (Qt repaints it then); nothing when it is not held."""
        if not self._held:
            return
        self._held = False
        self._timer.stop()
        canvas = canvas_widget(self._viewer)
        try:
            if canvas is not None and not canvas.updatesEnabled():
                canvas.setUpdatesEnabled(True)
        except RuntimeError:
            pass
