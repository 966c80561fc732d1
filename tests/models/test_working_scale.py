"""Coarse slices are scaled up to the pixel size the model works at (models/working_scale.py)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from napari_medseg.core.cache import EmbeddingCache
from napari_medseg.core.prompts import PointPrompt, ScribblePrompt, SliceRef
from napari_medseg.core.sample import generate_phantom
from napari_medseg.core.session import Session
from napari_medseg.core.volume_io import Volume
from napari_medseg.evaluation.metrics import dice
from napari_medseg.models.registry import load_model
from napari_medseg.models.working_scale import (
    SLICE_SIZE,
    ScaledModel,
    WorkingSpacing,
    at_working_scale,
    features_on_slice,
    prompts_scaled,
    scale_factors,
    slice_stride,
)

REF = SliceRef(2, 0)


def test_the_factor_brings_pixels_to_the_working_spacing_within_bounds():
    opts = WorkingSpacing(spacing=1.0, max_factor=4.0, max_side=512)
    assert scale_factors((3.0, 3.0), (120, 100), opts) == (3.0, 3.0)
    assert scale_factors((0.7, 0.8), (512, 512), opts) == (1.0, 1.0)  # fine pixels: as they are
    assert scale_factors((6.0, 0.8), (40, 512), opts) == (4.0, 1.0)  # thick slices in a coronal plane
    fr, fc = scale_factors((3.0, 3.0), (300, 200), opts)  # 900 px would be too large: 512
    assert fr == fc == pytest.approx(512 / 300)
    assert scale_factors((3.0, 3.0), (600, 400), opts) == (1.0, 1.0)  # already past the bound
    assert scale_factors((3.0, 3.0), (120, 100), WorkingSpacing(spacing=0)) == (1.0, 1.0)
    for bad in ((float("nan"), 3.0), (3.0, float("inf")), (0.0, 3.0), (-2.0, 3.0)):  # says nothing: as it is
        assert scale_factors(bad, (120, 100), opts) == (1.0, 1.0)
    assert scale_factors((3.0, 3.0), (120, 100), opts, relative=True) == (1.5, 1.5)  # MR: 2 mm
    keep = WorkingSpacing(relative_shrink=0)
    assert scale_factors((1.0, 1.0), (256, 256), keep, relative=True) == (1.0, 1.0)  # finer: as it is ...
    shrink = WorkingSpacing(relative_shrink=1)  # ... unless told to scale it down too
    assert scale_factors((1.0, 1.0), (256, 256), shrink, relative=True) == (0.5, 0.5)
    assert scale_factors((0.5, 0.5), (400, 400), shrink, relative=True) == pytest.approx((0.32, 0.32))  # 128 px
    assert scale_factors((1.0, 1.0), (256, 256), shrink) == (1.0, 1.0)  # (a CT window: never)


def test_only_a_model_that_names_a_working_spacing_is_scaled():
    class Plain:
        name, identity = "plain", "plain:1"

    plain = Plain()
    assert at_working_scale(plain, (3.0, 3.0), (100, 100)) is plain
    plain.working_spacing = WorkingSpacing()
    scaled = at_working_scale(plain, (3.0, 3.0), (100, 100))
    assert isinstance(scaled, ScaledModel) and scaled.identity == "plain:1:x3,3"
    assert at_working_scale(plain, (1.0, 0.5), (100, 100)) is plain


def test_prompts_map_pixel_centres_onto_the_scaled_grid():
    stroke = ScribblePrompt(REF, ((12.0, 10.0), (14.0, 13.0)), width=2.0)
    moved = prompts_scaled([PointPrompt(REF, (10.0, 10.0)), stroke], 4.0, 4.0, origin=(10, 10))
    assert moved[0].point == (1.5, 1.5)  # slice pixel (0, 0) of the region covers scaled pixels 0-3
    assert moved[1].points == ((9.5, 1.5), (17.5, 13.5)) and moved[1].width == 8.0
    assert prompts_scaled([PointPrompt(REF, (2.0, 0.0))], 3.0, 1.0)[0].point == (7.0, 0.0)


class DiscModel:
    """A test double: answers a disc of ``radius`` scaled pixels round each click, grows a previous mask."""

    name, identity, radius = "disc", "disc:1", 9.0

    def __init__(self) -> None:
        self.seen: list[tuple] = []

    def encode(self, image):
        return {"image": image.copy()}

    def decode(self, embedding, prompts, prev_logits=None):
        shape = embedding["image"].shape
        self.seen.append((shape, [p.point for p in prompts], None if prev_logits is None else prev_logits.shape))
        rr, cc = np.indices(shape)
        out = np.full(shape, -8.0, dtype=np.float32)
        for p in prompts:
            out[np.hypot(rr - p.point[0], cc - p.point[1]) <= self.radius] = 8.0
        if prev_logits is not None:
            out = np.maximum(out, prev_logits)
        return out

    def appearance_features(self, embedding):  # channel 0: the grid row's centre in image pixels
        h, w = embedding["image"].shape
        rows = (np.arange(-(-h // 4)) + 0.5) * 4
        return np.repeat(rows[:, None, None], -(-w // 4), axis=1).astype(np.float32), 4


def test_the_scaled_model_answers_on_the_scaled_grid_and_returns_the_slice_grid():
    inner = DiscModel()
    model = ScaledModel(inner, 3.0, 3.0)
    image = np.random.default_rng(0).random((40, 50)).astype(np.float32)
    embedding = model.encode(image)
    assert embedding["image"].shape == (120, 150) and tuple(embedding[SLICE_SIZE]) == (40, 50)
    logits = model.decode(embedding, [PointPrompt(REF, (20.0, 25.0))])
    assert logits.shape == (40, 50)
    assert inner.seen[-1][1] == [(61.0, 76.0)]
    rr, cc = np.indices((40, 50))
    assert dice(logits > 0, np.hypot(rr - 20, cc - 25) <= 3.0) > 0.85  # 9 scaled px = 3 slice px
    grown = model.decode_relative(embedding, [PointPrompt(REF, (5.0, 5.0))], logits, relative=True)
    assert inner.seen[-1][2] == (120, 150)  # the previous logits on the scaled grid too
    assert (grown[logits > 0] > 0).all() and grown[5, 5] > 0
    features, stride = model.appearance_features(embedding)
    assert stride == 1 and features.shape[:2] == (40, 50)  # the model's 4-px grid is 4/3 slice px: every pixel
    # each slice pixel's feature is the row (in scaled px) of its centre: 3x the slice row
    np.testing.assert_allclose(features[4:-4, 5, 0], 3 * (np.arange(4, 36) + 0.5), atol=1e-4)


def test_features_on_slice_sample_cell_centres():
    grid = np.arange(30, dtype=np.float32).reshape(30, 1, 1) * np.ones((1, 20, 2), dtype=np.float32)
    out = features_on_slice(grid, 4, (60, 40), (120, 80), 4)  # scaled 2x: slice cell i at grid 2i + 0.5
    assert out.shape == (15, 10, 2)
    np.testing.assert_allclose(out[:14, 0, 0], 2 * np.arange(14) + 0.5)
    finer = features_on_slice(grid, 4, (60, 40), (120, 80), slice_stride(4, 2.0, 2.0))  # 2-px cells
    assert finer.shape == (30, 20, 2)
    np.testing.assert_allclose(finer[:29, 0, 0], np.arange(29))  # cell i centre: 4i + 2 scaled px, grid i
    assert slice_stride(4, 1.0, 1.0) == 4 and slice_stride(4, 3.0, 1.0) == 1 and slice_stride(4, 1.5, 1.5) == 3


def test_a_session_on_a_coarse_volume_encodes_scaled_slices_and_keys_them_apart(tmp_path):
    model = DiscModel()
    model.working_spacing = WorkingSpacing(spacing=1.0, relative_spacing=1.0)
    data = np.zeros((30, 24, 6), dtype=np.float32)
    volume = Volume.with_spacing(data, (2.0, 2.0, 5.0))
    session = Session(volume, model, preset="auto", axis=2)
    assert isinstance(session.working_model(), ScaledModel)
    assert session.working_model(0).fc == 4.0 and session.working_model(0).fr == 2.0  # (24 x 6 at 2 x 5 mm)
    assert session.cache_key(3).model != session.cache_key(3, axis=0).model
    preview = session.add_prompts([PointPrompt(SliceRef(2, 3), (15.0, 12.0))], label_id=1)
    assert preview.mask.shape == (30, 24) and preview.mask[15, 12]
    assert model.seen[-1][0] == (60, 48)
    assert 0.7 < preview.mask.sum() / (np.pi * 4.5**2) < 1.3  # 9 px on the 2x grid: 4.5 slice px
    assert tuple(session.embedding(3)[SLICE_SIZE]) == (30, 24)
    stored = Session(volume, model, preset="auto", axis=2, cache=EmbeddingCache(directory=tmp_path))
    stored.precompute()
    again = Session(volume, model, preset="auto", axis=2, cache=EmbeddingCache(directory=tmp_path)).embedding(3)
    assert again["image"].shape == (60, 48) and tuple(again[SLICE_SIZE]) == (30, 24)  # read back from disk
    plain = Session(np.zeros((30, 24, 6), dtype=np.float32), model, preset="auto", axis=2)
    assert plain.working_model() is model  # a bare array has no voxel size: as it is
    model.working_spacing = WorkingSpacing()  # (2 mm on relative intensities, 1 mm on a CT window)
    assert session.working_model() is model
    session.set_preset("ct-abdomen")
    assert session.working_model().fr == 2.0


def test_a_click_on_a_coarse_ct_slice_is_answered_at_the_working_scale():
    """The development phantom's slice scaled to a third in plane (2.7 mm pixels): a click in the left
    kidney leaks on the slice as it is, and is answered at the model's working scale (0.9 mm)."""
    image, labels, _, names = generate_phantom(7)
    kidney = labels == next(k for k, v in names.items() if v == "left kidney")
    z = int(np.argmax(kidney.sum(axis=(0, 1))))
    img = ndimage.zoom(image[..., z - 1 : z + 2].astype(np.float32), (1 / 3, 1 / 3, 1), order=1)
    ref = ndimage.zoom(kidney[..., z].astype(np.float32), 1 / 3, order=1) > 0.5
    inside = ndimage.distance_transform_edt(ref)
    click = PointPrompt(SliceRef(2, 1), tuple(float(v) for v in np.unravel_index(np.argmax(inside), ref.shape)))
    volume = Volume.with_spacing(img, (2.7, 2.7, 3.0))
    scores = {}
    for spacing in (0.0, 1.0):
        model = load_model("builtin")
        model.configure({"working_spacing.spacing": spacing})
        scores[spacing] = dice(Session(volume, model, preset="ct-abdomen", axis=2).add_prompts([click]).mask, ref)
    assert scores[1.0] > 0.85
    assert scores[1.0] > scores[0.0] + 0.1


def test_first_answers_alone_can_be_given_on_their_own_scale():
    inner = DiscModel()
    model = ScaledModel(inner, 1.0, 1.0, first=(0.5, 0.5))
    assert model.identity == "disc:1:x1,1:first0.5,0.5" and "first answers" in model.describe()
    embedding = model.encode(np.random.default_rng(1).random((64, 48)).astype(np.float32))
    first = model.decode(embedding, [PointPrompt(REF, (31.5, 23.5))])
    assert inner.seen[-1][0] == (32, 24) and inner.seen[-1][1] == [(15.5, 11.5)]
    rr, cc = np.indices((64, 48))
    assert dice(first > 0, np.hypot(rr - 31.5, cc - 23.5) <= 18.0) > 0.9  # 9 px on the half grid
    model.decode(embedding, [PointPrompt(REF, (5.0, 5.0))], first)  # a correction: the slice's own size
    assert inner.seen[-1][0] == (64, 48) and inner.seen[-1][2] == (64, 48)
    features, stride = model.appearance_features(embedding)  # the inner model's own, not a copy
    assert stride == 4 and features.shape[:2] == (16, 12) and features[3, 0, 0] == 14.0
    opts = WorkingSpacing(relative_shrink=2)

    class Relative(DiscModel):
        working_spacing = opts

    shrunk = at_working_scale(Relative(), (1.0, 1.0), (256, 256), relative=True)
    assert shrunk.first == (0.5, 0.5) and (shrunk.fr, shrunk.fc) == (1.0, 1.0)
    assert at_working_scale(Relative(), (3.0, 3.0), (100, 100), relative=True).first is None  # coarser: scaled up
