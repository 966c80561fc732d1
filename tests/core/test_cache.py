"""Embedding cache: memory LRU by bytes, disk persistence, damaged stores, precompute, threads."""

from __future__ import annotations

import json
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import zarr

from napari_medseg.core.cache import CacheKey, EmbeddingCache, precompute, volume_signature
from napari_medseg.errors import CancelledError
from napari_medseg.models.protocol import PromptableModel


class CountingEncoder:
    """A deterministic test double of a promptable model: the embedding is a function of the slice."""

    name = "counting"

    def __init__(self, delay: float = 0.0) -> None:
        self.calls: list[float] = []
        self.delay = delay
        self._lock = threading.Lock()

    @property
    def identity(self) -> str:
        return "counting:v1"

    def encode(self, image: np.ndarray) -> dict[str, np.ndarray]:
        with self._lock:
            self.calls.append(float(image.mean()))
        if self.delay:
            time.sleep(self.delay)
        feat = np.stack([image, image**2]).astype(np.float16)
        return {"features": feat, "mean": np.array([image.mean()], dtype=np.float32)}

    def decode(self, embedding, prompts, prev_logits=None) -> np.ndarray:
        return embedding["features"][0].astype(np.float32) - 0.5


def _emb(value: float, n: int = 250) -> dict[str, np.ndarray]:
    """An embedding of exactly ``8 * n`` bytes (float32 + int32 arrays of n values)."""
    return {"a": np.full(n, value, dtype=np.float32), "b": np.full(n, int(value), dtype=np.int32)}


def _key(index: int, volume: str = "vol", model: str = "m", axis: int = 2) -> CacheKey:
    return CacheKey(volume, model, axis, index)


def test_the_test_double_follows_the_protocol():
    assert isinstance(CountingEncoder(), PromptableModel)


def test_signature_depends_on_content_shape_and_dtype():
    a = np.arange(60, dtype=np.int16).reshape(3, 4, 5)
    assert volume_signature(a) == volume_signature(a.copy())
    b = a.copy()
    b[2, 3, 4] += 1
    assert volume_signature(b) != volume_signature(a)
    assert volume_signature(a.reshape(3, 5, 4)) != volume_signature(a)
    assert volume_signature(a.astype(np.int32)) != volume_signature(a)


def test_signature_of_zarr_and_strided_arrays_matches_numpy(tmp_path, monkeypatch):
    import napari_medseg.core.cache as cache_module

    data = np.random.default_rng(1).normal(size=(9, 7, 5)).astype(np.float32)
    z = zarr.create_array(
        store=str(tmp_path / "v.zarr"), shape=data.shape, chunks=(2, 7, 5), dtype=data.dtype
    )
    z[...] = data
    monkeypatch.setattr(cache_module, "_HASH_SLAB_BYTES", 7 * 5 * 4 * 2)  # force several slabs
    assert volume_signature(z) == volume_signature(data)
    fortran = np.asfortranarray(data)
    assert volume_signature(fortran) == volume_signature(data)


def test_memory_hits_and_misses_count():
    cache = EmbeddingCache(max_bytes=10_000)
    assert cache.get(_key(0)) is None
    cache.put(_key(0), _emb(1.0))
    got = cache.get(_key(0))
    assert got is not None and got["a"].dtype == np.float32 and float(got["a"][0]) == 1.0
    assert (cache.hits, cache.misses, cache.nbytes) == (1, 1, 2000)
    assert cache.get(_key(0, model="other")) is None
    assert cache.get(_key(0, axis=1)) is None
    assert cache.misses == 3


def test_lru_evicts_least_recently_used_by_bytes():
    cache = EmbeddingCache(max_bytes=5000)  # room for two 2000-byte entries
    cache.put(_key(0), _emb(0))
    cache.put(_key(1), _emb(1))
    assert cache.get(_key(0)) is not None  # 0 is now the most recent
    cache.put(_key(2), _emb(2))
    assert cache.evictions == 1 and cache.nbytes == 4000 and len(cache) == 2
    assert _key(1) not in cache
    assert _key(0) in cache and _key(2) in cache
    cache.put(_key(3), _emb(3, n=500))  # 4000 bytes: both others must go
    assert len(cache) == 1 and cache.nbytes == 4000 and cache.evictions == 3


def test_entry_larger_than_budget_is_not_kept_in_memory_but_on_disk(tmp_path):
    cache = EmbeddingCache(max_bytes=1000, directory=tmp_path)
    cache.put(_key(0), _emb(7))
    cache.flush()
    assert len(cache) == 0 and cache.nbytes == 0
    got = cache.get(_key(0))
    assert got is not None and cache.disk_hits == 1
    np.testing.assert_array_equal(got["b"], np.full(250, 7, dtype=np.int32))


def test_replacing_a_key_keeps_byte_count_exact():
    cache = EmbeddingCache(max_bytes=10_000)
    cache.put(_key(0), _emb(1))
    cache.put(_key(0), _emb(2, n=100))
    assert cache.nbytes == 800 and len(cache) == 1
    cache.clear()
    assert cache.nbytes == 0 and len(cache) == 0


def test_disk_store_persists_across_instances_with_dtypes(tmp_path):
    emb = {
        "f16": np.arange(24, dtype=np.float16).reshape(2, 3, 4),
        "scalar": np.array(3.5),
        "i": np.arange(5),
    }
    first = EmbeddingCache(directory=tmp_path)
    first.put(_key(4), emb)
    first.flush()
    second = EmbeddingCache(directory=tmp_path)
    got = second.get(_key(4))
    assert got is not None and second.disk_hits == 1
    for name, value in emb.items():
        assert got[name].dtype == value.dtype and got[name].shape == value.shape
        np.testing.assert_array_equal(got[name], value)
    assert _key(4) in second  # promoted to memory
    assert second.get(_key(4)) is not None and second.disk_hits == 1 and second.hits == 2
    assert second.get(_key(5)) is None
    stores = list(tmp_path.glob("*.zarr"))
    assert len(stores) == 1
    attrs = dict(zarr.open_group(store=str(stores[0]), mode="r").attrs)
    assert attrs["volume"] == "vol" and attrs["model"] == "m" and attrs["format_version"] == 1


def _only_store(directory: Path) -> Path:
    stores = list(directory.glob("*.zarr"))
    assert len(stores) == 1
    return stores[0]


def _write_one(directory: Path, key: CacheKey, embedding) -> None:
    cache = EmbeddingCache(directory=directory)
    cache.put(key, embedding)
    cache.flush()


def test_mismatched_store_is_discarded_with_a_warning(tmp_path):
    _write_one(tmp_path, _key(0), _emb(1))
    meta = _only_store(tmp_path) / "zarr.json"
    doc = json.loads(meta.read_text())
    doc["attributes"]["volume"] = "some-other-volume"
    meta.write_text(json.dumps(doc))
    cache = EmbeddingCache(directory=tmp_path)
    with pytest.warns(UserWarning, match="does not match") as record:
        assert cache.get(_key(0)) is None
    assert len(record) == 1 and "\n" not in str(record[0].message)
    model = CountingEncoder()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # recomputed once, then served without further warnings
        cache.get_or_compute(_key(0), lambda: model.encode(np.ones((4, 4), np.float32)))
        cache.flush()
        assert EmbeddingCache(directory=tmp_path).get(_key(0)) is not None
    assert len(model.calls) == 1


def test_corrupt_store_metadata_is_discarded_with_a_warning(tmp_path):
    _write_one(tmp_path, _key(0), _emb(1))
    (_only_store(tmp_path) / "zarr.json").write_text("{ not json")
    cache = EmbeddingCache(directory=tmp_path)
    with pytest.warns(UserWarning, match="unreadable"):
        assert cache.get(_key(0)) is None
    cache.put(_key(0), _emb(2))
    cache.flush()
    got = EmbeddingCache(directory=tmp_path).get(_key(0))
    assert got is not None and float(got["a"][0]) == 2.0


def test_corrupt_entry_is_recomputed_with_a_warning(tmp_path):
    _write_one(tmp_path, _key(3), _emb(1))
    entry = _only_store(tmp_path) / "axis2" / "3"
    chunk_files = [p for p in (entry / "a").rglob("*") if p.is_file() and p.name != "zarr.json"]
    assert chunk_files
    for p in chunk_files:
        p.write_bytes(b"\x00\x01garbage")
    cache = EmbeddingCache(directory=tmp_path)
    with pytest.warns(UserWarning, match="unreadable"):
        got = cache.get_or_compute(_key(3), lambda: _emb(9))
    cache.flush()
    assert float(got["a"][0]) == 9.0
    assert float(EmbeddingCache(directory=tmp_path).get(_key(3))["a"][0]) == 9.0


def test_failed_disk_write_warns_and_leaves_no_entry(tmp_path, monkeypatch):
    cache = EmbeddingCache(directory=tmp_path)
    original = zarr.Group.create_array

    def disk_full_on_second_array(self, name, **kwargs):
        if name == "b":
            raise OSError(28, "No space left on device")
        return original(self, name, **kwargs)

    monkeypatch.setattr(zarr.Group, "create_array", disk_full_on_second_array)
    with pytest.warns(UserWarning, match="No space left"):
        cache.put(_key(1), _emb(1))
        cache.flush()
    assert cache.get(_key(1)) is not None  # still served from memory
    monkeypatch.undo()
    assert EmbeddingCache(directory=tmp_path).get(_key(1)) is None
    axis_dir = _only_store(tmp_path) / "axis2"
    assert list(axis_dir.iterdir()) == []  # neither a half entry nor a temporary directory


def test_disk_writes_happen_behind_put_with_back_pressure(tmp_path, monkeypatch):
    import napari_medseg.core.cache as cache_module

    release = threading.Event()
    original = cache_module._DiskStore.write

    def blocked_write(self, key, embedding):
        assert release.wait(30)
        original(self, key, embedding)

    monkeypatch.setattr(cache_module._DiskStore, "write", blocked_write)
    monkeypatch.setattr(EmbeddingCache, "MAX_PENDING_WRITES", 1)
    cache = EmbeddingCache(max_bytes=1000, directory=tmp_path)  # 2000-byte entries are not kept in memory
    cache.put(_key(0), _emb(1))  # returns although the disk write is blocked
    got = cache.get(_key(0))  # served from the queued write
    assert got is not None and float(got["a"][0]) == 1.0 and cache.disk_hits == 0
    second = threading.Thread(target=cache.put, args=(_key(1), _emb(2)))
    second.start()
    second.join(0.3)
    assert second.is_alive()  # waits for a free write slot
    release.set()
    second.join(30)
    cache.flush()
    fresh = EmbeddingCache(directory=tmp_path)
    assert float(fresh.get(_key(0))["a"][0]) == 1.0 and float(fresh.get(_key(1))["a"][0]) == 2.0
    assert fresh.disk_hits == 2


def test_get_or_compute_computes_once():
    cache = EmbeddingCache()
    calls = []
    for _ in range(3):
        got = cache.get_or_compute(_key(0), lambda: calls.append(1) or _emb(5))
        assert float(got["a"][0]) == 5.0
    assert len(calls) == 1 and cache.hits == 2


def test_failed_compute_does_not_block_the_next_caller():
    cache = EmbeddingCache()

    def fail():
        raise RuntimeError("encoder crashed")

    with pytest.raises(RuntimeError):
        cache.get_or_compute(_key(0), fail)
    assert float(cache.get_or_compute(_key(0), lambda: _emb(2))["a"][0]) == 2.0


def _volume01(depth: int = 6) -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.random((12, 10, depth)).astype(np.float32)


def test_precompute_encodes_uncached_slices_and_reports_progress(tmp_path):
    vol = _volume01()
    sig = volume_signature(vol)
    model = CountingEncoder()
    cache = EmbeddingCache(directory=tmp_path)
    cache.put(CacheKey(sig, model.identity, 2, 1), model.encode(vol[:, :, 1]))
    model.calls.clear()
    seen: list[tuple[int, int]] = []
    n = precompute(
        lambda i: vol[:, :, i],
        vol.shape[2],
        model,
        cache,
        sig,
        axis=2,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert n == 5 and len(model.calls) == 5
    assert seen == [(i, 6) for i in range(1, 7)]
    fresh = EmbeddingCache(directory=tmp_path)
    for i in range(6):
        got = fresh.get(CacheKey(sig, model.identity, 2, i))
        assert got is not None
        np.testing.assert_allclose(got["mean"][0], vol[:, :, i].mean(), rtol=1e-6)
    assert precompute(lambda i: vol[:, :, i], 6, model, fresh, sig, axis=2) == 0


def test_precompute_cancel_keeps_finished_slices():
    vol = _volume01(8)
    sig = volume_signature(vol)
    model = CountingEncoder()
    cache = EmbeddingCache()
    done: list[int] = []
    with pytest.raises(CancelledError) as exc:
        precompute(
            lambda i: vol[:, :, i],
            8,
            model,
            cache,
            sig,
            axis=2,
            model_key="counting:v1|ct",
            progress=lambda d, t: done.append(d),
            cancel=lambda: len(done) >= 3,
        )
    assert "3 of 8" in str(exc.value) and "\n" not in str(exc.value)
    assert len(model.calls) == 3 and len(cache) == 3
    assert CacheKey(sig, "counting:v1|ct", 2, 2) in cache
    assert precompute(lambda i: vol[:, :, i], 8, model, cache, sig, axis=2, model_key="counting:v1|ct") == 5


def test_threads_share_the_cache_without_duplicate_work(tmp_path):
    vol = _volume01(10)
    sig = volume_signature(vol)
    model = CountingEncoder(delay=0.01)
    cache = EmbeddingCache(max_bytes=3 * 1024**2, directory=tmp_path)
    errors: list[BaseException] = []

    def worker(order):
        try:
            for i in order:
                key = CacheKey(sig, model.identity, 2, i)
                got = cache.get_or_compute(key, lambda i=i: model.encode(vol[:, :, i]))
                np.testing.assert_allclose(got["mean"][0], vol[:, :, i].mean(), rtol=1e-6)
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [
        threading.Thread(target=worker, args=(order,))
        for order in (range(10), reversed(range(10)), range(10))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    cache.flush()
    assert not errors
    assert len(model.calls) == 10  # every slice encoded exactly once
    assert len(cache) == 10 and cache.nbytes == sum(
        e[1]
        for e in cache._memory.values()  # noqa: SLF001 - checking the byte bookkeeping
    )
