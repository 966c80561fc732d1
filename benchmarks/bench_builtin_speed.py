"""Speed and memory of the built-in model on this CPU: prints numbers, asserts nothing.

    .venv/bin/python benchmarks/bench_builtin_speed.py [--threads N] [--repeats 15] [--depth 200]

Encoder ms per slice (256x256, 512x512), decoder ms per interaction at 512x512 (one click; every
prompt type plus previous logits), the prompt-map rasterisation inside it, embedding bytes per
512x512 slice (and the RAM for a cached 512x512x300 volume), and propagation of one object through
``--depth`` slices of 256x256 with the real Session, cold (empty cache) and warm (cache filled).
Then every decode of the simulated user's five interactions per prompt type (the evaluation's
prompts: lassos of hundreds of vertices, strokes along skeletons) through the Session on three
development structures scaled to 512x512: median, 90th percentile, max. The fixed prompts above
time one step each and ran 2-3x faster than these interactions on 2026-12-07 (see
docs/model-development.md, twenty-first session). The load average is printed: on a shared machine,
timings rise with it.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from napari_medseg.core.prompts import BoxPrompt, LassoPrompt, PointPrompt, ScribblePrompt, SliceRef
from napari_medseg.evaluation.simulate import SimulatedUser
from napari_medseg.models.builtin.correction import CorrectionOptions
from napari_medseg.models.builtin.model import load_builtin
from napari_medseg.models.builtin.prompt_maps import build_prompt_maps
from napari_medseg.models.builtin.rim import RimOptions
from napari_medseg.models.builtin.scale import ScaleOptions
from napari_medseg.models.builtin.second_look import SecondLookOptions
from napari_medseg.models.builtin.window import WindowOptions
from napari_medseg.models.builtin.zoom_in import ZoomInOptions
from napari_medseg.models.protocol import embedding_nbytes, logits_from_mask
from napari_medseg.models.working_scale import at_working_scale

REF = SliceRef(2, 0)


def median_ms(fn, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * float(np.median(times))


def interleaved_ms(fns, repeats: int, warmup: int = 2) -> list[float]:
    """Median ms of each of ``fns``, timed in turn (one call of each per round): a machine whose speed
    drifts slows them alike, so their ratios hold better than timings taken one after another."""
    times: list[list[float]] = [[] for _ in fns]
    for round_ in range(warmup + repeats):
        for fn, out in zip(fns, times, strict=True):
            t = time.perf_counter()
            fn()
            if round_ >= warmup:
                out.append(time.perf_counter() - t)
    return [1e3 * float(np.median(t)) for t in times]


def phantom_slice(size: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rr, cc = np.mgrid[:size, :size] / size
    img = 0.3 + 0.4 * (((rr - 0.5) ** 2 + (cc - 0.45) ** 2) < 0.04) + 0.2 * (((rr - 0.3) ** 2 + (cc - 0.7) ** 2) < 0.01)
    return np.clip(img + rng.normal(0, 0.03, img.shape), 0, 1).astype(np.float32)


def _scaled_structure(image: np.ndarray, mask: np.ndarray, preset: str, size: int) -> tuple[np.ndarray, list[PointPrompt], np.ndarray]:
    """The structure ``mask``'s largest slice of ``image`` (windowed by ``preset``), scaled to ``size``
    pixels, a click at the structure's most interior point, and its mask there."""
    from scipy import ndimage

    from napari_medseg.core.intensity import get_preset

    z = int(np.argmax(mask.sum(axis=(0, 1))))
    zoom = (size / image.shape[0], size / image.shape[1])
    img = ndimage.zoom(get_preset(preset).fit(image).apply(image[..., z]), zoom, order=1)
    ref = ndimage.zoom(mask[..., z].astype(np.float32), zoom, order=1) > 0.5
    r, c = np.unravel_index(np.argmax(ndimage.distance_transform_edt(ref)), ref.shape)
    return img.astype(np.float32), [PointPrompt(REF, (float(r), float(c)))], ref


def mr_white_matter_slice(size: int) -> tuple[np.ndarray, list[PointPrompt], np.ndarray]:
    """The MR development phantom's (seed 4) largest white-matter slice, scaled to ``size`` pixels,
    with a click at the white matter's most interior point: the relative-intensity extension's
    worst case (it joins most of the slice's white matter)."""
    from napari_medseg.evaluation.mr_phantom import brain_phantom

    image, labels, _ = brain_phantom(4)
    return _scaled_structure(image, labels == 2, "mr", size)


def mr_cortex_correction(size: int) -> tuple[np.ndarray, list[PointPrompt], np.ndarray]:
    """The MR development phantom's (seed 4) largest brain slice scaled to ``size`` pixels, an answer
    holding the whole brain (logits +-4), a click in its white matter and a negative click at the
    cortex's most interior point: ``negative_look.py`` takes the cortex out of the brain-sized mask."""
    from scipy import ndimage

    from napari_medseg.evaluation.mr_phantom import brain_phantom

    image, labels, _ = brain_phantom(4)
    img, click, brain = _scaled_structure(image, labels > 0, "mr", size)
    z = int(np.argmax((labels > 0).sum(axis=(0, 1))))
    grey = ndimage.zoom((labels[..., z] == 1).astype(np.float32), (size / labels.shape[0], size / labels.shape[1]), order=1) > 0.5
    r, c = np.unravel_index(np.argmax(ndimage.distance_transform_edt(grey)), grey.shape)
    negative = PointPrompt(REF, (float(r), float(c)), positive=False)
    return img, [*click, negative], np.where(brain, 4.0, -4.0).astype(np.float32)


def medulla_click_slice(size: int) -> tuple[np.ndarray, list[PointPrompt], np.ndarray]:
    """A development phantom's (seed 9) right kidney on its largest slice, scaled to ``size`` pixels,
    with a click at its most interior point, in the medulla: the network alone answers the medulla."""
    from napari_medseg.core.sample import generate_phantom

    image, labels, _, _ = generate_phantom(9)
    return _scaled_structure(image, labels == 3, "ct-abdomen", size)


def tiny_aorta_slice() -> tuple[np.ndarray, list[BoxPrompt], np.ndarray]:
    """A development phantom's (seed 7) aorta on its slice scaled to a third in plane (64 x 53 px, a
    CT at 2.7 mm), as the model sees it, with a box 1 px round it: the object ``zoom_in.py`` is for."""
    from scipy import ndimage

    from napari_medseg.core.sample import generate_phantom

    image, labels, _, names = generate_phantom(7)
    aorta = labels == next(k for k, v in names.items() if v == "aorta")
    z = int(np.argmax(aorta.sum(axis=(0, 1))))
    img = np.clip((ndimage.zoom(image[..., z].astype(np.float32), 1 / 3, order=1) + 160.0) / 400.0, 0.0, 1.0)
    ref = ndimage.zoom(aorta[..., z].astype(np.float32), 1 / 3, order=1) > 0.5
    rows, cols = np.nonzero(ref)
    box = BoxPrompt(REF, (rows.min() - 1.0, cols.min() - 1.0), (rows.max() + 1.0, cols.max() + 1.0))
    return img, [box], ref


def coarse_kidney_slice() -> tuple[np.ndarray, list[PointPrompt], np.ndarray]:
    """A development phantom's (seed 7) slice through its left kidney scaled to a third in plane (64 x 53
    px, a CT at 2.7 mm) as the model sees it, with a click at the kidney's most interior pixel."""
    from scipy import ndimage

    from napari_medseg.core.sample import generate_phantom

    image, labels, _, names = generate_phantom(7)
    kidney = labels == next(k for k, v in names.items() if v == "left kidney")
    z = int(np.argmax(kidney.sum(axis=(0, 1))))
    img = np.clip((ndimage.zoom(image[..., z].astype(np.float32), 1 / 3, order=1) + 160.0) / 400.0, 0.0, 1.0)
    ref = ndimage.zoom(kidney[..., z].astype(np.float32), 1 / 3, order=1) > 0.5
    inside = ndimage.distance_transform_edt(ref)
    click = PointPrompt(REF, tuple(float(v) for v in np.unravel_index(np.argmax(inside), ref.shape)))
    return img, [click], ref


def _scaled_raw(image: np.ndarray, mask: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The structure ``mask``'s largest slice of ``image`` as it was stored (HU, MR units), scaled to
    ``size`` pixels, and its mask there: for a Session, which applies the intensity preset itself."""
    from scipy import ndimage

    z = int(np.argmax(mask.sum(axis=(0, 1))))
    zoom = (size / image.shape[0], size / image.shape[1])
    img = ndimage.zoom(image[..., z].astype(np.float32), zoom, order=1)
    return img, ndimage.zoom(mask[..., z].astype(np.float32), zoom, order=1) > 0.5


def simulated_user_decodes(model, size: int) -> dict[str, list[float]]:
    """Decode ms of every interaction of the simulated user (five per prompt type, as the evaluation
    draws them: a hand-like lasso has hundreds of vertices, a stroke follows the skeleton) through the
    real Session, on a CT liver and an MR white matter and brain (development phantoms) scaled to
    ``size`` px. The fixed prompts above time the steps one at a time; these are a user's interactions."""
    from napari_medseg.core.sample import generate_phantom
    from napari_medseg.core.session import Session
    from napari_medseg.evaluation.mr_phantom import brain_phantom

    ct, ct_labels, _, _ = generate_phantom(9)  # development phantoms: seed 9 (CT), 4 (MR)
    mr, mr_labels, _ = brain_phantom(4)
    cases = [("ct-abdomen", *_scaled_raw(ct, ct_labels == 1, size)), ("mr", *_scaled_raw(mr, mr_labels == 2, size)),
             ("mr", *_scaled_raw(mr, mr_labels > 0, size))]
    times: dict[str, list[float]] = {kind: [] for kind in ("point", "box", "scribble", "lasso")}
    timed: list[float] = []
    depth = [0]  # a decode may call the model again (a correction's fresh answer): time the outer call

    def timing(fn):
        def wrapped(*args, **kwargs):
            depth[0] += 1
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                depth[0] -= 1
                if depth[0] == 0:
                    timed.append(1e3 * (time.perf_counter() - t))
        return wrapped

    decode, decode_relative = model.decode, model.decode_relative
    model.decode, model.decode_relative = timing(decode), timing(decode_relative)
    try:
        for preset, img, ref in cases:
            volume = img[:, :, None]
            for kind in times:
                session = Session(volume, model=model, preset=preset, axis=2)
                session.embedding(REF.index)  # encoded before the first interaction, as in the widget
                user, mask = SimulatedUser(kind, REF, seed=0), None
                for _ in range(5):
                    timed.clear()
                    mask = session.add_prompts(user.next_interaction(ref, mask)).mask
                    times[kind].append(sum(timed))
    finally:
        del model.decode, model.decode_relative  # the bound methods again
    return times


def tube_volume(size: int, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """A bright tube of slowly varying radius and position through every slice, on noise."""
    rng = np.random.default_rng(1)
    rr, cc = np.mgrid[:size, :size].astype(np.float32)
    vol = np.empty((size, size, depth), dtype=np.float32)
    obj = np.zeros((size, size, depth), dtype=bool)
    for k in range(depth):
        t = k / depth
        r0, c0 = size * (0.5 + 0.1 * np.sin(3 * t)), size * (0.45 + 0.08 * np.cos(2 * t))
        rad = size * (0.12 + 0.04 * np.sin(5 * t))
        obj[:, :, k] = (rr - r0) ** 2 + (cc - c0) ** 2 <= rad**2
        vol[:, :, k] = 100 + 120 * obj[:, :, k] + rng.normal(0, 8, (size, size))
    return vol, obj


def propagation(model, depth: int) -> tuple[float, float, float]:
    from napari_medseg.core.cache import EmbeddingCache
    from napari_medseg.core.session import Session

    vol, obj = tube_volume(256, depth)
    key = depth // 2
    labels = np.zeros(vol.shape, dtype=np.uint8)
    labels[:, :, key] = obj[:, :, key]
    cache = EmbeddingCache()
    times = []
    for _ in range(2):  # cold, then warm (same cache, fresh labels)
        session = Session(vol, model=model, labels=labels.copy(), cache=cache, axis=2, preset="mr")
        t = time.perf_counter()
        session.propagate(1)
        times.append(time.perf_counter() - t)
    got = session.labels == 1
    dice = 2 * (got & obj).sum() / (got.sum() + obj.sum())
    return times[0], times[1], float(dice)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--depth", type=int, default=200)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_builtin()
    ref_x, ref_conv = torch.rand(1, 32, 128, 128), torch.nn.Conv2d(32, 32, 3, padding=1)
    with torch.inference_mode():
        ref_ms = median_ms(lambda: ref_conv(ref_x), args.repeats)
    print(f"model {model.identity}; torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print(f"baseline (machine speed now): one 3x3 conv 32->32 on 128x128 (151 MMAC) = {ref_ms:.1f} ms")
    for size in (256, 512):
        img = phantom_slice(size)
        ms = median_ms(lambda img=img: model.encode(img), args.repeats)
        print(f"encoder {size}x{size}: {ms:.1f} ms (median; {ms / ref_ms:.1f}x baseline)")
    img = phantom_slice(512)
    emb = model.encode(img)
    click = [PointPrompt(REF, (256, 230))]
    box = BoxPrompt(REF, (140, 110), (370, 350))
    lasso = LassoPrompt(REF, ((130, 100), (130, 360), (380, 360), (380, 100)))
    every = [
        PointPrompt(REF, (256, 230)), PointPrompt(REF, (60, 60), positive=False),
        box,
        ScribblePrompt(REF, ((230, 200), (260, 240), (280, 260)), width=3),
        ScribblePrompt(REF, ((20, 20), (20, 200)), positive=False, width=3),
        lasso,
        LassoPrompt(REF, ((130, 330), (160, 360), (130, 360)), positive=False),
    ]
    prev = logits_from_mask(img > 0.5)
    one = median_ms(lambda: model.decode(emb, click), args.repeats)
    allp = median_ms(lambda: model.decode(emb, every, prev), args.repeats)
    print(f"decoder 512x512, one click: {one:.1f} ms ({one / ref_ms:.1f}x baseline)")
    shipped = SecondLookOptions()
    restore = {f"second_look.{name}": getattr(shipped, name) for name in ("box", "lasso", "coarse_first", "lasso_as_answer")}
    variants = (restore, {**restore, "second_look.coarse_first": False, "second_look.lasso_as_answer": False},
                {**restore, "second_look.box": False, "second_look.lasso": False})
    for what, given, how in (
        ("a box", [box], "its coarse first answer given a second look, two decodes"),
        ("a lasso", [lasso], "its drawn region given the second look, one decode"),
    ):
        looked, full, single = interleaved_ms(
            [lambda v=v, given=given: (model.configure(v), model.decode(emb, given)) for v in variants], args.repeats)
        print(f"decoder 512x512, {what} ({how}): {looked:.1f} ms ({looked / ref_ms:.1f}x baseline; {full:.1f} ms "
              f"with a full-resolution first decode, as on 2026-12-06, {single:.1f} ms without the second look; "
              "the three timed in turn)")
    model.configure(restore)
    mr, mr_click, mr_ref = mr_white_matter_slice(512)
    mr_emb = model.encode(mr)
    rel_abs = median_ms(lambda: model.decode(mr_emb, mr_click), args.repeats)
    rel = median_ms(lambda: model.decode_relative(mr_emb, mr_click, None, True), args.repeats)
    cover = float(((model.decode_relative(mr_emb, mr_click, None, True) > 0) & mr_ref).sum() / mr_ref.sum())
    print(f"decoder 512x512 MR white-matter click: {rel_abs:.1f} ms as absolute intensities, {rel:.1f} ms as "
          f"relative ({rel / ref_ms:.1f}x baseline; covers {cover:.0%} of the white matter)")
    scribble = SimulatedUser("scribble", REF, seed=0).next_interaction(mr_ref, None)  # along the white matter
    mr_times = interleaved_ms([lambda v=v: (model.configure({"scale.relative_scribbles": v}),
                                            model.decode_relative(mr_emb, scribble, None, True)) for v in (1, 0)], args.repeats)
    model.configure({"scale.relative_scribbles": ScaleOptions().relative_scribbles})
    print(f"decoder 512x512 MR white-matter scribble (relative): {mr_times[0]:.1f} ms with its first answer on the "
          f"coarse grid (the steps after the network too), {mr_times[1]:.1f} ms at full resolution (timed in turn)")
    cortex, cortex_prompts, brain_logits = mr_cortex_correction(512)
    cortex_emb = model.encode(cortex)
    looked, plain = interleaved_ms([lambda v=v: (model.configure({"negative_look.enabled": v}),
                                                 model.decode_relative(cortex_emb, cortex_prompts, brain_logits, True))
                                    for v in (1, 0)], args.repeats)
    model.configure({"negative_look.enabled": 1})
    kept = int((model.decode_relative(cortex_emb, cortex_prompts, brain_logits, True) > 0).sum())
    print(f"decoder 512x512 MR negative click on the cortex of a brain-sized mask: {looked:.1f} ms with the cortex "
          f"taken out (negative_look.py; {kept / int((brain_logits > 0).sum()):.0%} of the mask kept), {plain:.1f} ms "
          "without (timed in turn)")
    back, no_back = interleaved_ms([lambda v=v: (model.configure({"correction.look_back": v}),
                                                 model.decode_relative(cortex_emb, cortex_prompts, brain_logits, True))
                                    for v in (1, 0)], args.repeats)
    model.configure({"correction.look_back": CorrectionOptions().look_back})
    print(f"decoder 512x512, the same negative click: {back:.1f} ms giving back what looks like the mask "
          f"(correction.look_back), {no_back:.1f} ms without (timed in turn)")
    kidney, kidney_click, kidney_ref = medulla_click_slice(512)
    kidney_emb = model.encode(kidney)
    with_rim, without_rim = interleaved_ms([lambda v=v: (model.configure({"rim.enabled": v}),
                                                         model.decode(kidney_emb, kidney_click)) for v in (1, 0)], args.repeats)
    model.configure({"rim.enabled": RimOptions().enabled})
    got = model.decode(kidney_emb, kidney_click) > 0
    print(f"decoder 512x512, a click in a kidney's medulla: {with_rim:.1f} ms with the enclosing cortex joined "
          f"(rim.py; Dice {2 * (got & kidney_ref).sum() / (got.sum() + kidney_ref.sum()):.3f}), "
          f"{without_rim:.1f} ms without (timed in turn)")
    # a correction on an organ of a CT slice's size: decoded on a window around it (window.py)
    kidney_first = model.decode(kidney_emb, kidney_click)
    rows, cols = np.nonzero(kidney_first > 0)
    below = [*kidney_click, PointPrompt(REF, (float(rows.max() + 1), float(cols[rows == rows.max()].mean())))]
    windowed, whole = interleaved_ms([lambda v=v: (model.configure({"window.enabled": v}),
                                                   model.decode(kidney_emb, below, kidney_first)) for v in (1, 0)], args.repeats)
    model.configure({"window.enabled": WindowOptions().enabled})
    print(f"decoder 512x512, a correction click on the kidney's border: {windowed:.1f} ms on a window around it "
          f"(window.py), {whole:.1f} ms on the whole slice (timed in turn)")
    tiny, tiny_box, tiny_ref = tiny_aorta_slice()
    tiny_emb = model.encode(tiny)
    zoomed, unzoomed = interleaved_ms([lambda v=v: (model.configure({"zoom_in.enabled": v}),
                                                    model.decode(tiny_emb, tiny_box)) for v in (1, 0)], args.repeats)
    tiny_dice = {}
    for v in (0, 1):
        model.configure({"zoom_in.enabled": v})
        got = model.decode(tiny_emb, tiny_box) > 0
        tiny_dice[v] = 2 * (got & tiny_ref).sum() / (got.sum() + tiny_ref.sum())
    model.configure({"zoom_in.enabled": ZoomInOptions().enabled})
    print(f"decoder, a box round a tiny object (an aorta of {int(tiny_ref.sum())} px on a {tiny.shape[0]}x{tiny.shape[1]} "
          f"slice at 2.7 mm): {zoomed:.1f} ms answered on a zoomed-in crop (zoom_in.py; Dice {tiny_dice[1]:.3f}), "
          f"{unzoomed:.1f} ms on the slice (Dice {tiny_dice[0]:.3f}; timed in turn)")
    coarse, coarse_click, coarse_ref = coarse_kidney_slice()
    scaled = at_working_scale(model, (2.7, 2.7), coarse.shape)  # x2.7: the working spacing's 1 mm on a CT window
    plain_enc, scaled_enc = interleaved_ms([lambda: model.encode(coarse), lambda: scaled.encode(coarse)], args.repeats)
    plain_emb, scaled_emb = model.encode(coarse), scaled.encode(coarse)
    plain_dec, scaled_dec = interleaved_ms([lambda: model.decode(plain_emb, coarse_click),
                                            lambda: scaled.decode(scaled_emb, coarse_click)], args.repeats)
    coarse_dice = [2 * ((m.decode(e, coarse_click) > 0) & coarse_ref).sum() / ((m.decode(e, coarse_click) > 0).sum()
                                                                              + coarse_ref.sum())
                   for m, e in ((model, plain_emb), (scaled, scaled_emb))]
    print(f"a coarse CT slice ({coarse.shape[0]}x{coarse.shape[1]} at 2.7 mm), a click in the kidney: at the working "
          f"scale (working_scale.py, x2.7) encode {scaled_enc:.1f} ms, decode {scaled_dec:.1f} ms, Dice "
          f"{coarse_dice[1]:.3f}; on the slice as it is {plain_enc:.1f} / {plain_dec:.1f} ms, Dice {coarse_dice[0]:.3f} "
          "(timed in turn)")
    first = model.decode(emb, click)
    rows, cols = np.nonzero(first > 0)
    rim = (float(rows.max() + 1), float(cols[rows == rows.max()].mean()))  # just below the mask's bottom row
    fix = median_ms(lambda: model.decode(emb, [*click, PointPrompt(REF, rim)], first), args.repeats)
    print(f"decoder 512x512, a correction click on the mask's border: {fix:.1f} ms ({fix / ref_ms:.1f}x baseline)")
    # 10 px below the mask: answered afresh too when the network kept to its part (whole_from_fresh);
    # whole_gain=1 forces that second decode (the worst case of a click)
    beyond = [*click, PointPrompt(REF, (rim[0] + 10.0, rim[1]))]
    far = median_ms(lambda: model.decode(emb, beyond, first), args.repeats)
    model.configure({"correction.whole_gain": 1.0})
    twice = median_ms(lambda: model.decode(emb, beyond, first), args.repeats)
    model.configure({"correction.whole_gain": CorrectionOptions().whole_gain})
    print(f"decoder 512x512, a positive click 10 px beyond the mask: {far:.1f} ms; answered afresh too "
          f"(two decodes): {twice:.1f} ms ({twice / ref_ms:.1f}x baseline)")
    print(f"decoder 512x512, all prompt types + previous logits: {allp:.1f} ms ({allp / ref_ms:.1f}x baseline)")
    print(f"  of which prompt maps (all types): {median_ms(lambda: build_prompt_maps(every, (128, 128)), args.repeats):.2f} ms")
    nbytes = embedding_nbytes(emb)
    print(f"embedding per 512x512 slice: {nbytes / 1e6:.2f} MB; 512x512x300 cached: {300 * nbytes / 1024**3:.2f} GiB")
    for kind, ms in simulated_user_decodes(model, 512).items():
        ms = np.asarray(ms)
        print(f"decoder 512x512, the simulated user's {kind} sequences (3 structures x 5 interactions): median {np.median(ms):.1f} ms, "
              f"90th percentile {np.percentile(ms, 90):.1f} ms, max {ms.max():.1f} ms; {int((ms <= 15).sum())} of {len(ms)} <= 15 ms")
    cold, warm, dice = propagation(model, args.depth)
    print(f"propagation through {args.depth} slices of 256x256 (Session, mask+box): cold {cold:.2f} s, "
          f"warm {warm:.2f} s; 3D Dice on the tube {dice:.3f}")


if __name__ == "__main__":
    main()
