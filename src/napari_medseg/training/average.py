"""Average the weights of built-in model checkpoints (a "model soup").

    python -m napari_medseg.training.average A.safetensors B.safetensors --out soup.safetensors [--weights 0.5,0.5]

Checkpoints of one lineage (a run and its fine-tune) sit in one basin of the loss; their mean is often
better than either, at no cost at inference. Choose the mixture on the development volumes
(``napari-medseg bench --sets dev --checkpoint ...``), never on the evaluation sets.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from napari_medseg.models.builtin.model import load_state
from napari_medseg.models.builtin.network import ARCH, PromptableUNet
from napari_medseg.training.train import evaluate, held_out_set, save_weights


def average_states(states: Sequence[dict[str, torch.Tensor]], weights: Sequence[float]) -> dict[str, torch.Tensor]:
    """The weighted mean of float tensors (computed in float32); the weights are normalised to sum 1."""
    if len(states) != len(weights) or not states:
        raise ValueError("give one weight per checkpoint")
    total = float(sum(weights))
    if total <= 0 or min(weights) < 0:
        raise ValueError(f"weights must be >= 0 with a positive sum, got {list(weights)}")
    return {
        key: sum(w / total * s[key].float() for s, w in zip(states, weights, strict=True))
        for key in states[0]
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoints", type=Path, nargs="+", help="built-in model .safetensors files")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--weights", default=None, help="comma list, one per checkpoint (default: equal)")
    p.add_argument("--seed", type=int, default=0, help="seed of the held-out synthetic set (as train.py's)")
    p.add_argument("--val-per-kind", type=int, default=64)
    args = p.parse_args(argv)
    weights = [float(w) for w in args.weights.split(",")] if args.weights else [1.0] * len(args.checkpoints)
    if len(weights) != len(args.checkpoints):
        p.error(f"{len(weights)} weights for {len(args.checkpoints)} checkpoints")
    net = PromptableUNet()
    net.load_state_dict(average_states([load_state(c) for c in args.checkpoints], weights), strict=False)
    sources = []
    for path, w in zip(args.checkpoints, weights, strict=True):
        meta_path = path.with_suffix(".json")
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
        sources.append({"file": path.name, "weight": w, **{k: v for k, v in meta.items() if k != "history"}})
    size = 128  # train.py's default crop size
    metrics = evaluate(net, held_out_set(args.seed, size, args.val_per_kind), size, torch.device("cpu"), args.seed)
    meta = {
        "arch": ARCH,
        "parameters": sum(t.numel() for t in net.parameters()),
        "seed": args.seed,
        # training steps behind the averaged checkpoints, all of them together
        "steps": sum(int(src.get("steps", 0)) for src in sources),
        "val_dice": metrics,
        "averaged_from": sources,
    }
    save_weights(net, args.out, meta)
    print(f"[average] {len(sources)} checkpoints, weights {weights} -> {args.out}; held-out synthetic Dice "
          + " ".join(f"{k} {v:.3f}" for k, v in metrics.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
