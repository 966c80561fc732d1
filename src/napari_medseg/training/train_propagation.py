"""Train the propagation decoder: a second decoder, on the shipped encoder's cached features, that
carries a mask from one slice to the next.

    python -m napari_medseg.training.train_propagation --seed 0 --minutes 50 --threads 1 \\
        --out runs/prop/builtin-propagation.safetensors

The shared decoder answers every prompt type and learned propagation from pairs with large changes
(``pairs.WIDE``), so that it would not learn to copy; on neighbouring slices of smooth organs it then
trusts the image too much where the object touches tissue of its own brightness (dev phantoms: one
step from the true previous mask scored below copying it on the spleens). This decoder starts from the
shared one and sees only propagation pairs, mostly near ones (``pairs.NEAR``: small uneven changes,
more same-brightness neighbours, low-contrast objects too). The encoder is frozen: the embedding cache
stays valid and the walk only swaps the decoder. Weights: decoder tensors only, float16 safetensors.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from napari_medseg.models.builtin.model import load_state, state_dict_to_fp16
from napari_medseg.models.builtin.network import ARCH, PromptableUNet, logits_to_full
from napari_medseg.training.pairs import NEAR, WIDE
from napari_medseg.training.samples import LabelPool, Sample, propagation_sample
from napari_medseg.training.train import (
    decoder_inputs,
    dice,
    fp16_roundtrip,
    git_commit,
    hardware,
    save_tensors,
    seg_loss,
    write_checkpoint,
)

PART = "propagation-decoder"


def draw(rng: np.random.Generator, pool: LabelPool, near_share: float) -> Sample:
    """One propagation sample: a near pair (low-contrast objects allowed) or a wide one."""
    near = rng.random() < near_share
    for try_ in range(30):
        s = propagation_sample(rng, pool.draw(), strict=try_ < 20, profile=NEAR if near else WIDE,
                               visible_p=0.5 if near else 0.9)
        if s is not None:
            return s
    raise RuntimeError("no propagation pair could be drawn from the label pool")


def _produce(seed: int, size: int, pool_n: int, batch: int, near_share: float, queue) -> None:
    torch.set_num_threads(1)
    rng = np.random.default_rng([seed, 23])
    pool = LabelPool(rng, size, n=pool_n)
    while True:
        pool.step()
        queue.put([draw(rng, pool, near_share) for _ in range(batch)])


def held_out(seed: int, size: int, per_kind: int) -> dict[str, list[Sample]]:
    rng = np.random.default_rng([seed + 1_000_003, 29])
    pool = LabelPool(rng, size, n=max(8, per_kind), refresh=0)
    return {"near": [draw(rng, pool, 1.0) for _ in range(per_kind)],
            "wide": [draw(rng, pool, 0.0) for _ in range(per_kind)]}


@torch.no_grad()
def evaluate(net: PromptableUNet, val: dict[str, list[Sample]], size: int) -> dict[str, float]:
    """Mean Dice per pair profile, and what copying the previous mask would score."""
    net.eval()
    out: dict[str, float] = {}
    for kind, samples in val.items():
        dices, copies = [], []
        for i in range(0, len(samples), 16):
            batch = samples[i : i + 16]
            images = torch.from_numpy(np.stack([s.image for s in batch]))[:, None]
            feats = fp16_roundtrip(net.encoder(images))
            logit2, _ = net.decoder(feats, decoder_inputs(batch, [list(s.prompts) for s in batch],
                                                          [s.prev for s in batch], size, torch.device("cpu")))
            full = logits_to_full(logit2, (size, size))[:, 0].numpy()
            dices += [dice(lg > 0, s.target) for lg, s in zip(full, batch, strict=True)]
            copies += [dice(s.prev > 0, s.target) for s in batch]
        out[kind], out[kind + "_copy"] = float(np.mean(dices)), float(np.mean(copies))
    return out


def save_decoder(net: PromptableUNet, out: Path, meta: dict) -> None:
    """The decoder's tensors as float16 safetensors (+ JSON beside it), written atomically."""
    state = {k: v for k, v in state_dict_to_fp16(net).items() if k.startswith("decoder.")}
    save_tensors(state, out, meta, {"arch": ARCH, "part": PART, "encoder_sha256": meta["encoder_sha256"]})


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--init", type=Path, default=None, help="full built-in weights to start from (default: shipped)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--minutes", type=float, default=None)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--near-share", type=float, default=0.75, help="share of near pairs (the rest: wide)")
    p.add_argument("--val-every", type=int, default=500)
    p.add_argument("--val-per-kind", type=int, default=96)
    p.add_argument("--pool", type=int, default=256)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--keep-checkpoints", action="store_true")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    import multiprocessing as mp

    from napari_medseg.models.builtin.model import default_weights_path

    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    init = args.init or default_weights_path()
    encoder_sha = hashlib.sha256(init.read_bytes()).hexdigest()  # the model loads this decoder only with it
    net = PromptableUNet()
    net.load_state_dict(load_state(init), strict=False)
    net.encoder.requires_grad_(False)
    opt = torch.optim.AdamW(net.decoder.parameters(), lr=args.lr, weight_decay=1e-4)
    budget = args.minutes * 60 if args.minutes else math.inf
    queue = mp.get_context("fork").Queue(maxsize=8)
    proc = mp.get_context("fork").Process(
        target=_produce, args=(args.seed, args.size, args.pool, args.batch, args.near_share, queue), daemon=True)
    proc.start()
    val = held_out(args.seed, args.size, args.val_per_kind)
    meta = {"arch": ARCH, "part": PART, "init": str(init), "encoder_sha256": encoder_sha, "seed": args.seed, "batch": args.batch, "lr": args.lr,
            "near_share": args.near_share, "hardware": hardware(torch.device("cpu")), "git_commit": git_commit(),
            "history": []}
    first = evaluate(net, val, args.size)
    print("[val] step 0 " + " ".join(f"{k} {v:.3f}" for k, v in first.items()), flush=True)
    meta["history"].append({"step": 0, **first})
    t0, step, losses = time.time(), 0, []
    while step < args.steps and time.time() - t0 < budget:
        frac = max(step / args.steps, (time.time() - t0) / budget)
        for g in opt.param_groups:
            g["lr"] = args.lr * min(1.0, (step + 1) / 50) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))
        batch = queue.get(timeout=600)
        net.decoder.train()
        images = torch.from_numpy(np.stack([s.image for s in batch]))[:, None]
        target = torch.from_numpy(np.stack([s.target for s in batch]).astype(np.float32))[:, None]
        with torch.no_grad():
            feats = fp16_roundtrip(net.encoder.eval()(images))
        inputs = decoder_inputs(batch, [list(s.prompts) for s in batch], [s.prev for s in batch],
                                args.size, torch.device("cpu"))
        logit2, logit4 = net.decoder(feats, inputs)
        loss = seg_loss(logit2, logit4, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.decoder.parameters(), 2.0)
        opt.step()
        losses.append(float(loss.detach()))
        step += 1
        if step % 50 == 0:
            print(f"[train] step {step} loss {np.mean(losses[-50:]):.4f} {(time.time() - t0) / step:.2f}s/step", flush=True)
        if step % args.val_every == 0:
            _checkpoint(net, args, val, meta, step, losses, t0)
    proc.terminate()
    _checkpoint(net, args, val, meta, step, losses, t0)
    return 0


def _checkpoint(net, args, val, meta, step, losses, t0) -> None:
    metrics = evaluate(net, val, args.size)
    meta.update(steps=step, wall_time_s=round(time.time() - t0, 1), val_dice=metrics,
                date=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    meta["history"].append({"step": step, "loss": float(np.mean(losses[-100:])) if losses else None, **metrics})
    write_checkpoint(lambda path: save_decoder(net, path, meta), args.out, args.keep_checkpoints, step, metrics)


if __name__ == "__main__":
    sys.exit(main())
