"""While an interaction's mask is being decoded, napari's window does not repaint.

On a CPU-only machine a repaint is Python on the Qt thread (vispy, Qt's widgets) plus software
rasterising, and it ran beside the worker's decode on the same 2 cores. Holding only the canvas was
not enough: with a GL canvas in it, Qt composes the whole window through OpenGL on every flush, so
the status bar, the layer list or our own status line repainting during the decode set Mesa's
rasteriser threads going as well (``benchmarks/bench_widget_latency.py``: decode in the worker 54 ms
with the canvas held, 28-30 ms with the window held, 12-17 ms alone; Mesa's threads 0.5-0.9 s of CPU
over 20 decodes with the canvas held, none with the window held).

The window is held from the prompt's hand-over to the worker until its preview is shown (or the
interaction fails, or ``HOLD_MS`` passes: a lost answer can never freeze the view), so a stroke, box
or lasso and its mask are drawn in one frame (a click's marker just after it, ``tools.py``). Only
painting waits: mouse and keyboard input are handled as they come, and a decode is tens of ms.
"""

from __future__ import annotations

from typing import Any

from qtpy.QtCore import QObject, QTimer

HOLD_MS = 250  # the longest the window is held, counted from the first hold


def viewer_window(viewer: Any) -> Any | None:
    """napari's top-level Qt window, or None where this napari does not expose it."""
    try:
        return viewer.window._qt_window
    except AttributeError:
        return None


class PaintHold(QObject):
    """``hold()`` stops the viewer window's repaints, ``release()`` lets them go on (one repaint)."""

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
        """Hold the window; a hold already on keeps its deadline (repeated clicks cannot starve it)."""
        if self._held:
            return
        window = viewer_window(self._viewer)
        if window is None:
            return
        try:
            window.setUpdatesEnabled(False)
        except RuntimeError:  # the viewer's window is gone
            return
        self._held = True
        self._timer.start()

    def release(self) -> None:
        """Let the window repaint again (Qt repaints it then); nothing when it is not held."""
        if not self._held:
            return
        self._held = False
        self._timer.stop()
        window = viewer_window(self._viewer)
        try:
            if window is not None and not window.updatesEnabled():
                window.setUpdatesEnabled(True)
        except RuntimeError:
            pass
