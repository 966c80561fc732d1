"""Helpers for the SAM-family tests: random weights at a realistic scale, a tiny SAM configuration."""

from __future__ import annotations

import torch

from napari_medseg.models.sam.build import SamConfig, SamNetwork, ViTConfig

TINY_VIT = ViTConfig(embed_dim=64, depth=2, num_heads=4, global_attn_indexes=(1,), window_size=7, patch_size=16)


def randomize(module: torch.nn.Module, seed: int = 0, std: float = 0.2) -> None:
    """Random values in every parameter and float buffer, so no zero-initialised path hides a bug.

        Weight matrices get a 1/sqrt(fan-in) scale so activations stay O(1), as in a trained network.
        """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in list(module.named_parameters()) + list(module.named_buffers()):
            if not t.is_floating_point() or name.startswith("pixel_"):
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
            elif name.endswith("weight") and t.ndim == 1:  # norms: around one
                t.copy_(1 + std * torch.randn(t.shape, generator=gen))
            elif t.ndim >= 2 and not any(s in name for s in ("embed", "rel_pos", "gaussian", "tokens")):
                fan_in = t[0].numel() if not isinstance(module.get_submodule(name.rpartition(".")[0]),
                                                         torch.nn.ConvTranspose2d) else t.shape[0]
                t.copy_(torch.randn(t.shape, generator=gen) / fan_in**0.5)
            else:
                t.copy_(std * torch.randn(t.shape, generator=gen))


def tiny_sam_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """State dict of a 256-input SAM with a 64-wide, 2-block ViT (16x16 embedding grid)."""
    net = SamNetwork(SamConfig(encoder=TINY_VIT, img_size=256))
    randomize(net, seed)
    return net.state_dict()
