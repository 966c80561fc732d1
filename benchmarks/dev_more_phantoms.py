"""More development volumes (phantom seeds 9-16, synthetic seeds 90-97): one first interaction and the walk.

``napari-medseg bench --sets dev`` holds two CT phantoms (seeds 7 and 8), so a failure that only some
organs' shapes provoke can hide from it: the bundled sample (seed 20261122) is one more draw of the
same generator, and what fails on it but on neither development seed cannot be chosen against
without looking at the sample; the same holds for the synthetic generator (development seeds 99 and
98, evaluation seeds 0 and 1). This runs the built-in model on more draws of both (never an
evaluation seed, never evaluated on), every structure and prompt type, through the bench's own ``Bench.run_case``
(first interaction of the simulated user on the largest slice, commit, propagation; the same crops
and seeds), and prints one row per case and the means::

    python benchmarks/dev_more_phantoms.py                       # all of them
    python benchmarks/dev_more_phantoms.py --seeds 9,10 --synthetic-seeds "" --builtin-option rim.enabled=0
    python benchmarks/dev_more_phantoms.py --interactions 5 --prompt-types lasso --no-3d --quiet   # corrections

About 30 s per four phantoms, 15 s per four synthetic volumes on 2 cores; prints numbers, asserts nothing.
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np

from napari_medseg.cli.bench import parse_options
from napari_medseg.core.sample import DEFAULT_SEED
from napari_medseg.evaluation.datasets import (
    CROP_MARGIN,
    DEV_SET,
    SYNTHETIC_SEEDS,
    crop_case,
    phantom_cases,
    synthetic_cases,
)
from napari_medseg.evaluation.run import Bench, BenchConfig, make_model

PROMPT_TYPES = ("point", "box", "scribble", "lasso")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="9,10,11,12,13,14,15,16", help="phantom generator seeds")
    parser.add_argument("--synthetic-seeds", default="90,91,92,93,94,95,96,97", help="synthetic generator seeds")
    parser.add_argument("--builtin-option", action="append", default=[], metavar="GROUP.NAME=VALUE",
                        help="an inference-time option of the built-in model (repeatable), as napari-medseg bench's")
    parser.add_argument("--whole-slices", action="store_true",
                        help="the volumes as they are (the bench cuts each case to its structure's box + 24 px)")
    parser.add_argument("--interactions", type=int, default=1,
                        help="the simulated user's interactions per case (1: first answers; 5 also gives Dice@3, @5)")
    parser.add_argument("--prompt-types", default=",".join(PROMPT_TYPES), help="comma-separated, of " + ",".join(PROMPT_TYPES))
    parser.add_argument("--no-3d", action="store_true", help="skip the walk (3D Dice nan): the interactions only")
    parser.add_argument("--quiet", action="store_true", help="the means only, not one row per case")
    args = parser.parse_args()
    prompt_types = [t for t in args.prompt_types.split(",") if t]
    seeds = [int(s) for s in args.seeds.split(",") if s]
    synthetic = tuple(int(s) for s in args.synthetic_seeds.split(",") if s)
    if DEFAULT_SEED in seeds:
        parser.error(f"seed {DEFAULT_SEED} is the bundled sample's: an evaluation volume, not a development one")
    if set(synthetic) & set(SYNTHETIC_SEEDS):
        parser.error(f"synthetic seeds {SYNTHETIC_SEEDS} make the synthetic evaluation set, not development volumes")
    model = make_model("builtin", options=parse_options(args.builtin_option))
    bench = Bench(BenchConfig(sets=(DEV_SET,), models=("builtin",), max_interactions=args.interactions,
                                  with_3d=not args.no_3d))
    rows: list[tuple[str, str, float, float, float, float]] = []
    for whole in itertools.chain(phantom_cases(tuple(seeds)), synthetic_cases(synthetic, set_name=DEV_SET) if synthetic else []):
        case = whole if args.whole_slices else crop_case(whole, margin=CROP_MARGIN)  # as the bench cuts every case
        for prompt_type in prompt_types:
            m = bench.run_case(case, "builtin", model, prompt_type).metrics
            rows.append((case.name, prompt_type, m["dice@1"], m["dice3d"], m["dice@3"], m["dice@5"]))
            if not args.quiet:
                walk = "" if args.no_3d else (f"  3D {m['dice3d']:.3f}  slices beyond {m['slices_beyond']:.0f} / "
                                              f"missed {m['slices_missed']:.0f}")
                more = f"  @3 {m['dice@3']:.3f}  @5 {m['dice@5']:.3f}" if args.interactions >= 5 else ""
                print(f"{case.name:34s} {prompt_type:8s} Dice@1 {m['dice@1']:.3f}{more}{walk}", flush=True)
    d1, d3 = np.array([r[2] for r in rows]), np.array([r[3] for r in rows])
    at3, at5 = np.array([r[4] for r in rows]), np.array([r[5] for r in rows])
    print(f"\n{model.identity}, phantom seeds {args.seeds}, synthetic seeds {args.synthetic_seeds}: {len(rows)} cases; "
          f"mean Dice@1 {d1.mean():.4f}" + ("" if args.no_3d else f", mean 3D Dice {d3.mean():.4f}; 3D >= 0.90 in "
                                           f"{int((d3 >= 0.9).sum())}, < 0.5 in {int((d3 < 0.5).sum())}"))
    for prompt_type in prompt_types:
        pick = [i for i, r in enumerate(rows) if r[1] == prompt_type]
        more = f"  @3 {at3[pick].mean():.4f}  @5 {at5[pick].mean():.4f}" if args.interactions >= 5 else ""
        print(f"  {prompt_type:8s} Dice@1 {d1[pick].mean():.4f}  3D {d3[pick].mean():.4f}{more}")


if __name__ == "__main__":
    main()
