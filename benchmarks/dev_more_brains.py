"""More MR development volumes (folded brains 10-11, averages of 8 folded brains 12-13): the
simulated user's first five interactions, and the walk from the first.

``bench --sets dev-mr-folded`` holds one folded brain and two averages (seeds 5, 6, 7), the volumes
the MR options of 2026-12-06 were chosen on. This runs the built-in model on other draws of the same
generators (``evaluation/folded_brain.py``; development volumes, never evaluated on) through the
bench's own ``Bench.run_case`` (the bench's crops and simulated user), so that a choice can be
checked on volumes it was not made on; prints one row per case and the means::

    python benchmarks/dev_more_brains.py
    python benchmarks/dev_more_brains.py --builtin-option extend_relative.ring_percentile=50 --quiet
    python benchmarks/dev_more_brains.py --prompt-types lasso --no-3d --quiet    # corrections only

About 4 minutes on 2 cores; prints numbers, asserts nothing.
"""

from __future__ import annotations

import argparse

import numpy as np

from napari_medseg.cli.bench import parse_options
from napari_medseg.evaluation.datasets import (
    CROP_MARGIN,
    DEV_MR_FOLDED_SET,
    MR_PHANTOM_SPACING,
    Case,
    crop_case,
)
from napari_medseg.evaluation.folded_brain import (
    AVERAGE_SEEDS,
    FOLDED_SEEDS,
    average_brain_phantom,
    folded_brain_phantom,
)
from napari_medseg.evaluation.mr_phantom import brain_labels
from napari_medseg.evaluation.run import Bench, BenchConfig, make_model

PROMPT_TYPES = ("point", "box", "scribble", "lasso")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folded-seeds", default="10,11", help="folded_brain_phantom seeds")
    parser.add_argument("--average-seeds", default="12,13", help="average_brain_phantom seeds")
    parser.add_argument("--builtin-option", action="append", default=[], metavar="GROUP.NAME=VALUE",
                        help="an inference-time option of the built-in model (repeatable), as napari-medseg bench's")
    parser.add_argument("--prompt-types", default=",".join(PROMPT_TYPES), help="comma-separated, of " + ",".join(PROMPT_TYPES))
    parser.add_argument("--no-3d", action="store_true", help="skip the walk (3D Dice nan): the interactions only")
    parser.add_argument("--quiet", action="store_true", help="the means only, not one row per case")
    args = parser.parse_args()
    prompt_types = [t for t in args.prompt_types.split(",") if t]
    folded = [int(s) for s in args.folded_seeds.split(",") if s]
    averages = [int(s) for s in args.average_seeds.split(",") if s]
    if set(folded) & set(FOLDED_SEEDS) or set(averages) & set(AVERAGE_SEEDS):
        parser.error("those seeds are dev-mr-folded's own: pick others to check a choice made on it")
    model = make_model("builtin", options=parse_options(args.builtin_option))
    bench = Bench(BenchConfig(sets=(DEV_MR_FOLDED_SET,), models=("builtin",), max_interactions=5,
                                  with_3d=not args.no_3d))
    volumes = [(f"folded-{s}", folded_brain_phantom(s)) for s in folded]
    volumes += [(f"average-{s}", average_brain_phantom(s)) for s in averages]
    rows: list[tuple[str, str, float, float, float, float]] = []
    for name, (image, labels, _) in volumes:
        for structure, ref in brain_labels(labels).items():
            case = crop_case(Case(DEV_MR_FOLDED_SET, name, structure, image, ref, axis=2, preset="mr",
                                  spacing=MR_PHANTOM_SPACING), margin=CROP_MARGIN)
            for prompt_type in prompt_types:
                m = bench.run_case(case, "builtin", model, prompt_type).metrics
                rows.append((case.name, prompt_type, m["dice@1"], m["dice3d"], m["dice@3"], m["dice@5"]))
                if not args.quiet:
                    print(f"{case.name:30s} {prompt_type:8s} Dice@1 {m['dice@1']:.3f}  3D {m['dice3d']:.3f}  "
                          f"@3 {m['dice@3']:.3f}  @5 {m['dice@5']:.3f}", flush=True)
    values = np.array([r[2:] for r in rows])
    print(f"\n{model.identity}, folded {args.folded_seeds}, averages {args.average_seeds}: {len(rows)} cases; "
          f"mean Dice@1 {values[:, 0].mean():.4f}, 3D {values[:, 1].mean():.4f}, @3 {values[:, 2].mean():.4f}, "
          f"@5 {values[:, 3].mean():.4f}")
    for prompt_type in prompt_types:
        pick = [i for i, r in enumerate(rows) if r[1] == prompt_type]
        d = values[pick].mean(axis=0)
        print(f"  {prompt_type:8s} Dice@1 {d[0]:.4f}  3D {d[1]:.4f}  @3 {d[2]:.4f}  @5 {d[3]:.4f}")


if __name__ == "__main__":
    main()
