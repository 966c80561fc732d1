"""The SAM adapter behind the PromptableModel protocol: embeddings, prompt mapping, logits, the Session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from napari_medseg.core.prompts import BoxPrompt, LassoPrompt, PointPrompt, ScribblePrompt, SliceRef
from napari_medseg.core.session import Session
from napari_medseg.errors import PromptError
from napari_medseg.models.protocol import PromptableModel, logits_from_mask
from napari_medseg.models.sam.loader import load_sam
from napari_medseg.models.sam.model import map_prompts, stroke_points
from napari_medseg.models.sam.transforms import PIXEL_MEAN, PIXEL_STD, Preprocessing

S = SliceRef(2, 1)


@pytest.fixture(scope="module")
def model(tiny_sam_checkpoint: Path):
    return load_sam(tiny_sam_checkpoint)


@pytest.fixture(scope="module")
def volume() -> np.ndarray:
    rng = np.random.default_rng(0)
    rr, cc = np.mgrid[:40, :52]
    disc = (rr - 20) ** 2 + (cc - 26) ** 2 < 100
    vol = np.stack([300 * disc + 20 * rng.standard_normal((40, 52)) for _ in range(3)], axis=2)
    return vol.astype(np.float32)


def test_is_a_promptable_model_with_a_compact_embedding(model):
    assert isinstance(model, PromptableModel)
    image = np.linspace(0, 1, 40 * 52, dtype=np.float32).reshape(40, 52)
    emb = model.encode(image)
    assert set(emb) == {"image_embeddings", "original_size", "input_size"}
    assert emb["image_embeddings"].shape == (256, 16, 16) and emb["image_embeddings"].dtype == np.float16
    assert emb["original_size"].tolist() == [40, 52] and emb["input_size"].tolist() == [197, 256]
    assert emb["original_size"].dtype == np.int32
    again = model.encode(image)["image_embeddings"]
    np.testing.assert_array_equal(emb["image_embeddings"], again)


def test_sam_preprocessing_normalises_pads_and_keeps_aspect():
    pre = Preprocessing("sam", 64)
    image = np.random.default_rng(1).random((32, 64), dtype=np.float32)
    x = pre.image_tensor(image)[0].numpy()
    assert x.shape == (3, 64, 64)
    for c in range(3):
        np.testing.assert_allclose(x[c, :32], (image * 255 - PIXEL_MEAN[c]) / PIXEL_STD[c], rtol=1e-5, atol=1e-4)
    assert np.all(x[:, 32:] == 0)


def test_medsam_and_litemedsam_preprocessing_scale_to_unit_range():
    image = (0.2 + 0.5 * np.random.default_rng(2).random((30, 60))).astype(np.float32)
    med = Preprocessing("medsam", 64).image_tensor(image)[0].numpy()
    assert med.shape == (3, 64, 64) and med.min() == pytest.approx(0) and med.max() == pytest.approx(1)
    lite = Preprocessing("litemedsam", 64).image_tensor(image)[0].numpy()
    assert lite[:, :32].min() == pytest.approx(0) and lite[:, :32].max() == pytest.approx(1)
    assert np.all(lite[:, 32:] == 0)  # padding below the 32-row resized slice
    assert Preprocessing("medsam", 64).input_size(30, 60) == (64, 64)


def test_prompt_mapping():
    shape = (40, 52)
    sp = map_prompts([PointPrompt(S, (3, 4)), PointPrompt(S, (5, 6), False)], shape, None)
    assert sp.points == [(3, 4), (5, 6)] and sp.labels == [1, 0] and sp.box is None and sp.mask_logits is None
    sp = map_prompts([BoxPrompt(S, (10, 10), (20, 30), positive=False)], shape, None)
    assert sp.labels == [0] * 5 and sp.points[0] == (15, 20) and sp.box is None
    sp = map_prompts([BoxPrompt(S, (2, 3), (8, 9)), BoxPrompt(S, (20, 10), (10, 30))], shape, None)
    assert sp.box == (10, 10, 20, 30)  # the last box wins
    sp = map_prompts([ScribblePrompt(S, ((5, 5), (5, 45)), width=3)], shape, None)
    assert 1 < len(sp.points) <= 6 and set(sp.labels) == {1}
    assert sp.mask_logits[5, 25] == 8 and sp.mask_logits[30, 25] < 0
    poly = ((10, 10), (10, 40), (30, 25))
    sp = map_prompts([LassoPrompt(S, poly)], shape, None)
    assert sp.box == (10, 10, 30, 40) and sp.mask_logits[15, 25] == 8 and sp.mask_logits[35, 5] == -8
    prev = logits_from_mask(np.ones(shape, bool))
    sp = map_prompts([LassoPrompt(S, poly, positive=False)], shape, prev)
    assert sp.labels == [0] and sp.force_negative[15, 25] and sp.mask_logits[15, 25] == -8
    assert sp.mask_logits[35, 5] == 8
    with pytest.raises(PromptError):
        map_prompts([], shape, None)


def test_stroke_points_are_spread_along_the_stroke():
    pts = stroke_points([(0, 0), (0, 48)])
    assert len(pts) == 6
    np.testing.assert_allclose(pts[:, 1], [4, 12, 20, 28, 36, 44])
    assert len(stroke_points([(3, 3)])) == 1


def test_single_click_keeps_the_mask_with_the_best_predicted_iou(model):
    emb = model.encode(np.random.default_rng(3).random((40, 52), dtype=np.float32))
    logits = model.decode(emb, [PointPrompt(S, (20, 26))])
    net = model.network
    with torch.inference_mode():
        e = torch.as_tensor(emb["image_embeddings"]).float()[None]
        sy, sx = 197 / 40, 256 / 52
        sparse, dense = net.prompt_encoder((torch.tensor([[[26 * sx, 20 * sy]]]), torch.tensor([[1]])), None, None)
        low, iou = net.mask_decoder(e, net.prompt_encoder.get_dense_pe(), sparse, dense, True)
        options = model.preprocessing.postprocess(low, (197, 256), (40, 52)).numpy()
    assert low.shape[1] == 3
    np.testing.assert_allclose(logits, options[int(iou.argmax())], atol=1e-5)


def test_negative_lasso_removes_its_area(model):
    emb = model.encode(np.random.default_rng(4).random((40, 52), dtype=np.float32))
    prev = logits_from_mask(np.ones((40, 52), bool))
    logits = model.decode(emb, [LassoPrompt(S, ((5, 5), (5, 20), (20, 12)), positive=False)], prev)
    assert logits[10, 12] <= -8


def test_previous_logits_alone_and_wrong_shapes(model):
    emb = model.encode(np.zeros((40, 52), dtype=np.float32))
    out = model.decode(emb, [], logits_from_mask(np.ones((40, 52), bool)))
    assert out.shape == (40, 52) and out.dtype == np.float32 and np.isfinite(out).all()
    with pytest.raises(PromptError):
        model.decode(emb, [], np.zeros((10, 10), np.float32))
    with pytest.raises(PromptError):
        model.decode(emb, [])


def test_nan_and_infinite_voxels_give_finite_logits(model):
    """The session windows every slice to [0, 1] first, but a slice given to the model directly may
    hold NaN or inf: one such voxel made every logit NaN (the attention spreads it)."""
    image = np.linspace(0, 1, 40 * 52, dtype=np.float32).reshape(40, 52)
    image[3, 4], image[10, 10], image[20, 30] = np.nan, np.inf, -np.inf
    out = model.decode(model.encode(image), [PointPrompt(S, (20.0, 26.0))])
    assert out.shape == (40, 52) and np.isfinite(out).all()


def test_float16_embedding_decodes_like_float32(model):
    emb = model.encode(np.random.default_rng(5).random((40, 52), dtype=np.float32))
    full = dict(emb, image_embeddings=emb["image_embeddings"].astype(np.float32))
    box = [BoxPrompt(S, (8, 8), (30, 40))]
    a, b = model.decode(emb, box), model.decode(full, box)
    np.testing.assert_array_equal(a, b)  # decode reads float16 as float32: same numbers


@pytest.mark.parametrize(
    "prompt",
    [
        PointPrompt(S, (20, 26)),
        BoxPrompt(S, (8, 12), (32, 40)),
        ScribblePrompt(S, ((18, 20), (22, 30)), width=2),
        LassoPrompt(S, ((10, 16), (10, 36), (30, 36), (30, 16))),
        LassoPrompt(S, ((10, 16), (10, 36), (30, 26)), positive=False),
    ],
    ids=["point", "box", "scribble", "lasso", "negative-lasso"],
)
def test_session_serves_every_prompt_type(model, volume, prompt):
    session = Session(volume, model=model, axis=2)
    preview = session.add_prompts(prompt, label_id=1)
    assert preview.logits.shape == (40, 52) and preview.logits.dtype == np.float32
    assert preview.mask.shape == (40, 52)
    refined = session.add_prompts(PointPrompt(S, (5, 5), positive=False))
    assert refined.logits.shape == (40, 52) and len(refined.prompts) == 2
    assert session.cache.misses == 1 and session.cache.hits >= 1  # one encode, then the cache
