"""The core's own cost per propagated slice, apart from the model (target: < 2 ms at 512x512).

A model double whose encode/decode cost ~0 (decode returns a precomputed logits slice) runs the
propagation; the time spent inside the double is measured and subtracted. Reported per prompt mode,
for ``propagate()`` alone and through ``Session.propagate`` (cache lookup, label writes, undo
records). With the built-in model available, the total per slice (encode + decode + core) follows.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_core_overhead.py [--size 512] [--depth 41]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from napari_medseg.core.prompts import BoxPrompt, PointPrompt, SliceRef
from napari_medseg.core.propagation import PropagationOptions, propagate
from napari_medseg.core.session import Session
from napari_medseg.core.slice_prompts import bounding_box, enlarge_box
from napari_medseg.errors import MedsegError

# CPU time of this thread: on a shared, loaded machine wall time also counts the time other processes
# hold the cores; the overhead is the work this code does. (The builtin totals below use wall time.)
CLOCK = time.thread_time

MODES = ("mask", "box", "points", "mask+box", "mask+box+points")


def synthetic_object(size: int, depth: int) -> np.ndarray:
    """An ellipsoid-like organ drifting across slices, plus a small separate blob on odd slices."""
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    masks = np.zeros((depth, size, size), dtype=bool)
    mid = depth // 2
    for z in range(depth):
        scale = max(0.0, 1.0 - ((z - mid) / (mid + 2.0)) ** 2) ** 0.5
        a, b = 0.25 * size * scale, 0.18 * size * scale
        cy, cx = 0.5 * size + 0.01 * size * (z - mid), 0.45 * size
        if a > 1 and b > 1:
            masks[z] = ((yy - cy) / a) ** 2 + ((xx - cx) / b) ** 2 <= 1
        if z % 2:
            masks[z, int(0.85 * size) : int(0.88 * size), int(0.85 * size) : int(0.88 * size)] = True
    return masks


class ReplayModel:
    """Model double: the "embedding" is the slice index, decode returns precomputed logits."""

    name = "replay"
    identity = "replay:v1"

    def __init__(self, masks: np.ndarray, axis: int = 0) -> None:
        self.logits = np.where(masks, 6.0, -6.0).astype(np.float32)
        self.axis = axis
        self.seconds = 0.0

    def encode(self, image: np.ndarray) -> dict[str, np.ndarray]:
        return {"z": np.zeros(1, np.int32)}

    def decode(self, embedding, prompts, prev_logits=None) -> np.ndarray:
        t = CLOCK()
        out = self.logits[int(embedding["z"][0])].copy()
        self.seconds += CLOCK() - t
        return out


def bench_propagate(masks: np.ndarray, mode: str, repeats: int, keep: bool = True) -> tuple[float, int]:
    """Median ms per slice of propagate() minus the double's own time; slices propagated."""
    logits = np.where(masks, 6.0, -6.0).astype(np.float32)
    spent = [0.0]

    def decode_slice(index, prompts, prev_logits):
        t = CLOCK()
        out = logits[index].copy()  # a model writes its logits right before: they are in cache
        spent[0] += CLOCK() - t
        return out

    key = masks.shape[0] // 2
    options = PropagationOptions(prompt_mode=mode, keep_overlapping=keep)
    samples, count = [], 0
    for _ in range(repeats):
        spent[0] = 0.0
        t = CLOCK()
        out = propagate(decode_slice, {key: masks[key]}, masks.shape[0], options)
        total = CLOCK() - t - spent[0]
        count = len(out)
        samples.append(1000.0 * total / max(1, count))
    return statistics.median(samples), count


def bench_session(masks: np.ndarray, mode: str, repeats: int, appearance: bool = True) -> tuple[float, int]:
    """Median ms per slice of Session.propagate (labels, undo, cache) minus the double's time, on a
    (512, 512, depth) volume sliced along axis 2 as NIfTI data usually is."""
    depth, size = masks.shape[0], masks.shape[1]
    # laid out as a NIfTI volume is, (i, j, k) sliced along k: label slices are strided views
    image = np.ascontiguousarray(masks.transpose(1, 2, 0), dtype=np.float32)
    model = ReplayModel(masks)
    session = Session(image, model=model, axis=2, preset="window:0.5:1")
    key = depth // 2
    for z in range(depth):  # warm the cache with embeddings that name their slice
        session.cache.put(session.cache_key(z, 2), {"z": np.array([z], np.int32)})
    # the key slice is committed as a user would (the double answers with that slice's mask)
    session.add_prompts(PointPrompt(SliceRef(2, key), (size / 2, size / 2)))
    session.commit(1)
    options = PropagationOptions(prompt_mode=mode, appearance_ratio=0.5 if appearance else 0.0)
    samples, count = [], 0
    for _ in range(repeats):
        model.seconds = 0.0
        t = CLOCK()
        session.propagate(1, options)
        total = CLOCK() - t - model.seconds
        count = int(np.count_nonzero((session.labels == 1).any(axis=(0, 1)))) - 1
        samples.append(1000.0 * total / max(1, count))
        session.undo()  # back to the committed key slice alone
    return statistics.median(samples), count


def bench_builtin(masks: np.ndarray, core_ms: float, checkpoint: str | None = None) -> None:
    """The built-in model in the same run: encode and decode times, the core overhead relative to the
    decode, and the per-slice totals of a propagation with a cold and a warm cache (wall time)."""
    from napari_medseg.models.registry import load_model

    try:
        model = load_model("builtin", checkpoint)
    except MedsegError as exc:
        print(f"builtin model: not available ({exc})")
        return
    depth = masks.shape[0]
    rng = np.random.default_rng(0)
    image = (np.where(masks, 180.0, 40.0) + rng.normal(0, 10, masks.shape)).astype(np.float32)
    key = depth // 2
    session = Session(image, model=model, axis=0, preset="ct-abdomen")
    ref = SliceRef(0, key + 1)
    box = propagation_box(masks[key], ref)
    encode = [_wall(lambda: model.encode(session.slice_image(key + 1)))[0] for _ in range(3)]
    embedding = session.embedding(key + 1)
    prev = np.where(masks[key], 8.0, -8.0).astype(np.float32)
    decode = [_wall(lambda: model.decode(embedding, [box], prev))[0] for _ in range(5)]
    enc_ms, dec_ms = 1000 * statistics.median(encode), 1000 * statistics.median(decode)
    print(
        f"builtin model: encode {enc_ms:.1f} ms, decode {dec_ms:.1f} ms per {masks.shape[1]}x{masks.shape[2]} slice"
    )
    print(f"core overhead (mask+box, Session) = {100 * core_ms / dec_ms:.1f}% of one decode")
    for label, warm in (("cold cache (encode + decode + core)", False), ("warm cache (decode + core)", True)):
        session = Session(image, model=model, axis=0, preset="ct-abdomen")
        if warm:
            session.precompute(axis=0)
        session.labels[key][masks[key]] = 1
        seconds, _ = _wall(lambda s=session: s.propagate(1))
        done = int(np.count_nonzero((session.labels == 1).any(axis=(1, 2)))) - 1
        if done:
            print(
                f"builtin propagation, {label}: {1000 * seconds / done:.1f} ms per slice over {done} slices"
            )
        else:
            print(f"builtin propagation, {label}: stopped at the key slice (the model lost the object)")


def propagation_box(mask: np.ndarray, ref: SliceRef) -> BoxPrompt:
    """The box prompt propagation derives from ``mask`` (enlarged bounding box)."""
    r0, r1, c0, c1 = enlarge_box(bounding_box(mask), mask.shape, PropagationOptions().box_margin)
    return BoxPrompt(ref, (float(r0), float(c0)), (float(r1 - 1), float(c1 - 1)))


def _wall(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--depth", type=int, default=41)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-model", action="store_true", help="skip the built-in model timings")
    parser.add_argument("--checkpoint", help="built-in model weights (default: the shipped ones)")
    args = parser.parse_args()
    masks = synthetic_object(args.size, args.depth)
    print(f"core overhead per propagated slice, {args.size}x{args.size} slices (target < 2 ms)")
    print(
        "(CPU ms of this thread; 'no post-proc' = keep_overlapping=False; 'no look' = Session without the\n"
        " appearance rule (appearance_ratio=0); every other column default options)"
    )
    print(f"{'prompt mode':<18}{'propagate()':>14}{'no post-proc':>15}{'Session':>12}{'no look':>12}{'slices':>8}")
    default_ms = 0.0
    for mode in MODES:
        core_ms, n = bench_propagate(masks, mode, args.repeats)
        bare_ms, _ = bench_propagate(masks, mode, args.repeats, keep=False)
        session_ms, _ = bench_session(masks, mode, args.repeats)
        nolook_ms, _ = bench_session(masks, mode, args.repeats, appearance=False)
        print(f"{mode:<18}{core_ms:>11.2f} ms{bare_ms:>12.2f} ms{session_ms:>9.2f} ms{nolook_ms:>9.2f} ms{n:>8}")
        if mode == PropagationOptions().prompt_mode:
            default_ms = session_ms
    if not args.no_model:
        bench_builtin(masks, default_ms, args.checkpoint)


if __name__ == "__main__":
    main()
