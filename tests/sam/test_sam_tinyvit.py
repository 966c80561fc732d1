"""TinyViT (MobileSAM, LiteMedSAM) against MobileSAM's own code from PyPI (mobilesam-mirror), same weights.

MobileSAM's ``forward_features`` hard-codes a 64x64 output grid (1024 input), too slow for a unit test,
so the reference is run stage by stage on a 256 input (16x16 grid): same code path, windows padded.
LiteMedSAM differs only in its 1x1, stride-1 patch embedding; the reference gets that by swapping
its two patch convolutions for 1x1 ones (as LiteMedSAM's own tiny_vit_sam.py does).
"""

from __future__ import annotations

import pytest
import torch
from sam_helpers import randomize
from sam_reference import mobile_sam_modeling

from napari_medseg.models.sam.build import SamNetwork, TinyViTConfig, infer_config
from napari_medseg.models.sam.checkpoint import flatten_state_dict
from napari_medseg.models.sam.tiny_vit import TinyViT

TOL = 1e-4
MOBILE_SAM = dict(embed_dims=[64, 128, 160, 320], depths=[2, 2, 6, 2], num_heads=[2, 4, 5, 10], window_sizes=[7, 7, 14, 7])


def _reference_features(ref: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    x = ref.patch_embed(x)
    for layer in ref.layers:
        x = layer(x)
    b, n, c = x.shape
    s = int(n**0.5)
    return ref.neck(x.view(b, s, s, c).permute(0, 3, 1, 2))


def _pair(patch_kernel: int) -> tuple[torch.nn.Module, TinyViT]:
    m = mobile_sam_modeling()
    ref = m.TinyViT(img_size=256, in_chans=3, num_classes=1000, drop_path_rate=0.0, **MOBILE_SAM)
    if patch_kernel == 1:
        seq = ref.patch_embed.seq
        seq[0].c = torch.nn.Conv2d(3, 32, 1, 1, 0, bias=False)
        seq[2].c = torch.nn.Conv2d(32, 64, 1, 1, 0, bias=False)
    randomize(ref, seed=7)
    ref.eval()  # after the weights: MobileSAM caches its attention biases in eval()
    state = {"image_encoder." + k: v for k, v in ref.state_dict().items()}
    cfg = infer_config(flatten_state_dict(state, "reference") | _decoder_keys(), img_size=256)
    assert cfg.encoder == TinyViTConfig(
        (64, 128, 160, 320), (2, 2, 6, 2), (1, 4, 5, 10), (7, 7, 14, 7), patch_kernel, 4.0, 4.0
    )  # stage 0 is convolutional: its head count is a placeholder
    ours = SamNetwork(cfg).image_encoder
    ours.load_state_dict({k.removeprefix("image_encoder."): v for k, v in flatten_state_dict(state, "reference").items()})
    return ref, ours.eval()


def _decoder_keys() -> dict[str, torch.Tensor]:
    return {"prompt_encoder.no_mask_embed.weight": torch.zeros(1, 256)}


@pytest.mark.parametrize("patch_kernel,size", [(3, 256), (1, 64)])
def test_tinyvit_matches_mobilesam_reference(patch_kernel, size):
    ref, ours = _pair(patch_kernel)
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(8))
    with torch.inference_mode():
        r = _reference_features(ref, x)
        a = ours(x)
    assert a.shape == r.shape == (1, 256, 16, 16)
    assert float((a - r).abs().max()) < TOL
    assert float(r.abs().mean()) > 0.1


def test_official_mobilesam_layout_loads():
    """MobileSAM's own builder (TinyViT at 1024 plus SAM's decoder): every key and shape is ours,
    minus the unused ImageNet head; the inferred variant is MobileSAM's tiny_vit_5m at 64x64."""
    mobile_sam_modeling()
    from mobile_sam import sam_model_registry

    ref_state = sam_model_registry["vit_t"]().state_dict()  # 10M parameters: built for real
    kept = flatten_state_dict(ref_state, "mobile_sam.pt")
    cfg = infer_config(kept, img_size=1024)
    with torch.device("meta"):
        ours = SamNetwork(cfg).state_dict()
    assert "image_encoder.head.weight" in ref_state and "image_encoder.head.weight" not in kept
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in kept.items()}
    assert cfg.variant == "tiny_vit_5m" and cfg.embedding_size == 64 and cfg.encoder.patch_kernel == 3
