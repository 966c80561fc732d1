"""Our SAM-family encoders and decoder against the reference code, same random weights, CPU: prints numbers.

    .venv/bin/python benchmarks/bench_sam.py [--threads 2] [--repeats 2] [--skip-vit] [--skip-tinyvit]
        [--litemedsam-checkpoint lite_medsam.pth]

* ViT-B at 1024 (SAM, MedSAM): encoder seconds per slice, ours vs segment-anything (torchvision
  stubbed: only its modelling code runs), the max |difference| of the embeddings, then ours under
  bf16 autocast (where the CPU has bf16 units) with the IoU of its masks against fp32 masks;
  decoder ms per interaction (one click, multimask) ours vs reference.
* ViT-B blocks: one windowed and one global block, ``--block-repeats`` alternating runs each,
  composed into the 12 blocks of ViT-B: a steadier ratio on a loaded machine than two whole encodes.
* TinyViT at 1024 (MobileSAM): ours vs MobileSAM's own code (mobilesam-mirror, timm stubbed).
* With ``--litemedsam-checkpoint``: the real LiteMedSAM weights, ours vs LiteMedSAM's builder if
  importable, the box-prompt mask IoU on a synthetic disc, fp32 vs bf16.

Repetitions are few (one ViT-B encode is ~17 s on 2 cores): each timing is the median of
``--repeats`` runs after one warm-up. The load average is printed: on a shared machine timings rise
with it, but ours and the reference are measured alternately in the same run, so the ratio holds.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "sam"))
from sam_reference import mobile_sam_modeling, segment_anything_modeling  # noqa: E402

from napari_medseg.core.prompts import BoxPrompt, PointPrompt, SliceRef  # noqa: E402
from napari_medseg.models.sam.build import SamNetwork, infer_config  # noqa: E402
from napari_medseg.models.sam.checkpoint import flatten_state_dict, load_into  # noqa: E402
from napari_medseg.models.sam.model import SamModel  # noqa: E402
from napari_medseg.models.sam.transforms import Preprocessing  # noqa: E402

REF = SliceRef(2, 0)


def timed(fn, repeats: int) -> tuple[float, object]:
    out = fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)), out


def alternate(fns: dict[str, object], repeats: int) -> dict[str, float]:
    """Median seconds of each function, run in turn (a, b, a, b, ...) so load drifts hit all alike."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for fn in fns.values():
        fn()  # warm-up
    for _ in range(repeats):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t)
    return {k: float(np.median(v)) for k, v in times.items()}


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def disc_slice(h: int = 300, w: int = 340, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rr, cc = np.mgrid[:h, :w]
    obj = ((rr - h * 0.45) / (h * 0.2)) ** 2 + ((cc - w * 0.5) / (w * 0.25)) ** 2 < 1
    img = np.clip(0.3 + 0.4 * obj + 0.05 * rng.standard_normal((h, w)), 0, 1).astype(np.float32)
    return img, obj


def randomize(module: torch.nn.Module, seed: int = 0) -> None:
    """Weights at a trained network's scale (1/sqrt(fan-in)); zero-initialised tables made non-zero."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.named_parameters():
            if t.ndim >= 2 and not any(s in name for s in ("embed", "rel_pos", "gaussian", "tokens")):
                t.copy_(torch.randn(t.shape, generator=gen) / t[0].numel() ** 0.5)
            elif "rel_pos" in name or "pos_embed" in name or "attention_biases" in name:
                t.copy_(0.2 * torch.randn(t.shape, generator=gen))


def masks_of(model: SamModel, emb, shape) -> list[np.ndarray]:
    h, w = shape
    prompts = [
        [PointPrompt(REF, (h * 0.45, w * 0.5))],
        [BoxPrompt(REF, (h * 0.2, w * 0.2), (h * 0.7, w * 0.8))],
        [PointPrompt(REF, (h * 0.3, w * 0.4)), PointPrompt(REF, (h * 0.9, w * 0.1), False)],
    ]
    return [model.decode(emb, p) > 0 for p in prompts]


def bench_vit(repeats: int) -> None:
    segment_anything_modeling()
    from segment_anything import sam_model_registry

    torch.manual_seed(0)
    ref = sam_model_registry["vit_b"]().eval()
    randomize(ref)
    ours_net = SamNetwork(infer_config(flatten_state_dict(ref.state_dict(), "ref")))
    load_into(ours_net, flatten_state_dict(ref.state_dict(), "ref"), "ref")
    ours = SamModel("sam", ours_net, Preprocessing("sam", 1024), "random", embedding_dtype=np.float32)
    image, _ = disc_slice()
    x = ours.preprocessing.image_tensor(image)
    print(f"ViT-B 1024 (random weights), image {image.shape}, {repeats} timed runs each after a warm-up")
    with torch.inference_mode():
        t = alternate({"ours": lambda: ours_net.image_encoder(x), "ref": lambda: ref.image_encoder(x)}, repeats)
        a, r = ours_net.image_encoder(x), ref.image_encoder(x)
    print(f"  encoder  reference {t['ref']:.2f} s   ours {t['ours']:.2f} s   speed-up x{t['ref'] / t['ours']:.2f}")
    print(f"  embedding max |ours - ref| = {float((a - r).abs().max()):.2e} (mean |ref| {float(r.abs().mean()):.3f})")

    emb = {"image_embeddings": a[0].numpy(), "original_size": np.array(image.shape, np.int32),
           "input_size": np.array(ours.preprocessing.input_size(*image.shape), np.int32)}  # fmt: skip
    pts = (torch.tensor([[[500.0, 400.0]]]), torch.tensor([[1]]))

    def ref_decode():
        s, d = ref.prompt_encoder(points=pts, boxes=None, masks=None)
        low, _ = ref.mask_decoder(r, ref.prompt_encoder.get_dense_pe(), s, d, True)
        return ref.postprocess_masks(low, (1024, 1024), image.shape)

    with torch.inference_mode():
        td = alternate(
            {"ours": lambda: ours.decode(emb, [PointPrompt(REF, (120.0, 160.0))]), "ref": ref_decode}, 10 * repeats
        )
    print(f"  decoder  reference {1e3 * td['ref']:.0f} ms   ours {1e3 * td['ours']:.0f} ms (one click, multimask, "
          "postprocess to the slice; ours includes prompt mapping)")  # fmt: skip

    if torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported():
        bf = SamModel("sam", ours_net, Preprocessing("sam", 1024), "random", precision="bf16",
                      embedding_dtype=np.float32)  # fmt: skip
        tb, emb_bf = timed(lambda: bf.encode(image), repeats)
        tf, emb_f = timed(lambda: ours.encode(image), repeats)
        ious = [iou(m1, m2) for m1, m2 in zip(masks_of(ours, emb_f, image.shape), masks_of(ours, emb_bf, image.shape),
                                               strict=True)]  # fmt: skip
        print(f"  bf16     ours fp32 {tf:.2f} s   ours bf16 {tb:.2f} s   x{tf / tb:.2f}; "
              f"mask IoU bf16 vs fp32 (point, box, 2 points): {', '.join(f'{v:.3f}' for v in ious)}")  # fmt: skip
    else:
        print("  bf16     not supported by this CPU")


def bench_vit_blocks(repeats: int) -> None:
    """One windowed and one global ViT-B block at 1024, many alternating runs: a steadier ratio than whole
    encodes on a loaded machine. ViT-B is 8 windowed + 4 global blocks plus a patch embedding and a neck
    that cost the same in both (~2% of the time)."""
    segment_anything_modeling()
    from segment_anything.modeling.image_encoder import Block as RefBlock

    from napari_medseg.models.sam.image_encoder import Block

    x = torch.randn(1, 64, 64, 768, generator=torch.Generator().manual_seed(0))
    print(f"ViT-B blocks at 1024 (64 x 64 tokens, width 768), median of {repeats} alternating runs")
    total = {"ours": 0.0, "ref": 0.0}
    for ws, count in ((14, 8), (0, 4)):
        ref = RefBlock(768, 12, 4.0, True, partial(torch.nn.LayerNorm, eps=1e-6), torch.nn.GELU, True, True, ws,
                       (64, 64)).eval()  # fmt: skip
        randomize(ref, seed=ws)
        ours = Block(768, 12, 4.0, ws, (64, 64)).eval()
        ours.load_state_dict(ref.state_dict())
        with torch.inference_mode():
            t = alternate({"ours": lambda o=ours: o(x), "ref": lambda r=ref: r(x)}, repeats)
            diff = float((ours(x) - ref(x)).abs().max())
        kind = "windowed" if ws else "global"
        print(f"  {kind:8s} block  reference {t['ref']:.2f} s   ours {t['ours']:.2f} s   x{t['ref'] / t['ours']:.2f}"
              f"   max |diff| {diff:.1e}")  # fmt: skip
        for k in total:
            total[k] += count * t[k]
    print(f"  12 blocks (8 windowed + 4 global)  reference {total['ref']:.1f} s   ours {total['ours']:.1f} s"
          f"   x{total['ref'] / total['ours']:.2f}")  # fmt: skip


def bench_tinyvit(repeats: int) -> None:
    m = mobile_sam_modeling()
    ref = m.TinyViT(img_size=1024, in_chans=3, num_classes=1000, embed_dims=[64, 128, 160, 320], depths=[2, 2, 6, 2],
                    num_heads=[2, 4, 5, 10], window_sizes=[7, 7, 14, 7], drop_path_rate=0.0)  # fmt: skip
    randomize(ref, seed=1)
    ref.eval()
    state = flatten_state_dict({"image_encoder." + k: v for k, v in ref.state_dict().items()}, "ref")
    state["prompt_encoder.no_mask_embed.weight"] = torch.zeros(1, 256)
    net = SamNetwork(infer_config(state, 1024)).image_encoder.eval()
    net.load_state_dict({k.removeprefix("image_encoder."): v for k, v in state.items() if k.startswith("image_")})
    x = torch.randn(1, 3, 1024, 1024)
    with torch.inference_mode():
        t = alternate({"ours": lambda: net(x), "ref": lambda: ref(x)}, repeats)
        diff = float((net(x) - ref(x)).abs().max())
    print(f"TinyViT 1024 (MobileSAM, random weights)\n  encoder  reference {t['ref']:.2f} s   ours {t['ours']:.2f} s"
          f"   speed-up x{t['ref'] / t['ours']:.2f}   max |diff| {diff:.2e}")  # fmt: skip


def bench_litemedsam(path: Path, repeats: int) -> None:
    from napari_medseg.models.sam.loader import load_sam_family

    image, obj = disc_slice(200, 230)
    fp32 = load_sam_family("litemedsam", path)
    bf16 = load_sam_family("litemedsam", path, precision="bf16")
    h, w = image.shape
    box = [BoxPrompt(REF, (h * 0.2, w * 0.2), (h * 0.7, w * 0.8))]
    tf, ef = timed(lambda: fp32.encode(image), repeats)
    tb, eb = timed(lambda: bf16.encode(image), repeats)
    td, logits = timed(lambda: fp32.decode(ef, box), 10 * repeats)
    mf, mb = logits > 0, bf16.decode(eb, box) > 0
    print(f"LiteMedSAM real weights ({path.name}), slice {image.shape}\n  encoder fp32 {tf:.2f} s, bf16 {tb:.2f} s; "
          f"decoder {1e3 * td:.0f} ms; box mask IoU vs the disc: fp32 {iou(mf, obj):.3f}, bf16 {iou(mb, obj):.3f}; "
          f"bf16 vs fp32 {iou(mb, mf):.3f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", 2)))
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--skip-vit", action="store_true")
    parser.add_argument("--block-repeats", type=int, default=5, help="runs of the per-block ViT-B comparison")
    parser.add_argument("--skip-tinyvit", action="store_true")
    parser.add_argument("--litemedsam-checkpoint", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}, load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    if not args.skip_vit:
        bench_vit_blocks(args.block_repeats)
        if args.repeats > 0:
            bench_vit(args.repeats)
    if not args.skip_tinyvit:
        bench_tinyvit(args.repeats)
    if args.litemedsam_checkpoint:
        bench_litemedsam(args.litemedsam_checkpoint, args.repeats)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
