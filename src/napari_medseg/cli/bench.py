"""``napari-medseg bench``: the built-in model against classical baselines, with a simulated user.

Prints the results tables and writes them as markdown (into the results block of ``--out``) and as
JSON with every per-case number. See docs/evaluation.md for the protocol.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time

from napari_medseg.core.prompts import PROMPT_TYPES
from napari_medseg.errors import MedsegError
from napari_medseg.evaluation.datasets import DEV_SETS, SETS
from napari_medseg.evaluation.metrics import NOC_MAX
from napari_medseg.evaluation.run import MODELS

DEFAULT_OUT = "docs/evaluation.md"
DEFAULT_JSON = "benchmarks/eval_results.json"


def _csv(allowed: tuple[str, ...]):
    def parse(text: str) -> list[str]:
        items = [t.strip() for t in text.split(",") if t.strip()]
        bad = [t for t in items if t not in allowed]
        if bad or not items:
            raise argparse.ArgumentTypeError(
                f"unknown {', '.join(bad) or '(empty)'}; choose from {','.join(allowed)}"
            )
        return items

    return parse


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "bench",
        help="benchmark the built-in model against random walker and flood fill with a simulated user",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument(
        "--sets",
        type=_csv((*SETS, *DEV_SETS)),
        default=list(SETS),
        help=f"comma list of {','.join(SETS)} (evaluation), or of {','.join(DEV_SETS)} (development volumes "
        "for choosing weights and options, CT-like and MR-like; never reported as evaluation)",
    )
    parser.add_argument(
        "--models", type=_csv(MODELS), default=list(MODELS), help=f"comma list of {','.join(MODELS)}"
    )
    parser.add_argument(
        "--prompt-types",
        type=_csv(PROMPT_TYPES),
        default=list(PROMPT_TYPES),
        help=f"comma list of {','.join(PROMPT_TYPES)}",
    )
    parser.add_argument(
        "--max-interactions", type=int, default=NOC_MAX, help="interactions per slice (NoC cap)"
    )
    parser.add_argument(
        "--out", default=None, help=f"markdown file whose results block is (re)written (default: {DEFAULT_OUT}, "
        "written by default only by the full evaluation of the shipped model: every evaluation set, model and "
        "prompt type; any other run writes only the files it names)"
    )
    parser.add_argument(
        "--json", default=None, help=f"JSON file with every per-case number (default: {DEFAULT_JSON}, likewise; "
        "naming one of --out / --json writes only that one)"
    )
    parser.add_argument("--no-3d", action="store_true", help="skip the one-slice-plus-propagation 3D Dice")
    parser.add_argument(
        "--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes, one case at a time each"
    )
    parser.add_argument("--quick", action="store_true", help="a few-second smoke run on tiny subsets")
    parser.add_argument(
        "--checkpoint", default=None, help="safetensors weights for the built-in model (default: the shipped ones)"
    )
    parser.add_argument(
        "--builtin-option", action="append", default=[], metavar="GROUP.NAME=VALUE",
        help="an inference-time option of the built-in model, e.g. calibration.box=0.5 or refine.radius=6 "
        "(repeatable; for sweeps on the dev set, see docs/model-development.md)",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the final tables")
    parser.set_defaults(run=run)
    return parser


def parse_options(items: list[str]) -> tuple[tuple[str, float], ...]:
    """``["calibration.box=0.5", ...]`` -> (("calibration.box", 0.5), ...); a bad item -> MedsegError."""
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = None
        if not sep or "." not in key or number is None:
            raise MedsegError(f"--builtin-option '{item}' is not GROUP.NAME=NUMBER (e.g. calibration.box=0.5)")
        out.append((key.strip(), number))
    return tuple(out)


def dev_criterion(summary: dict, set_name: str) -> float:
    """The number weights and inference options are chosen by (fixed before the choices were made)."""
    rows = summary["means"].get(set_name, {})
    d1 = [row["builtin"]["dice@1"] for row in rows.values() if "builtin" in row]
    d3 = [row["builtin"]["dice3d"] for row in rows.values() if "builtin" in row]
    finite3 = [v for v in d3 if v == v]  # --no-3d leaves NaN
    return float(sum(d1) / max(len(d1), 1) + (sum(finite3) / len(finite3) if finite3 else 0.0))


def is_full_run(args: argparse.Namespace) -> bool:
    """Every evaluation set, model and prompt type, the shipped weights and options, the full protocol."""
    return (set(args.sets) == set(SETS) and set(args.models) == set(MODELS)
            and set(args.prompt_types) == set(PROMPT_TYPES) and not args.quick and not args.no_3d
            and args.max_interactions == NOC_MAX and args.checkpoint is None and not args.builtin_option)


def run(args: argparse.Namespace) -> int:
    from napari_medseg.evaluation.report import render_markdown, write_json, write_markdown
    from napari_medseg.evaluation.run import Bench, BenchConfig

    config = BenchConfig(
        sets=args.sets,
        models=args.models,
        prompt_types=args.prompt_types,
        max_interactions=args.max_interactions,
        quick=args.quick,
        with_3d=not args.no_3d,
        checkpoint=args.checkpoint,
        builtin_options=parse_options(args.builtin_option),
    )
    if args.quick:
        config.max_interactions = min(config.max_interactions, 3)
        config.flood_tolerances = (0.05, 0.15)
    log = None if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    start = time.perf_counter()
    try:
        results, summary = Bench(config, log=log).run(jobs=1 if args.quick else max(args.jobs, 1))
    except MemoryError as exc:
        raise MedsegError("out of memory during the benchmark; run fewer --sets at a time") from exc
    seconds = time.perf_counter() - start
    command = (
        "napari-medseg " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        if sys.argv[1:2] == ["bench"]
        else "napari-medseg bench"
    )
    markdown = render_markdown(summary, config, seconds, command)
    print(markdown)
    for dev_set in (s for s in DEV_SETS if s in args.sets and "builtin" in args.models):
        print(f"Development criterion of the built-in model on {dev_set} (mean Dice@1 + mean 3D Dice over the "
              f"prompt types): {dev_criterion(summary, dev_set):.4f}")
    # Only the full evaluation of the model as shipped rewrites the published files by default; any
    # other run (a development set, a subset, other weights or options, a smoke run) writes only the
    # files it names, so that a partial table never stands in docs/ for the whole one.
    if args.out is None and args.json is None and is_full_run(args):
        args.out, args.json = DEFAULT_OUT, DEFAULT_JSON
    if args.out:
        print(f"markdown: {write_markdown(args.out, markdown)}", file=sys.stderr)
    if args.json:
        print(f"json: {write_json(args.json, results, summary, config, seconds)}", file=sys.stderr)
    return 0
