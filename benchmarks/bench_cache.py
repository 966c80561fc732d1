"""Embedding cache latency: memory hit, disk hit and put, for a SAM-sized embedding (~4 MiB float16).

``put`` with a disk store only queues the write (a writer thread does it; at most 8 are queued, then
``put`` waits), so the put latency is shown next to the writer's throughput.

Prints median and p95 in milliseconds, and each as a ratio to copying the embedding in memory
(measured in the same run), so numbers compare across machines. No asserts.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_cache.py [--n 30]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from napari_medseg.core.cache import CacheKey, EmbeddingCache
from napari_medseg.models.protocol import embedding_nbytes


def make_embedding(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Shapes like SAM ViT-B's image embedding plus one high-resolution feature map."""
    return {
        "image_embed": rng.standard_normal((256, 64, 64)).astype(np.float16),
        "high_res": rng.standard_normal((64, 128, 128)).astype(np.float16),
    }


def timed(fn, n: int) -> np.ndarray:
    out = np.empty(n)
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        out[i] = time.perf_counter() - t0
    return out * 1000.0


def _time_one(fn, i: int) -> float:
    t0 = time.perf_counter()
    fn(i)
    return (time.perf_counter() - t0) * 1000.0


def summary(name: str, ms: np.ndarray, baseline: float) -> str:
    med, p95 = np.median(ms), np.percentile(ms, 95)
    return f"{name:28s} median {med:8.3f} ms   p95 {p95:8.3f} ms   x{med / baseline:8.1f} of a copy"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=30, help="slices per measurement")
    args = parser.parse_args()
    n = args.n
    rng = np.random.default_rng(0)
    embeddings = [make_embedding(rng) for _ in range(n)]
    size = embedding_nbytes(embeddings[0])
    keys = [CacheKey("bench-volume", "bench-model", 2, i) for i in range(n)]

    copy_ms = timed(lambda i: {k: v.copy() for k, v in embeddings[i].items()}, n)
    baseline = float(np.median(copy_ms))

    memory = EmbeddingCache(max_bytes=2 * n * size)
    put_mem = timed(lambda i: memory.put(keys[i], embeddings[i]), n)
    hit_mem = timed(lambda i: memory.get(keys[i]), n)

    with tempfile.TemporaryDirectory() as tmp:
        disk = EmbeddingCache(max_bytes=2 * n * size, directory=tmp)
        t0 = time.perf_counter()
        for i in range(n):  # a burst, as precompute does: back-pressure limits the queue
            disk.put(keys[i], embeddings[i])
        disk.flush()
        written_ms = (time.perf_counter() - t0) * 1000.0 / n  # throughput of the writer thread
        other = [CacheKey("bench-volume", "bench-model", 1, i) for i in range(n)]

        def put_one(i: int) -> None:  # a click on a new slice: the queue is empty
            disk.put(other[i], embeddings[i])

        put_disk = np.empty(n)
        for i in range(n):
            put_disk[i] = _time_one(put_one, i)
            disk.flush()
        fresh = EmbeddingCache(max_bytes=2 * n * size, directory=tmp)  # empty memory: every get reads disk
        hit_disk = timed(lambda i: fresh.get(keys[i]), n)
        assert fresh.disk_hits == n, "benchmark bug: expected disk hits"
        on_disk = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file())
        hit_promoted = timed(lambda i: fresh.get(keys[i]), n)

    print(f"embedding: {size / 1024**2:.2f} MiB float16 ({', '.join(embeddings[0])}), {n} slices")
    print(
        f"disk store: {on_disk / (2 * n) / 1024**2:.2f} MiB per slice (zarr v3, uncompressed, crc32c-checked)"
    )
    print(summary("copy in memory (baseline)", copy_ms, baseline))
    print(summary("put, memory only", put_mem, baseline))
    print(summary("memory hit", hit_mem, baseline))
    print(summary("put, memory + disk (queued)", put_disk, baseline))
    print(f"{'disk writes, burst':28s} mean   {written_ms:8.3f} ms per slice (writer thread throughput)")
    print(summary("disk hit (cold memory)", hit_disk, baseline))
    print(summary("memory hit after promotion", hit_promoted, baseline))


if __name__ == "__main__":
    main()
