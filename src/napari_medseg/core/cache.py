"""The embedding cache: encode a slice once, answer every click on it from memory.

Encoding a slice is the expensive step of a promptable model (see ``models/protocol.py``), so
embeddings are kept in a memory LRU bounded in bytes and, optionally, in a zarr v3 store on disk
that survives restarts (``napari-medseg precompute`` fills it ahead of time).

Disk layout, one zarr group per (volume signature, model identity)::

    <directory>/<digest>.zarr/            attrs: format_version, volume, model
        axis2/                            one group per slicing axis
            17/                           one group per slice, written complete then renamed in
                <name>                    one array per embedding entry, a single chunk each

A slice group is written into a temporary directory and renamed into place, so an entry that is
present is complete. A store whose attrs do not match, or an entry that cannot be read, is
discarded with a one-line warning and recomputed: never used silently, never a crash.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import queue
import shutil
import threading
import uuid
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import zarr
from zarr.codecs import Crc32cCodec

from napari_medseg.errors import CancelledError
from napari_medseg.models.protocol import Embedding, PromptableModel, embedding_nbytes

FORMAT_VERSION = 1
# Embeddings are dense floats that barely compress; a checksum instead of zstd makes a disk hit ~4x
# faster and still turns a damaged chunk into a read error (then recomputed) instead of wrong numbers.
_CODECS = (Crc32cCodec(),)
_HASH_SLAB_BYTES = 64 * 1024**2


_LIVE_CACHES: weakref.WeakSet[EmbeddingCache] = weakref.WeakSet()


def _flush_at_exit() -> None:
    for cache in list(_LIVE_CACHES):
        cache.flush()


# Queued writes must finish before the interpreter shuts down the thread pools zarr writes with;
# those shut down in threading's exit hooks, which run before atexit's, hence the private hook.
getattr(threading, "_register_atexit", atexit.register)(_flush_at_exit)


@dataclass(frozen=True)
class CacheKey:
    """What an embedding depends on: the volume content, the model (+ preset), the slice."""

    volume: str
    model: str
    axis: int
    index: int


def volume_signature(data) -> str:
    """A content hash of a volume (shape, dtype and every voxel), in bounded memory.

    Works for numpy arrays and lazy arrays (zarr): the data are hashed in slabs along the first
    axis of at most ~64 MB, which gives the same digest as hashing the whole C-ordered buffer.
    """
    shape = tuple(int(s) for s in data.shape)
    dtype = np.dtype(data.dtype)
    h = hashlib.blake2b(digest_size=20)
    h.update(repr((shape, dtype.str)).encode())
    if isinstance(data, np.ndarray) and data.flags.c_contiguous:
        h.update(memoryview(data).cast("B") if data.size else b"")
        return h.hexdigest()
    if not shape or shape[0] == 0:
        h.update(np.ascontiguousarray(np.asarray(data)).tobytes())
        return h.hexdigest()
    row_bytes = max(1, int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize)
    step = max(1, _HASH_SLAB_BYTES // row_bytes)
    for start in range(0, shape[0], step):
        h.update(np.ascontiguousarray(np.asarray(data[start : start + step])).tobytes())
    return h.hexdigest()


class _DiskStore:
    """Zarr stores under one directory; every method is called with the cache's disk lock held."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._checked: set[tuple[str, str]] = set()

    def _root(self, volume: str, model: str) -> Path:
        digest = hashlib.blake2b(f"{volume}|{model}".encode(), digest_size=12).hexdigest()
        return self.directory / f"{digest}.zarr"

    def _ensure(self, volume: str, model: str) -> Path:
        """The store for (volume, model), created, or checked once and discarded if it does not match."""
        root = self._root(volume, model)
        if (volume, model) in self._checked:
            return root
        expected = {"format_version": FORMAT_VERSION, "volume": volume, "model": model}
        if root.exists():
            try:
                attrs = dict(zarr.open_group(store=str(root), mode="r").attrs)
                problem = None if all(attrs.get(k) == v for k, v in expected.items()) else "does not match"
            except Exception as exc:  # any unreadable store is discarded, whatever zarr raised
                problem = f"is unreadable ({type(exc).__name__})"
            if problem is not None:
                warnings.warn(
                    f"embedding cache {root.name} {problem} this volume/model; discarding it and recomputing",
                    UserWarning,
                    stacklevel=4,
                )
                shutil.rmtree(root, ignore_errors=True)
        if not root.exists():
            tmp = root.parent / f".tmp-{uuid.uuid4().hex[:12]}-{root.name}"
            zarr.open_group(store=str(tmp), mode="w").attrs.update(expected)
            os.replace(tmp, root)
        self._checked.add((volume, model))
        return root

    def _entry(self, key: CacheKey) -> Path:
        return self._ensure(key.volume, key.model) / f"axis{key.axis}" / str(key.index)

    def read(self, key: CacheKey) -> Embedding | None:
        entry = self._entry(key)
        if not (entry / "zarr.json").exists():
            return None
        try:
            group = zarr.open_group(store=str(entry), mode="r")
            names = list(group.attrs["names"])
            return {name: np.asarray(group[name][...]) for name in names}
        except Exception as exc:  # a damaged entry is recomputed, never trusted
            warnings.warn(
                f"cached embedding {entry.parent.name}/{entry.name} is unreadable ({type(exc).__name__}); recomputing",
                UserWarning,
                stacklevel=4,
            )
            shutil.rmtree(entry, ignore_errors=True)
            return None

    def write(self, key: CacheKey, embedding: Embedding) -> None:
        entry = self._entry(key)
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = entry.parent / f".tmp-{uuid.uuid4().hex[:12]}-{entry.name}"
        try:
            group = zarr.open_group(store=str(tmp), mode="w")
            for name, value in embedding.items():
                a = np.asarray(value, order="C")
                chunks = tuple(max(1, s) for s in a.shape)
                arr = group.create_array(
                    name, shape=a.shape, dtype=a.dtype, chunks=chunks, compressors=_CODECS
                )
                arr[...] = a
            group.attrs["names"] = list(embedding)
            if entry.exists():
                shutil.rmtree(entry, ignore_errors=True)
            os.replace(tmp, entry)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def clear(self) -> None:
        for child in self.directory.glob("*.zarr"):
            shutil.rmtree(child, ignore_errors=True)
        self._checked.clear()


class EmbeddingCache:
    """Memory LRU of embeddings bounded in bytes, backed by an optional zarr store on disk.

    Thread-safe: the background worker and the UI thread may call it at once. ``get_or_compute``
    computes outside the locks, and a second caller asking for a key that is being computed waits
    for that result instead of encoding the slice twice. Embeddings are returned as stored; treat
    them as read-only.

    Disk writes happen behind the caller's back on a writer thread (a click on a new slice does not
    wait for the disk), at most ``MAX_PENDING_WRITES`` at a time; queued entries are served from
    memory meanwhile. :meth:`flush` waits for them (done at exit and by :func:`precompute`).
    """

    MAX_PENDING_WRITES = 8

    def __init__(self, max_bytes: int = 2 * 1024**3, directory: str | Path | None = None) -> None:
        self.max_bytes = int(max_bytes)
        self.directory = Path(directory).expanduser() if directory is not None else None
        self._memory: OrderedDict[CacheKey, tuple[Embedding, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._disk_lock = threading.Lock()
        self._disk = _DiskStore(self.directory) if self.directory is not None else None
        self._in_flight: dict[CacheKey, threading.Event] = {}
        self._pending: dict[CacheKey, Embedding] = {}
        self._writes: queue.Queue[tuple[CacheKey, Embedding]] = queue.Queue()
        self._write_slots = threading.Semaphore(self.MAX_PENDING_WRITES)
        self._writer: threading.Thread | None = None
        _LIVE_CACHES.add(self)
        self.hits = 0
        self.disk_hits = 0
        self.misses = 0
        self.evictions = 0
        self.nbytes = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._memory)

    def __contains__(self, key: CacheKey) -> bool:
        with self._lock:
            return key in self._memory

    def _remember(self, key: CacheKey, embedding: Embedding) -> None:
        """Keep in memory (lock held); an entry larger than the whole budget is not kept."""
        size = embedding_nbytes(embedding)
        old = self._memory.pop(key, None)
        if old is not None:
            self.nbytes -= old[1]
        if size > self.max_bytes:
            return
        self._memory[key] = (embedding, size)
        self.nbytes += size
        while self.nbytes > self.max_bytes and self._memory:
            _, (_, dropped) = self._memory.popitem(last=False)
            self.nbytes -= dropped
            self.evictions += 1

    def _held(self, key: CacheKey) -> Embedding | None:
        """An entry in memory or queued for the disk, counted as a hit (lock held)."""
        found = self._memory.get(key)
        if found is not None:
            self._memory.move_to_end(key)
            self.hits += 1
            return found[0]
        queued = self._pending.get(key)
        if queued is not None:
            self._remember(key, queued)
            self.hits += 1
        return queued

    def get(self, key: CacheKey) -> Embedding | None:
        """The cached embedding or None; a disk hit is promoted to memory."""
        with self._lock:
            found = self._held(key)
            if found is not None:
                return found
        if self._disk is not None:
            with self._disk_lock:
                embedding = self._disk.read(key)
            if embedding is not None:
                with self._lock:
                    self._remember(key, embedding)
                    self.hits += 1
                    self.disk_hits += 1
                return embedding
        with self._lock:
            self.misses += 1
        return None

    def put(self, key: CacheKey, embedding: Embedding) -> None:
        """Store in memory (within the byte budget) and on disk when a directory is set."""
        embedding = {str(k): np.asarray(v) for k, v in embedding.items()}
        with self._lock:
            self._remember(key, embedding)
        if self._disk is not None:
            self._write_slots.acquire()  # back-pressure: encoding cannot run far ahead of the disk
            with self._lock:
                self._pending[key] = embedding
                self._writes.put((key, embedding))
                if self._writer is None:
                    self._writer = threading.Thread(
                        target=self._write_loop, name="medseg-cache-writer", daemon=True
                    )
                    self._writer.start()

    def _write_loop(self) -> None:
        """Write queued entries; exit after a second without work so an idle cache holds no thread."""
        while True:
            try:
                key, embedding = self._writes.get(timeout=1.0)
            except queue.Empty:
                with self._lock:
                    if self._writes.empty():
                        self._writer = None
                        return
                continue
            try:
                assert self._disk is not None
                with self._disk_lock:
                    self._disk.write(key, embedding)
            except Exception as exc:  # a full or read-only disk must not break the session
                warnings.warn(
                    f"could not write the embedding cache to {self.directory} ({exc}); keeping it in memory only",
                    UserWarning,
                    stacklevel=2,
                )
            finally:
                with self._lock:
                    if self._pending.get(key) is embedding:
                        del self._pending[key]
                self._write_slots.release()
                self._writes.task_done()

    def flush(self) -> None:
        """Wait until every queued disk write is done."""
        self._writes.join()

    def get_or_compute(self, key: CacheKey, compute: Callable[[], Embedding]) -> Embedding:
        """The cached embedding, or ``compute()`` stored and returned (computed once per key)."""
        while True:
            found = self.get(key)
            if found is not None:
                return found
            with self._lock:
                event = self._in_flight.get(key)
                if event is None:
                    stored = self._held(key)  # another thread may have stored it since our lookup
                    if stored is not None:
                        return stored
                    event = self._in_flight[key] = threading.Event()
                    break
            event.wait()  # another thread is computing this key; use its result (or retry if it failed)
        try:
            embedding = compute()
            self.put(key, embedding)
            return embedding
        finally:
            with self._lock:
                self._in_flight.pop(key, None)
            event.set()

    def clear(self, disk: bool = False) -> None:
        """Drop every in-memory entry (and, with ``disk=True``, the disk store too)."""
        with self._lock:
            self._memory.clear()
            self.nbytes = 0
        if disk and self._disk is not None:
            self.flush()
            with self._disk_lock:
                self._disk.clear()

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "entries": len(self._memory),
                "nbytes": self.nbytes,
                "hits": self.hits,
                "disk_hits": self.disk_hits,
                "misses": self.misses,
                "evictions": self.evictions,
            }


def precompute(
    slice_image: Callable[[int], np.ndarray],
    n_slices: int,
    model: PromptableModel,
    cache: EmbeddingCache,
    volume: str,
    axis: int,
    model_key: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> int:
    """Encode every slice along ``axis`` that is not cached yet; return how many were encoded.

    ``slice_image(index)`` gives the normalised float32 slice (the session's ``slice_image``);
    ``model_key`` is the model part of the cache key (default ``model.identity``; the session adds
    its preset key). ``progress(done, total)`` is called after each slice; ``cancel()`` is checked
    before each slice and, when true, raises :class:`CancelledError`; slices already encoded stay cached.
    """
    key_model = model.identity if model_key is None else model_key
    try:
        return _encode_all(
            slice_image, int(n_slices), model, cache, volume, key_model, int(axis), progress, cancel
        )
    finally:
        cache.flush()  # the disk store is complete when precompute returns (or is cancelled)


def _encode_all(slice_image, total, model, cache, volume, key_model, axis, progress, cancel) -> int:
    """The loop of :func:`precompute`: how many slices it encoded."""
    encoded = 0
    for index in range(total):
        if cancel is not None and cancel():
            raise CancelledError(
                f"precompute cancelled after {index} of {total} slices; the encoded slices stay cached"
            )
        computed: list[int] = []

        def encode(i: int = index, computed: list[int] = computed) -> Embedding:
            computed.append(i)
            return model.encode(slice_image(i))

        cache.get_or_compute(CacheKey(volume, key_model, axis, index), encode)
        encoded += len(computed)
        if progress is not None:
            progress(index + 1, total)
    return encoded
