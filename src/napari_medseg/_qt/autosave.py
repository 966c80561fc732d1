"""Autosave: after each change the labels go to a recovery file, so a crash loses nothing.

Recovery files live in ``$NAPARI_MEDSEG_CACHE/recovery`` (default ``~/.cache/napari-medseg``), named
by the content signature of the image: ``<signature>.nii.gz`` holds the labels (with the image's
affine) and ``<signature>.json`` says when and what was saved. Both are written atomically, by a
background thread that always writes the newest snapshot and skips the ones overtaken meanwhile.
Opening an image with the same signature finds the file again.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from qtpy.QtCore import QObject, Signal

from napari_medseg.core.volume_io import Volume, atomic_path, read_volume, write_labels
from napari_medseg.errors import VolumeReadError

CACHE_ENV = "NAPARI_MEDSEG_CACHE"
# Compressing a snapshot takes a core for about a second (512x512x300 labels); at normal priority a
# click decoded meanwhile on 2 cores took twice as long at the median and up to ten times at p95
# (the model's OpenMP threads wait for each other). Niced, the writer yields to them and still runs
# in the gaps between interactions (about a tenth of a busy machine's time; 19 would starve it).
WRITER_NICENESS = 10


def cache_root() -> Path:
    """The napari-medseg cache folder (``NAPARI_MEDSEG_CACHE`` redirects it, e.g. in tests)."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "napari-medseg"


def recovery_dir() -> Path:
    return cache_root() / "recovery"


def recovery_path(signature: str) -> Path:
    return recovery_dir() / f"{signature}.nii.gz"


@dataclass(frozen=True)
class RecoveryInfo:
    """A recovery file found for an image."""

    path: Path
    saved_at: float
    image_name: str
    label_names: dict[int, str]

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.saved_at))
        return f"autosaved labels of '{self.image_name}' from {when}"


def find_recovery(signature: str) -> RecoveryInfo | None:
    """The recovery file for an image signature, if one exists."""
    path = recovery_path(signature)
    if not path.is_file():
        return None
    meta: dict = {}
    sidecar = path.with_name(f"{signature}.json")
    if sidecar.is_file():
        try:
            meta = json.loads(sidecar.read_text())
        except (OSError, ValueError):
            meta = {}
    names = {int(k): str(v) for k, v in (meta.get("label_names") or {}).items()}
    return RecoveryInfo(path, float(meta.get("saved_at", path.stat().st_mtime)), str(meta.get("image", "")), names)


def write_recovery(
    signature: str,
    labels: np.ndarray,
    reference: Volume | None = None,
    image_name: str = "",
    label_names: dict[int, str] | None = None,
) -> Path:
    """Write the labels and their sidecar atomically; returns the labels path."""
    path = write_labels(recovery_path(signature), labels, reference=reference)
    meta = {
        "image": image_name,
        "saved_at": time.time(),
        "shape": list(labels.shape),
        "label_names": {str(k): v for k, v in (label_names or {}).items()},
    }
    with atomic_path(path.with_name(f"{signature}.json")) as tmp:
        tmp.write_text(json.dumps(meta, indent=1))
    return path


def read_recovery(signature: str, shape: tuple[int, ...]) -> np.ndarray:
    """The recovered labels, checked against the image shape."""
    path = recovery_path(signature)
    volume = read_volume(path)
    data = np.asarray(volume.data)
    if tuple(data.shape) != tuple(shape):
        raise VolumeReadError(
            f"recovery file {path} holds labels of shape {data.shape}, not the image's {tuple(shape)}; "
            "delete it or open the image it belongs to"
        )
    return data


def discard_recovery(signature: str) -> None:
    for path in (recovery_path(signature), recovery_dir() / f"{signature}.json"):
        path.unlink(missing_ok=True)


def lower_thread_priority(niceness: int) -> None:
    """Make the calling thread nicer (Linux, where threads have their own nice value; elsewhere
    PRIO_PROCESS with a thread id would name a process, not this thread)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid), niceness))
    except OSError:
        pass  # (not allowed here: the writer runs at the normal priority)


class Autosaver(QObject):
    """Writes snapshots on its own thread; the newest snapshot wins."""

    saved = Signal(str)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cond = threading.Condition()
        self._pending: tuple | None = None
        self._busy = False
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="medseg-autosave", daemon=True)
        self._thread.start()

    def save(
        self,
        signature: str,
        labels: np.ndarray,
        reference: Volume | None = None,
        image_name: str = "",
        label_names: dict[int, str] | None = None,
    ) -> None:
        """Queue a snapshot (the caller hands over a copy it will not modify)."""
        with self._cond:
            self._pending = (signature, labels, reference, image_name, dict(label_names or {}))
            self._cond.notify_all()

    def is_idle(self) -> bool:
        with self._cond:
            return self._pending is None and not self._busy

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every queued snapshot is on disk; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending is not None or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def stop(self) -> None:
        self.flush(timeout=30.0)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(5.0)

    def _loop(self) -> None:
        lower_thread_priority(WRITER_NICENESS)
        while True:
            with self._cond:
                while self._pending is None and not self._stopping:
                    self._cond.wait()
                if self._pending is None:
                    return
                job, self._pending, self._busy = self._pending, None, True
            try:
                path = write_recovery(*job)
                self.saved.emit(str(path))
            except Exception as exc:  # noqa: BLE001 - reported as a notification, never fatal
                self.failed.emit(f"autosave failed: {exc}")
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
