"""The coarse grid of large slices: its geometry, and the built-in model's first click on a large
slice (an organ as many pixels across as on a 512-pixel CT slice)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_medseg.core.prompts import (
    BoxPrompt,
    LassoPrompt,
    PointPrompt,
    ScribblePrompt,
    SliceRef,
    rasterize,
)
from napari_medseg.errors import VolumeReadError
from napari_medseg.models.builtin.scale import (
    block_mean,
    prompts_to_working,
    upsample,
    working_factor,
    working_shape,
)

REF = SliceRef(2, 0)


def test_the_smallest_whole_factor_brings_the_slice_within_the_limit():
    assert working_factor(192, 160, 256) == 1
    assert working_factor(256, 100, 256) == 1
    assert working_factor(257, 100, 256) == 2
    assert working_factor(512, 512, 256) == 2
    assert working_factor(100, 513, 256) == 3
    assert working_factor(4000, 10, 0) == 1  # 0: always full resolution
    assert working_shape(513, 427, 3) == (171, 143)


def test_block_mean_averages_whole_blocks_and_repeats_the_edge():
    a = np.arange(5 * 4, dtype=np.float32).reshape(5, 4)
    out = block_mean(a, 2)
    assert out.shape == (3, 2)
    assert out[0, 0] == pytest.approx(np.mean([0, 1, 4, 5]))
    assert out[2, 1] == pytest.approx(np.mean([18, 19, 18, 19]))  # the last row repeated
    assert block_mean(a, 1) is a


def test_upsampling_returns_the_slice_shape_and_keeps_a_step_where_it_was():
    full = np.zeros((9, 10), np.float32)
    full[:, 6:] = 4.0
    back = upsample(torch.from_numpy(block_mean(full, 2)), 2, full.shape).numpy()
    assert back.shape == full.shape
    assert np.all(back[:, :5] < 2.0) and np.all(back[:, 7:] > 2.0)


@pytest.mark.parametrize("k", [2, 3])
def test_prompts_land_on_the_same_pixels_of_the_coarse_grid(k):
    """A prompt rasterised on the coarse grid covers the blocks of the pixels it covers at full size."""
    shape = (60, 48)
    prompts = [
        PointPrompt(REF, (31.0, 17.0)),
        BoxPrompt(REF, (6.0, 9.0), (40.0, 33.0), False),
        ScribblePrompt(REF, ((10.0, 10.0), (30.0, 20.0), (50.0, 40.0)), True, 5.0),
        LassoPrompt(REF, ((5.0, 5.0), (5.0, 40.0), (55.0, 40.0), (55.0, 5.0))),
    ]
    for p, q in zip(prompts, prompts_to_working(prompts, k), strict=True):
        assert type(q) is type(p) and q.positive == p.positive
        full = rasterize(p, shape) if not isinstance(p, PointPrompt) else None
        if full is None:
            r, c = q.point
            assert (int(round(r)), int(round(c))) == (31 // k, 17 // k)
            continue
        coarse = rasterize(q, working_shape(*shape, k))
        share = block_mean(full.astype(np.float32), k)
        covered = share > 0.5
        # a region covers its blocks; a stroke, thinner on the coarse grid, runs along them
        assert (coarse & covered).sum() >= (0.3 if isinstance(p, ScribblePrompt) else 0.8) * covered.sum()
        assert (coarse & ~(share > 0)).sum() <= 0.2 * coarse.sum()
    assert prompts_to_working(prompts, 3)[2].width == pytest.approx(5.0 / 3)


def large_disc(radius: float = 100.0, size: int = 480, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rr, cc = np.indices((size, size))
    obj = np.hypot(rr - size / 2, cc - size / 2) <= radius
    return np.clip(np.where(obj, 0.6, 0.3) + rng.normal(0, 0.03, obj.shape), 0, 1).astype(np.float32), obj


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return float(2 * (a & b).sum() / max(a.sum() + b.sum(), 1))


@pytest.fixture(scope="module")
def models():
    from napari_medseg.models.builtin.model import load_builtin

    torch.set_num_threads(1)
    full_only = load_builtin()
    full_only.configure({"scale.max_side": 0})
    return load_builtin(), full_only


def test_a_first_click_on_a_large_slice_is_answered_on_the_coarse_grid(models):
    """An organ 200 px across on a 480-px slice: at full resolution the answer stops halfway."""
    shipped, full_only = models
    img, obj = large_disc()
    click = [PointPrompt(REF, (240.0, 240.0))]
    emb = shipped.encode(img)
    assert int(emb["scale"][0]) == 2 and emb["coarse_e4"].shape[:2] == (64, 64)  # 240 px padded to 256, at 1/4
    coarse = dice(shipped.decode(emb, click) > 0, obj)
    full = dice(full_only.decode(full_only.encode(img), click) > 0, obj)
    assert coarse > 0.9 and coarse > full + 0.3, (full, coarse)
    assert shipped.identity != full_only.identity  # their caches hold different embeddings


def test_everything_but_a_first_click_runs_at_full_resolution(models):
    """Boxes, scribbles and corrections (a label being corrected keeps full-resolution borders); a
    box's answer is all full-resolution once its first decode is too (``second_look.coarse_first``
    off: test_second_look.py tests it on)."""
    shipped, full_only = models
    img, obj = large_disc()
    emb, emb0 = shipped.encode(img), full_only.encode(img)
    assert "coarse_e4" not in emb0 and int(emb0["scale"][0]) == 1
    prev = np.where(obj, 4.0, -4.0).astype(np.float32)
    clicks = [PointPrompt(REF, (240.0, 240.0)), PointPrompt(REF, (100.0, 100.0), False)]
    shipped.configure({"second_look.coarse_first": 0})
    try:
        for prompts, previous in (
            ([BoxPrompt(REF, (130.0, 130.0), (350.0, 350.0))], None),
            ([ScribblePrompt(REF, ((200.0, 200.0), (280.0, 280.0)), True, 3.0)], None),
            (clicks, prev),
        ):
            np.testing.assert_array_equal(shipped.decode(emb, prompts, previous), full_only.decode(emb0, prompts, previous))
    finally:
        shipped.configure({"second_look.coarse_first": 1})
    np.testing.assert_array_equal(shipped.decode_relative(emb, clicks, prev, True),
                                  full_only.decode_relative(emb0, clicks, prev, True))
    with pytest.raises(VolumeReadError, match="previous logits have shape"):
        shipped.decode(emb, clicks, prev[:-1])


def test_a_small_slice_has_no_coarse_grid(models):
    shipped, _ = models
    emb = shipped.encode(np.zeros((256, 200), np.float32))
    assert int(emb["scale"][0]) == 1 and not any(k.startswith("coarse_") for k in emb)


def test_a_first_click_on_a_large_ct_slice_is_answered_as_the_slice_at_its_coarse_size(models):
    """On absolute intensities the steps after the network run on the coarse grid too: the answer is
    the small slice's (every second pixel) answer interpolated back, so its outline matches that
    answer scaled up, and an MR (relative) first click keeps the network alone on the coarse grid."""
    shipped, _ = models
    img, obj = large_disc(seed=3)
    click = [PointPrompt(REF, (241.0, 239.0))]
    emb = shipped.encode(img)
    big = shipped.decode(emb, click) > 0
    small = shipped.decode(shipped.encode(img[::2, ::2]), prompts_to_working(click, 2)) > 0
    assert dice(big, obj) > 0.9
    # the coarse features come from the averaged slice, the small slice's from every second pixel:
    # the two answers agree, not to the pixel
    assert dice(big[::2, ::2], small) > 0.97
    before = load_builtin_with({"scale.whole_pipeline": 0})
    np.testing.assert_array_equal(shipped.decode_relative(emb, click, None, True),
                                  before.decode_relative(emb, click, None, True))
    assert not np.array_equal(shipped.decode(emb, click), before.decode(emb, click))
    # a slice that k = 3 does not divide: the answer has the slice's shape and finds the object
    odd, odd_obj = large_disc(radius=120.0, size=600, seed=4)
    odd, odd_obj = odd[:589, :431], odd_obj[:589, :431]
    odd_emb = shipped.encode(odd)
    assert int(odd_emb["scale"][0]) == 3
    out = shipped.decode(odd_emb, [PointPrompt(REF, (300.0, 300.0))])
    assert out.shape == odd.shape and np.isfinite(out).all() and dice(out > 0, odd_obj) > 0.85


def load_builtin_with(options: dict[str, float]):
    from napari_medseg.models.builtin.model import load_builtin

    model = load_builtin()
    model.configure(options)
    return model


def test_a_first_scribble_on_a_large_mr_slice_runs_on_the_coarse_grid(models):
    """On relative intensities (MR) a scribble's first answer on a large slice comes from the coarse
    grid (``scale.relative_scribbles``); on CT, and in corrections, from the full-resolution one. An MR
    development phantom's grey matter (seed 4, label 1, its largest slice scaled to 448 px): Dice
    0.873 from the coarse grid (0.893 with the steps after the network at full resolution), 0.659 at
    full resolution (measured)."""
    from scipy import ndimage

    from napari_medseg.core.intensity import get_preset
    from napari_medseg.evaluation.mr_phantom import brain_phantom
    from napari_medseg.evaluation.simulate import SimulatedUser

    shipped, _ = models
    full = load_builtin_with({"scale.relative_scribbles": 0})
    image, labels, _ = brain_phantom(4)
    z = int(np.argmax((labels == 1).sum(axis=(0, 1))))
    zoom = (448 / image.shape[0], 448 / image.shape[1])
    img = ndimage.zoom(get_preset("mr").fit(image).apply(image[..., z]), zoom, order=1).astype(np.float32)
    grey = ndimage.zoom((labels[..., z] == 1).astype(np.float32), zoom, order=1) > 0.5
    scribble = SimulatedUser("scribble", REF, seed=5).next_interaction(grey, None)
    emb = shipped.encode(img)
    assert int(emb["scale"][0]) == 2 and [p.kind for p in scribble] == ["scribble"]
    coarse, fine = shipped.decode_relative(emb, scribble, None, True), full.decode_relative(emb, scribble, None, True)
    assert dice(coarse > 0, grey) > dice(fine > 0, grey) + 0.1
    np.testing.assert_array_equal(shipped.decode_relative(emb, scribble, None, False),
                                  full.decode_relative(emb, scribble, None, False))
    prev = np.where(grey, 4.0, -4.0).astype(np.float32)
    np.testing.assert_array_equal(shipped.decode_relative(emb, scribble, prev, True),
                                  full.decode_relative(emb, scribble, prev, True))
