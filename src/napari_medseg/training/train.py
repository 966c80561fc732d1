"""Train the built-in model on synthetic data: one command, one seed.

    python -m napari_medseg.training.train --steps 3000 --seed 0 --out runs/builtin.safetensors --minutes 50

Each step draws a batch of synthetic slices with simulated prompts of every type (and propagation
pairs), runs the encoder once, the decoder on the first prompts, then 0-3 correction rounds (the model's
own logits as ``prev`` plus a click in the largest error region; without gradient except the last),
and minimises BCE + Dice of the first and last round. Every ``--val-every`` steps it logs a held-out
synthetic Dice per prompt type and saves the weights (float16 safetensors + JSON metadata), so a run
stopped early still leaves usable weights.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from napari_medseg.models.builtin.model import state_dict_to_fp16
from napari_medseg.models.builtin.network import ARCH, PromptableUNet, logits_to_full, prev_channels
from napari_medseg.models.builtin.prompt_maps import SCALE, build_prompt_maps
from napari_medseg.training import prompt_sim as ps
from napari_medseg.training.samples import LabelPool, Sample, make_sample, validation_set


def fp16_roundtrip(feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The cache stores float16: train on what inference will see (straight-through gradient)."""
    return {k: v + (v.half().float() - v).detach() for k, v in feats.items()}


def decoder_inputs(samples: Sequence[Sample], prompts: Sequence[list], prevs: Sequence[np.ndarray | None],
                   size: int, device: torch.device) -> torch.Tensor:
    maps = np.stack([build_prompt_maps(p, (size // SCALE, size // SCALE)) for p in prompts])
    prev = np.stack([p if p is not None else np.zeros((size, size), np.float32) for p in prevs])
    given = torch.tensor([p is not None for p in prevs], dtype=torch.float32)
    pc = prev_channels(torch.from_numpy(prev)[:, None], given)
    return torch.cat([torch.from_numpy(maps), pc], dim=1).to(device)


def seg_loss(logit2: torch.Tensor, logit4: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    full = logits_to_full(logit2, target.shape[-2:])
    bce = F.binary_cross_entropy_with_logits(full, target)
    prob = torch.sigmoid(full)
    inter = (prob * target).sum(dim=(1, 2, 3))
    dice = 1 - (2 * inter + 1) / (prob.sum(dim=(1, 2, 3)) + target.sum(dim=(1, 2, 3)) + 1)
    aux = F.binary_cross_entropy_with_logits(logit4, F.avg_pool2d(target, SCALE))
    return bce + dice.mean() + 0.3 * aux


def dice(pred: np.ndarray, target: np.ndarray) -> float:
    s = pred.sum() + target.sum()
    return 1.0 if s == 0 else float(2 * (pred & target).sum() / s)


def corrections(rng: np.random.Generator, logits: np.ndarray, batch: Sequence[Sample],
                prompts: list[list]) -> tuple[list[list], list[np.ndarray]]:
    """One simulated correction round: a click (sometimes a scribble) on the largest error."""
    new_prompts, prevs = [], []
    for lg, s, p in zip(logits, batch, prompts, strict=True):
        pred = lg > 0
        extra: list = []
        if rng.random() < 0.85:
            click = ps.correction_click(rng, pred, s.target)
            extra = [click] if click is not None else []
        else:
            extra = ps.correction_scribble(rng, pred, s.target)
        new_prompts.append(list(p) + extra if rng.random() < 0.75 or not extra else extra)
        prevs.append(np.clip(lg, -20, 20).astype(np.float32))
    return new_prompts, prevs


def train_step(net: PromptableUNet, opt: torch.optim.Optimizer, batch: list[Sample], rng: np.random.Generator,
               size: int, device: torch.device) -> float:
    net.train()
    size = batch[0].image.shape[0]
    images = torch.from_numpy(np.stack([s.image for s in batch]))[:, None].to(device)
    target = torch.from_numpy(np.stack([s.target for s in batch]).astype(np.float32))[:, None].to(device)
    feats = fp16_roundtrip(net.encoder(images))
    prompts = [list(s.prompts) for s in batch]
    prevs = [s.prev for s in batch]
    logit2, logit4 = net.decoder(feats, decoder_inputs(batch, prompts, prevs, size, device))
    loss = seg_loss(logit2, logit4, target)
    rounds = int(rng.choice([0, 1, 2, 3], p=[0.3, 0.3, 0.2, 0.2]))
    if rounds:
        detached = {k: v.detach() for k, v in feats.items()}
        cur = logit2
        for r in range(rounds):
            with torch.no_grad():
                full = logits_to_full(cur.detach(), (size, size))[:, 0].cpu().numpy()
            prompts, prevs = corrections(rng, full, batch, prompts)
            inp = decoder_inputs(batch, prompts, prevs, size, device)
            if r < rounds - 1:
                with torch.no_grad():
                    cur, _ = net.decoder(detached, inp)
            else:
                cur, c4 = net.decoder(feats, inp)
                loss = loss + seg_loss(cur, c4, target)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(net.parameters(), 2.0)
    opt.step()
    return float(loss.detach())


@torch.no_grad()
def evaluate(net: PromptableUNet, val: dict[str, list[Sample]], size: int, device: torch.device,
             seed: int) -> dict[str, float]:
    """Mean Dice per prompt type on the held-out set, plus 'click+3': one click and three corrections."""
    net.eval()
    rng = np.random.default_rng([seed, 104_729])
    out: dict[str, float] = {}
    for kind, samples in val.items():
        dices, dices3 = [], []
        for i in range(0, len(samples), 16):
            batch = samples[i : i + 16]
            images = torch.from_numpy(np.stack([s.image for s in batch]))[:, None].to(device)
            feats = fp16_roundtrip(net.encoder(images))
            prompts, prevs = [list(s.prompts) for s in batch], [s.prev for s in batch]
            logit2, _ = net.decoder(feats, decoder_inputs(batch, prompts, prevs, size, device))
            full = logits_to_full(logit2, (size, size))[:, 0].cpu().numpy()
            dices += [dice(lg > 0, s.target) for lg, s in zip(full, batch, strict=True)]
            if kind == "click":
                for _ in range(3):
                    prompts, prevs = _clicks_only(rng, full, batch, prompts)
                    logit2, _ = net.decoder(feats, decoder_inputs(batch, prompts, prevs, size, device))
                    full = logits_to_full(logit2, (size, size))[:, 0].cpu().numpy()
                dices3 += [dice(lg > 0, s.target) for lg, s in zip(full, batch, strict=True)]
        out[kind] = float(np.mean(dices))
        if dices3:
            out["click+3"] = float(np.mean(dices3))
    return out


def held_out_set(seed: int, size: int, per_kind: int) -> dict[str, list[Sample]]:
    """The validation set of a run with ``seed``: its own seed, never drawn by the training batches."""
    return validation_set(seed + 1_000_003, size, per_kind)


def _clicks_only(rng, logits, batch, prompts):
    new, prevs = [], []
    for lg, s, p in zip(logits, batch, prompts, strict=True):
        click = ps.correction_click(rng, lg > 0, s.target)
        new.append(list(p) + ([click] if click is not None else []))
        prevs.append(np.clip(lg, -20, 20).astype(np.float32))
    return new, prevs


BIG_BATCH_P = 0.3


def _produce(seed: int, size: int, pool_n: int, batch: int, queue) -> None:
    """Worker process: draws batches forever (deterministic for a seed) into ``queue``."""
    torch.set_num_threads(1)
    source = BatchSource(seed, size, pool_n, batch, workers=0)
    while True:
        queue.put(source.next())


class BatchSource:
    """Synthetic batches, drawn in ``workers`` worker processes or, with ``workers=0``, in this one.

    With one worker (or none) the batches are the same for a seed on every run. Several workers (for a
    GPU, which consumes batches faster than one CPU core draws them) each draw from their own seed
    ``[seed, i]``; the order in which their batches arrive depends on timing, so such a run is
    reproducible in distribution, not bit for bit.
    """

    def __init__(self, seed: int | list[int], size: int, pool_n: int, batch: int, workers: int) -> None:
        self.batch = batch
        self.procs: list = []
        if workers > 0:
            import multiprocessing as mp

            ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
            self.queue = ctx.Queue(maxsize=6 * workers)
            seeds = [seed] if workers == 1 else [[int(seed), 31 + i] for i in range(workers)]
            pool_each = pool_n if workers == 1 else max(32, pool_n // workers)
            for s in seeds:
                proc = ctx.Process(target=_produce, args=(s, size, pool_each, batch, self.queue), daemon=True)
                proc.start()
                self.procs.append(proc)
        else:
            seq = list(seed) if isinstance(seed, list) else [seed]
            self.rng = np.random.default_rng([*seq, 17])
            self.pool = LabelPool(self.rng, size, n=pool_n)
            self.big_pool: LabelPool | None = None
            self.big_size = 2 * size

    def next(self) -> list[Sample]:
        """A batch; three in ten hold a quarter as many slices of twice the size (scale variety)."""
        if self.procs:
            return self.queue.get(timeout=600)
        if self.rng.random() < BIG_BATCH_P:
            if self.big_pool is None:
                self.big_pool = LabelPool(self.rng, self.big_size, n=32, refresh=1)
            self.big_pool.step()
            return [make_sample(self.rng, self.big_pool) for _ in range(max(2, self.batch // 4))]
        self.pool.step()
        return [make_sample(self.rng, self.pool) for _ in range(self.batch)]

    def close(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.join(5)


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                              cwd=Path(__file__).parent).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return f"CUDA {torch.cuda.get_device_name(device)}"
    return f"CPU {platform.machine()} ({os.cpu_count()} cores, {torch.get_num_threads()} torch threads)"


def save_weights(net: PromptableUNet, out: Path, meta: dict) -> None:
    """float16 safetensors + JSON metadata beside it, each written atomically."""
    save_tensors(state_dict_to_fp16(net), out, meta, {"arch": ARCH})


def save_tensors(state: dict[str, torch.Tensor], out: Path, meta: dict, header: dict[str, str]) -> None:
    """``state`` as safetensors (``header`` in its metadata) + ``meta`` as JSON beside it, both atomic."""
    from safetensors.torch import save_file

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    save_file(state, str(tmp), metadata=header)
    os.replace(tmp, out)
    jtmp = out.with_suffix(".json.tmp")
    jtmp.write_text(json.dumps(meta, indent=2) + "\n")
    os.replace(jtmp, out.with_suffix(".json"))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True, help="the .safetensors file to write")
    p.add_argument("--minutes", type=float, default=None, help="stop after this wall time")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--size", type=int, default=128, help="training crop size (a multiple of 32)")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--val-every", type=int, default=100)
    p.add_argument("--val-per-kind", type=int, default=32)
    p.add_argument("--pool", type=int, default=256, help="label maps kept in the pool")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--workers", type=int, default=1,
                   help="data worker processes (1: bit-reproducible; more feed a GPU; 0: draw in this process)")
    p.add_argument("--init", type=Path, default=None, help="start from these safetensors weights")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    p.add_argument("--keep-checkpoints", action="store_true",
                   help="also keep each checkpoint as <out stem>.step<N>.safetensors (for model selection)")
    args = p.parse_args(argv)
    if args.workers < 0:
        p.error(f"--workers must be 0 or more, got {args.workers}")
    if args.size % 32:
        p.error(f"--size must be a multiple of 32, got {args.size}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    net = PromptableUNet().to(device)
    if args.init is not None:
        from napari_medseg.models.builtin.model import load_state

        net.load_state_dict(load_state(args.init), strict=False)
    n_params = sum(p.numel() for p in net.parameters())
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    warmup = min(100, max(args.steps // 10, 1))
    budget_s = args.minutes * 60 if args.minutes else math.inf

    def lr_at(step: int, frac_time: float) -> float:
        frac = max(step / args.steps, frac_time)
        return args.lr * min(1.0, (step + 1) / warmup) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))

    print(f"[train] {ARCH}: {n_params} parameters on {hardware(device)}; seed {args.seed}", flush=True)
    t0 = time.time()
    source = BatchSource(args.seed, args.size, args.pool, args.batch, args.workers)
    val = held_out_set(args.seed, args.size, args.val_per_kind)
    print(f"[train] pool and validation set ready in {time.time() - t0:.0f}s", flush=True)
    meta: dict = {"arch": ARCH, "parameters": n_params, "seed": args.seed, "batch": args.batch, "size": args.size,
                  "hardware": hardware(device), "git_commit": git_commit(), "history": [],
                  "init": str(args.init) if args.init else None, "lr": args.lr}
    losses: list[float] = []
    step = 0
    t_start = time.time()
    while step < args.steps and time.time() - t_start < budget_s:
        for g in opt.param_groups:
            g["lr"] = lr_at(step, (time.time() - t_start) / budget_s)
        batch = source.next()
        losses.append(train_step(net, opt, batch, rng, args.size, device))
        step += 1
        if step % 10 == 0:
            el = time.time() - t_start
            print(f"[train] step {step} loss {np.mean(losses[-10:]):.4f} lr {opt.param_groups[0]['lr']:.2e} "
                  f"{el / step:.2f}s/step", flush=True)
        if step % args.val_every == 0 or step == args.steps:
            _checkpoint(net, args, val, device, meta, step, losses, t_start)
    source.close()
    if step % args.val_every != 0 and step != args.steps:
        _checkpoint(net, args, val, device, meta, step, losses, t_start)
    print(f"[train] done: {step} steps in {(time.time() - t_start) / 60:.1f} min -> {args.out}", flush=True)
    return 0


def _checkpoint(net, args, val, device, meta, step, losses, t_start) -> None:
    metrics = evaluate(net, val, args.size, device, args.seed)
    wall = time.time() - t_start
    meta.update(steps=step, wall_time_s=round(wall, 1), val_dice=metrics,
                train_loss=float(np.mean(losses[-50:])), date=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    meta["history"].append({"step": step, "wall_s": round(wall, 1), "loss": float(np.mean(losses[-50:])), **metrics})
    write_checkpoint(lambda path: save_weights(net, path, meta), args.out, args.keep_checkpoints, step, metrics)


def write_checkpoint(save, out: Path, keep: bool, step: int, metrics: dict[str, float]) -> None:
    """``save(path)`` to ``out`` (and, with ``keep``, to ``<stem>.step<N>``), then log the metrics."""
    save(out)
    if keep:
        save(out.with_name(f"{out.stem}.step{step}{out.suffix}"))
    print(f"[val] step {step} " + " ".join(f"{k} {v:.3f}" for k, v in metrics.items()), flush=True)


if __name__ == "__main__":
    sys.exit(main())
