"""Our SAM (encoder, prompt encoder, decoder) against segment-anything from PyPI, same random weights."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch
from sam_helpers import TINY_VIT, randomize
from sam_reference import segment_anything_modeling

from napari_medseg.core.prompts import BoxPrompt, PointPrompt, SliceRef
from napari_medseg.models.sam.build import SamConfig, SamNetwork, ViTConfig, infer_config
from napari_medseg.models.sam.checkpoint import load_into
from napari_medseg.models.sam.model import SamModel
from napari_medseg.models.sam.transforms import Preprocessing

TOL = 1e-4


def reference_sam(cfg: ViTConfig, img_size: int) -> torch.nn.Module:
    m = segment_anything_modeling()
    grid = img_size // cfg.patch_size
    return m.Sam(
        image_encoder=m.ImageEncoderViT(
            depth=cfg.depth, embed_dim=cfg.embed_dim, img_size=img_size, mlp_ratio=4,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), num_heads=cfg.num_heads,
            patch_size=cfg.patch_size, qkv_bias=True, use_rel_pos=True,
            global_attn_indexes=cfg.global_attn_indexes, window_size=cfg.window_size, out_chans=256,
        ),
        prompt_encoder=m.PromptEncoder(
            embed_dim=256, image_embedding_size=(grid, grid), input_image_size=(img_size, img_size), mask_in_chans=16
        ),
        mask_decoder=m.MaskDecoder(
            num_multimask_outputs=3,
            transformer=m.TwoWayTransformer(depth=2, embedding_dim=256, mlp_dim=2048, num_heads=8),
            transformer_dim=256, iou_head_depth=3, iou_head_hidden_dim=256,
        ),
    ).eval()  # fmt: skip


@pytest.fixture(scope="module")
def pair() -> tuple[torch.nn.Module, SamNetwork]:
    torch.manual_seed(0)
    ref = reference_sam(TINY_VIT, 256)
    randomize(ref, seed=1)
    state = ref.state_dict()
    ours = SamNetwork(infer_config(state))
    load_into(ours, {k: v for k, v in state.items() if not k.startswith("pixel_")}, "reference")
    return ref, ours.eval()


def test_inferred_config_matches_reference(pair):
    _, ours = pair
    cfg = ours.config.encoder
    assert (cfg.embed_dim, cfg.depth, cfg.num_heads, cfg.global_attn_indexes, cfg.window_size) == (64, 2, 4, (1,), 7)
    assert ours.config.img_size == 256 and ours.config.embedding_size == 16


def test_image_encoder_matches_reference(pair):
    ref, ours = pair
    x = torch.randn(1, 3, 256, 256, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        a, r = ours.image_encoder(x), ref.image_encoder(x)
    assert a.shape == (1, 256, 16, 16)
    assert float((a - r).abs().max()) < TOL
    assert float(r.abs().mean()) > 0.1  # a real signal, not two zeros agreeing


def _decode_both(ref, ours, points=None, boxes=None, masks=None, multimask=False):
    emb = torch.randn(1, 256, 16, 16, generator=torch.Generator().manual_seed(3))
    outs = []
    with torch.inference_mode():
        for net in (ref, ours):
            sparse, dense = net.prompt_encoder(points=points, boxes=boxes, masks=masks)
            outs.append(net.mask_decoder(emb, net.prompt_encoder.get_dense_pe(), sparse, dense, multimask))
    return outs


@pytest.mark.parametrize("multimask", [False, True])
def test_decoder_points_match_reference(pair, multimask):
    ref, ours = pair
    pts = (torch.tensor([[[30.0, 40.0], [200.0, 100.0]]]), torch.tensor([[1, 0]]))
    (rm, ri), (om, oi) = _decode_both(ref, ours, points=pts, multimask=multimask)
    assert om.shape == rm.shape == (1, 3 if multimask else 1, 64, 64)
    assert float((om - rm).abs().max()) < TOL and float((oi - ri).abs().max()) < TOL


def test_decoder_box_and_points_match_reference(pair):
    ref, ours = pair
    pts = (torch.tensor([[[60.0, 70.0]]]), torch.tensor([[1]]))
    box = torch.tensor([[20.0, 30.0, 180.0, 150.0]])
    (rm, ri), (om, oi) = _decode_both(ref, ours, points=pts, boxes=box)
    assert float((om - rm).abs().max()) < TOL and float((oi - ri).abs().max()) < TOL


def test_decoder_mask_prompt_matches_reference(pair):
    ref, ours = pair
    masks = 8 * torch.randn(1, 1, 64, 64, generator=torch.Generator().manual_seed(4))
    box = torch.tensor([[20.0, 30.0, 180.0, 150.0]])
    (rm, _), (om, _) = _decode_both(ref, ours, boxes=box, masks=masks)
    assert float((om - rm).abs().max()) < TOL
    (rm, _), (om, _) = _decode_both(ref, ours, masks=masks)  # mask alone, no sparse prompt
    assert float((om - rm).abs().max()) < TOL


def test_adapter_matches_reference_pipeline(pair):
    """Our decode (coordinate scaling, postprocess to the slice) equals segment-anything's predictor maths."""
    ref, ours = pair
    model = SamModel("sam", ours, Preprocessing("sam", 256), "0" * 12, embedding_dtype=np.float32)
    rng = np.random.default_rng(5)
    image = rng.random((40, 52), dtype=np.float32)
    emb = model.encode(image)
    assert tuple(emb["input_size"]) == (197, 256)  # 40 * 256 / 52 rounded, as ResizeLongestSide
    s = SliceRef(2, 0)
    logits = model.decode(emb, [BoxPrompt(s, (5, 8), (30, 40)), PointPrompt(s, (20.0, 25.0), False)])
    sx, sy = 256 / 52, 197 / 40  # per axis, as ResizeLongestSide.apply_coords
    with torch.inference_mode():
        sparse, dense = ref.prompt_encoder(
            points=(torch.tensor([[[25.0 * sx, 20.0 * sy]]]), torch.tensor([[0]])),
            boxes=torch.tensor([[8 * sx, 5 * sy, 40 * sx, 30 * sy]]),
            masks=None,
        )
        low, _ = ref.mask_decoder(
            torch.from_numpy(emb["image_embeddings"])[None], ref.prompt_encoder.get_dense_pe(), sparse, dense, False
        )
        expected = ref.postprocess_masks(low, (197, 256), (40, 52))[0, 0].numpy()
    assert logits.shape == (40, 52) and logits.dtype == np.float32
    assert float(np.abs(logits - expected).max()) < TOL


@pytest.mark.parametrize("variant", ["vit_b", "vit_l", "vit_h"])
def test_full_size_state_dicts_load_strictly(variant):
    """The official builders' key names and shapes (ViT-B/L/H at 1024) are exactly ours; shapes only."""
    segment_anything_modeling()  # stubs torchvision before the package import
    from segment_anything import sam_model_registry

    with torch.device("meta"):
        ref_state = sam_model_registry[variant]().state_dict()
        cfg = infer_config(ref_state)
        ours_state = SamNetwork(cfg).state_dict()
    ref_shapes = {k: tuple(v.shape) for k, v in ref_state.items() if not k.startswith("pixel_")}
    assert {k: tuple(v.shape) for k, v in ours_state.items()} == ref_shapes
    assert cfg.variant == variant and cfg.img_size == 1024 and cfg.embedding_size == 64
    expected = {"vit_b": (12, 12, (2, 5, 8, 11)), "vit_l": (24, 16, (5, 11, 17, 23)), "vit_h": (32, 16, (7, 15, 23, 31))}
    assert (cfg.encoder.depth, cfg.encoder.num_heads, cfg.encoder.global_attn_indexes) == expected[variant]


def test_config_round_trip():
    cfg = SamConfig(encoder=TINY_VIT, img_size=256)
    assert infer_config(SamNetwork(cfg).state_dict()) == cfg
