"""Correction steps that lower Dice: where the simulated user's next interaction made the mask worse.

    .venv/bin/python benchmarks/correction_drops.py [--set dev] [--seeds 7,8,9,10,11,12] [--zoom 0.35,0.5]
        [--prompt-types point,box] [--interactions 5] [--drop 0.03] [--builtin-option GROUP.NAME=VALUE]

A mean Dice after five interactions hides the steps that went backwards; an annotator remembers
them. This runs the built-in model on ``bench_slice_scale.py``'s volumes (each structure's largest
slice of the whole development phantom, scaled in plane by ``--zoom``: 0.35 gives 2.6 mm pixels, as a
CT reconstructed at 3 mm), the simulated user's ``--interactions`` per prompt type, and lists every
correction that lowered Dice by more than ``--drop``, with the prompt that did it, then the count and
the mean Dice after each interaction. Development volumes only (``--set dev``: phantom seeds 7 and 8
for choices, 9-16 held out; ``--set dev-mr`` / ``dev-mr-folded`` the MR phantoms). Prints numbers,
asserts nothing. Twenty-eighth session (2026-12-07), seeds 7-12 at x0.35 / 0.5: 34 of 672 click and
box steps and 30 of 672 scribble and lasso steps before its two changes (a negative stroke's shorter
reach, a box's second look on a narrow window), 65 of 1,344 after (44 s on 2 cores): scribbles 15 ->
12, clicks 25 -> 25, boxes 9 -> 11 and lassos 15 -> 17 (their first answers moved with the window).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_slice_scale import native_spacing, scaled_slices  # noqa: E402  (this folder's script: its slices)
from napari_medseg.cli.bench import parse_options  # noqa: E402
from napari_medseg.core.prompts import SliceRef  # noqa: E402
from napari_medseg.core.session import Session  # noqa: E402
from napari_medseg.core.volume_io import Volume  # noqa: E402
from napari_medseg.evaluation.metrics import dice  # noqa: E402
from napari_medseg.evaluation.run import make_model  # noqa: E402
from napari_medseg.evaluation.simulate import SimulatedUser  # noqa: E402


def describe(prompt) -> str:
    """The prompt's kind and sign, e.g. ``PointPrompt-``."""
    return type(prompt).__name__ + ("+" if prompt.positive else "-")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="dev", choices=("dev", "dev-mr", "dev-mr-folded"))
    parser.add_argument("--seeds", default="7,8,9,10,11,12", help="phantom seeds (--set dev) or MR seeds")
    parser.add_argument("--zoom", default="0.35,0.5", help="in-plane scales of the slices")
    parser.add_argument("--prompt-types", default="point,box,scribble,lasso")
    parser.add_argument("--interactions", type=int, default=5)
    parser.add_argument("--drop", type=float, default=0.03, help="list steps that lower Dice by more than this")
    parser.add_argument("--builtin-option", action="append", default=[], metavar="GROUP.NAME=VALUE")
    args = parser.parse_args()
    torch.set_num_threads(2)
    seeds = tuple(int(v) for v in args.seeds.split(",") if v)
    zooms = [float(z) for z in args.zoom.split(",")]
    model = make_model("builtin", options=parse_options(args.builtin_option))
    start = time.perf_counter()
    curves: dict[tuple[str, float], list[list[float]]] = {}
    drops = steps = 0
    mr_seeds = seeds if args.set != "dev" else ()
    for vname, lid, name, preset, zoom, img, ref, _own in scaled_slices(args.set, seeds, mr_seeds, zooms):
        pixel = native_spacing(preset) / zoom
        for kind in args.prompt_types.split(","):
            session = Session(Volume.with_spacing(img, (pixel, pixel, 3.0)), model, preset=preset, axis=2)
            user = SimulatedUser(kind, SliceRef(2, 1), seed=1000 * zooms.index(zoom) + lid)
            mask, curve = None, []
            for k in range(args.interactions):
                prompts = user.next_interaction(ref, mask)
                if prompts:  # else nothing is left to correct: the mask stays
                    mask = session.add_prompts(prompts, label_id=1).mask
                curve.append(dice(mask, ref))
                if k == 0:
                    continue
                steps += 1
                if curve[-1] < curve[-2] - args.drop:
                    drops += 1
                    print(f"{vname} {name} x{zoom:g} {kind}: interaction {k + 1} "
                          f"({describe(prompts[-1])}) {curve[-2]:.3f} -> {curve[-1]:.3f}", flush=True)
            curves.setdefault((kind, zoom), []).append(curve)
    print(f"\n{drops} of {steps} corrections lowered Dice by more than {args.drop} "
          f"({args.set}, seeds {args.seeds}, x{', x'.join(f'{z:g}' for z in zooms)}; {time.perf_counter() - start:.0f} s)")
    print("Mean Dice after each interaction:")
    for (kind, zoom), runs in curves.items():
        print(f"  {kind} x{zoom:g}: " + " / ".join(f"{v:.3f}" for v in np.mean(runs, axis=0)))


if __name__ == "__main__":
    main()
