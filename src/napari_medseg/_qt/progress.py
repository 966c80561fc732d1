"""The propagation's progress bar, in our dock beside its Cancel button.

Not napari's own progress (``napari.utils.progress``): while one is open, napari's activity button
animates, and with a GL canvas in the window every animation frame makes Qt compose the whole window
through OpenGL. On a machine with software OpenGL (Mesa's llvmpipe: virtual machines, remote
desktops, CI) that took the cores from the worker: a 200-slice propagation in the widget took
4.6-5.3 s with napari's bar against 1.2-1.8 s with ours (``benchmarks/bench_widget_latency.py``).
Ours is redrawn at most every ``interval`` seconds.
"""

from __future__ import annotations

import time

from qtpy.QtWidgets import QProgressBar


class PropagationProgress:
    """Drives ``bar``: shown while a propagation runs, hidden by :meth:`close`."""

    def __init__(self, bar: QProgressBar, total: int, description: str, interval: float = 0.25) -> None:
        self.bar = bar
        self.interval = interval
        self._shown = 0.0
        bar.setRange(0, max(int(total), 1))
        bar.setValue(0)
        bar.setFormat(f"{description}: %v / %m slices")
        bar.setVisible(True)

    def set(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._shown < self.interval and done < total:  # a redraw per slice costs more than it tells
            return
        self._shown = now
        if total and total != self.bar.maximum():
            self.bar.setMaximum(int(total))
        self.bar.setValue(min(int(done), self.bar.maximum()))

    def close(self) -> None:
        self.bar.setVisible(False)
