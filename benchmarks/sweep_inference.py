"""Sweep inference-time options of the built-in model on the development volumes; prints numbers.

Each ``--grid GROUP.NAME=V1,V2,...`` is swept on its own (every other option at its default, or at
the values given with ``--set``), through the same benchmark as ``napari-medseg bench --sets dev``,
and each run prints Dice@1 and 3D Dice per prompt type and the selection criterion (mean Dice@1 +
mean 3D Dice). This is how the constants of ``calibration.py``, ``refine.py`` and
``prompt_evidence.py`` were chosen (docs/model-development.md); run it again for new weights::

    python benchmarks/sweep_inference.py --grid calibration.box=0,0.5,1,1.5,2 \\
        --grid calibration.clicks=-2,-1.5,-1,-0.5 --grid calibration.scribbles=-1.5,-1,-0.5 --checkpoint runs/new/builtin.safetensors

The development sets are never evaluation sets (see docs/evaluation.md); ``--dev-set dev-mr`` runs the
MR one. One process, about 20 s per value on 2 cores (10 s on dev-mr).
"""

from __future__ import annotations

import argparse
import time

from napari_medseg.cli.bench import dev_criterion, parse_options
from napari_medseg.evaluation.datasets import DEV_SETS
from napari_medseg.evaluation.run import Bench, BenchConfig, summarize


def parse_grid(item: str) -> tuple[str, list[float]]:
    key, _, values = item.partition("=")
    return key.strip(), [float(v) for v in values.split(",") if v.strip()]


def one_run(options: tuple[tuple[str, float], ...], checkpoint: str | None, dev_set: str = "dev") -> tuple[str, float]:
    config = BenchConfig(sets=(dev_set,), models=("builtin",), checkpoint=checkpoint, builtin_options=options)
    results, _ = Bench(config).run(jobs=1)
    summary = summarize(results, config)
    means = summary["means"][dev_set]
    d1 = {pt: row["builtin"]["dice@1"] for pt, row in means.items()}
    d3 = {pt: row["builtin"]["dice3d"] for pt, row in means.items()}
    cells = " / ".join(f"{d1[pt]:.3f}" for pt in d1) + " | " + " / ".join(f"{d3[pt]:.3f}" for pt in d3)
    return cells, dev_criterion(summary, dev_set)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--grid", action="append", required=True, metavar="GROUP.NAME=V1,V2,...")
    p.add_argument("--set", action="append", default=[], metavar="GROUP.NAME=VALUE",
                   help="held fixed during every run of the sweep")
    p.add_argument("--checkpoint", default=None, help="built-in weights (default: the shipped ones)")
    p.add_argument("--dev-set", default="dev", choices=DEV_SETS,
                   help="dev: CT-like phantoms and synthetic volumes; dev-mr: T1-like brain phantoms")
    args = p.parse_args()
    fixed = parse_options(args.set)
    print("option = value | Dice@1 point / box / scribble / lasso | 3D Dice (same order) | criterion")
    for item in args.grid:
        key, values = parse_grid(item)
        for value in values:
            start = time.perf_counter()
            cells, criterion = one_run(fixed + ((key, value),), args.checkpoint, args.dev_set)
            print(f"{key} = {value:g} | {cells} | {criterion:.4f}   ({time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
