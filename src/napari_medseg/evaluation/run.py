"""Run the benchmark: every model, every prompt type, every case, through the real session.

For each case (one structure of one volume) and prompt type:

* 2D: on the slice where the reference is largest, the simulated user gives one interaction at a time
  through ``Session.add_prompts`` (prompts accumulate on the slice, as in the widget) until Dice reaches
  0.90 after at least 5 interactions, or ``max_interactions``; the Dice curve gives Dice@1/3/5 and
  NoC@85/90 (an interaction with nothing left to correct keeps the mask).
* 3D: a fresh label gets the FIRST interaction of that prompt type on the same slice, is committed and
  propagated through the volume with the session's default options; 3D Dice against the reference.

The flood baseline is run with every tolerance of a grid and keeps, per case and prompt type, the best
one by the mean of its 2D Dice curve, and separately the best for the 3D Dice: an oracle that favours
the baseline.
"""

from __future__ import annotations

import functools
import multiprocessing
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from napari_medseg.core.cache import EmbeddingCache
from napari_medseg.core.prompts import PROMPT_TYPES, SliceRef
from napari_medseg.core.session import Session
from napari_medseg.errors import MedsegError
from napari_medseg.evaluation.baselines import FloodModel, RandomWalkerModel
from napari_medseg.evaluation.datasets import DEV_SETS, SETS, Case, load_cases
from napari_medseg.evaluation.metrics import NOC_MAX, dice, mean_of, summarize_curve
from napari_medseg.evaluation.simulate import SimulatedUser
from napari_medseg.models.protocol import PromptableModel

MODELS = ("builtin", "random_walker", "flood")
FLOOD_TOLERANCES = (0.03, 0.06, 0.1, 0.15, 0.25)
METRICS = ("dice@1", "dice@3", "dice@5", "noc@85", "noc@90", "dice3d", "slices_beyond", "slices_missed")
MIN_INTERACTIONS = 5  # Dice@5 is reported, so every curve runs at least this far
STOP_DICE = 0.90


@dataclass
class BenchConfig:
    sets: Sequence[str] = SETS
    models: Sequence[str] = MODELS
    prompt_types: Sequence[str] = PROMPT_TYPES
    max_interactions: int = NOC_MAX
    quick: bool = False
    flood_tolerances: Sequence[float] = FLOOD_TOLERANCES
    with_3d: bool = True
    checkpoint: str | None = None  # other weights for the built-in model (e.g. a training run's)
    # inference-time options of the built-in model, e.g. (("calibration.box", 0.5),): for sweeps on dev
    builtin_options: tuple[tuple[str, float], ...] = ()

    def validate(self) -> None:
        for name, chosen, allowed in (
            ("set", self.sets, (*SETS, *DEV_SETS)),
            ("model", self.models, MODELS),
            ("prompt type", self.prompt_types, PROMPT_TYPES),
        ):
            bad = [c for c in chosen if c not in allowed]
            if bad or not chosen:
                raise MedsegError(f"unknown {name} {', '.join(bad) or '(none)'}; choose from {', '.join(allowed)}")
        if self.builtin_options and "builtin" not in self.models:
            raise MedsegError("built-in model options were given but the built-in model is not benchmarked; add --models builtin")
        if not 1 <= self.max_interactions <= 100:
            raise MedsegError(f"--max-interactions must lie in 1..100, got {self.max_interactions}")


@dataclass
class CaseResult:
    set_name: str
    case: str
    model: str
    prompt_type: str
    slice_index: int
    curve: list[float]
    metrics: dict[str, float]
    seconds: float
    flood_tolerance: float | None = None
    flood_tolerance_3d: float | None = None


def make_model(name: str, checkpoint: str | None = None,
               options: Sequence[tuple[str, float]] = ()) -> PromptableModel:
    """The benchmark's models: the product's built-in model (its shipped weights, or ``checkpoint``;
    ``options`` set its inference-time steps) and the two classical baselines."""
    if name == "random_walker":
        return RandomWalkerModel()
    if name == "flood":
        return FloodModel()
    from napari_medseg.models.registry import load_model

    model = load_model(name, checkpoint=checkpoint)
    if options:
        model.configure(dict(options))  # type: ignore[attr-defined]
    return model


def user_seed(case: Case, prompt_type: str) -> int:
    """A fixed seed per case and prompt type: every model meets exactly the same user."""
    return zlib.crc32(f"{case.name}|{prompt_type}".encode())


def interactive_curve(session: Session, case: Case, prompt_type: str, index: int, max_interactions: int) -> list[float]:
    """Dice after each interaction of the simulated user on one slice."""
    ref = SliceRef(case.axis, index)
    reference = np.take(case.reference, index, axis=case.axis)
    user = SimulatedUser(prompt_type, ref, seed=user_seed(case, prompt_type))
    session.clear_preview()
    mask: np.ndarray | None = None
    curve: list[float] = []
    for k in range(1, max_interactions + 1):
        prompts = user.next_interaction(reference, mask)
        if not prompts:  # nothing left to correct: the mask stays as it is
            break
        mask = session.add_prompts(prompts).mask
        curve.append(dice(mask, reference))
        if k >= min(MIN_INTERACTIONS, max_interactions) and curve[-1] >= STOP_DICE:
            break
    session.clear_preview()
    return curve


def propagated_dice(session: Session, case: Case, prompt_type: str, index: int, label_id: int = 1) -> float:
    """3D Dice after ONE interaction on the key slice, a commit and the session's propagation."""
    return propagated(session, case, prompt_type, index, label_id)["dice3d"]


def propagated(session: Session, case: Case, prompt_type: str, index: int, label_id: int = 1) -> dict[str, float]:
    """3D Dice after one interaction + commit + propagation, and where the label went wrong: slices
    labelled beyond the structure (the walk did not stop) and slices of the structure left empty."""
    reference = np.take(case.reference, index, axis=case.axis)
    user = SimulatedUser(prompt_type, SliceRef(case.axis, index), seed=user_seed(case, prompt_type))
    session.labels[...] = 0
    session.clear_preview()
    session.add_prompts(user.next_interaction(reference, None), label_id=label_id)
    if session.commit(label_id) > 0:  # an empty first mask has nothing to propagate: 3D Dice 0
        session.propagate(label_id)
    labelled = session.labels == label_id
    others = tuple(a for a in range(3) if a != case.axis)
    on_pred, on_ref = labelled.any(axis=others), case.reference.any(axis=others)
    result = {
        "dice3d": dice(labelled, case.reference),
        "slices_beyond": float(np.sum(on_pred & ~on_ref)),
        "slices_missed": float(np.sum(on_ref & ~on_pred)),
    }
    session.labels[...] = 0
    return result


class Bench:
    """Holds one embedding cache per (volume, model), so structures of a volume share encodings."""

    def __init__(self, config: BenchConfig, log: Callable[[str], None] | None = None) -> None:
        config.validate()
        self.config = config
        self.log = log or _silent
        self._caches: dict[tuple[int, str], EmbeddingCache] = {}

    def session(self, case: Case, model: PromptableModel) -> Session:
        key = (id(case.image), model.identity)
        cache = self._caches.setdefault(key, EmbeddingCache(max_bytes=1024**3))
        return Session(case.volume(), model, preset=case.preset, cache=cache, axis=case.axis)

    def run_case(self, case: Case, model_name: str, model: PromptableModel, prompt_type: str) -> CaseResult:
        start = time.perf_counter()
        index = case.key_slice()
        session = self.session(case, model)
        cfg = self.config
        tolerances: list[float | None] = list(cfg.flood_tolerances) if isinstance(model, FloodModel) else [None]
        best: tuple[float, list[float], float | None] | None = None
        for tol in tolerances:
            if tol is not None:
                model.tolerance = tol  # type: ignore[attr-defined]
            curve = interactive_curve(session, case, prompt_type, index, cfg.max_interactions)
            padded = curve + [curve[-1]] * (cfg.max_interactions - len(curve))
            score = float(np.mean(padded))
            if best is None or score > best[0]:
                best = (score, curve, tol)
        assert best is not None
        metrics = summarize_curve(best[1], cfg.max_interactions)
        metrics["dice3d"] = float("nan")
        best3d: float | None = None
        if cfg.with_3d:
            scores: list[tuple[dict[str, float], float | None]] = []
            for tol in tolerances:  # the oracle again, for the one-slice-plus-propagation 3D Dice
                if tol is not None:
                    model.tolerance = tol  # type: ignore[attr-defined]
                scores.append((propagated(session, case, prompt_type, index), tol))
            found, best3d = max(scores, key=lambda st: st[0]["dice3d"])
            metrics.update(found)
        result = CaseResult(
            case.set_name, case.name, model_name, prompt_type, index, [round(v, 4) for v in best[1]], metrics,
            round(time.perf_counter() - start, 2),
        )
        if isinstance(model, FloodModel):
            result.flood_tolerance, result.flood_tolerance_3d = best[2], best3d
        return result

    def run_one(self, case: Case, models: dict[str, PromptableModel]) -> list[CaseResult]:
        """Every prompt type and model on one case."""
        results = []
        for prompt_type in self.config.prompt_types:
            for name, model in models.items():
                r = self.run_case(case, name, model, prompt_type)
                results.append(r)
                self.log(
                    f"  {case.name:38s} {prompt_type:8s} {name:13s} Dice@1 {r.metrics['dice@1']:.3f} "
                    f"@5 {r.metrics['dice@5']:.3f} NoC90 {r.metrics['noc@90']:4.1f} "
                    f"3D {r.metrics['dice3d']:.3f}  ({r.seconds:.1f}s)"
                )
        self._caches.clear()
        return results

    def run(self, jobs: int = 1) -> tuple[list[CaseResult], dict]:
        """All sets; with ``jobs`` > 1 the cases run in that many worker processes (same results)."""
        cfg = self.config
        models = _models(tuple(cfg.models), cfg.checkpoint, tuple(cfg.builtin_options))
        tasks: list[tuple[str, int]] = []
        for set_name in cfg.sets:
            cases = _cases(set_name, cfg.quick)
            self.log(f"[{set_name}] {len(cases)} cases: {', '.join(c.name for c in cases)}")
            tasks += [(set_name, i) for i in range(len(cases))]
        results: list[CaseResult] = []
        if jobs <= 1 or len(tasks) <= 1:
            for set_name, i in tasks:
                results += self.run_one(_cases(set_name, cfg.quick)[i], models)
        else:
            verbose = self.log is not _silent
            context = multiprocessing.get_context("spawn")  # no fork after torch started its threads
            with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
                futures = [pool.submit(_case_task, cfg, set_name, i, verbose) for set_name, i in tasks]
                for future in futures:
                    results += future.result()
        summary = summarize(results, cfg)
        summary["models"] = {name: model.identity for name, model in models.items()}
        if cfg.builtin_options and "builtin" in summary["models"]:
            summary["models"]["builtin"] += " with " + ", ".join(f"{k}={v:g}" for k, v in cfg.builtin_options)
        return results, summary


def _silent(_msg: str) -> None:
    pass


@functools.cache
def _cases(set_name: str, quick: bool) -> list[Case]:
    return load_cases(set_name, quick=quick)


@functools.cache
def _models(names: tuple[str, ...], checkpoint: str | None,
            options: tuple[tuple[str, float], ...] = ()) -> dict[str, PromptableModel]:
    return {
        name: make_model(name, checkpoint, options) if name == "builtin" else make_model(name) for name in names
    }


def _case_task(config: BenchConfig, set_name: str, index: int, verbose: bool) -> list[CaseResult]:
    """One case in a worker process (cases and models are loaded once per worker)."""
    log = (lambda msg: print(msg, file=sys.stderr, flush=True)) if verbose else None
    bench = Bench(config, log=log)
    models = _models(tuple(config.models), config.checkpoint, tuple(config.builtin_options))
    return bench.run_one(_cases(set_name, config.quick)[index], models)


def summarize(results: Sequence[CaseResult], config: BenchConfig) -> dict:
    """Means over cases per set, prompt type and model, and the targets of issue #3."""
    table: dict = {}
    for r in results:
        table.setdefault(r.set_name, {}).setdefault(r.prompt_type, {}).setdefault(r.model, []).append(r.metrics)
    summary: dict = {}
    for set_name, per_type in table.items():
        summary[set_name] = {}
        for prompt_type, per_model in per_type.items():
            row = {m: {k: mean_of(rows, k) for k in METRICS} | {"cases": len(rows)} for m, rows in per_model.items()}
            summary[set_name][prompt_type] = row
    return {"means": summary, "targets": targets(summary, results)}


def targets(summary: dict, results: Sequence[CaseResult]) -> dict:
    """Does the built-in model beat both baselines at 1 and 5 interactions (per set and prompt type),
    and reach 3D Dice >= 0.90 on every structure of the bundled sample?"""
    beats: dict = {}
    for set_name, per_type in summary.items():
        for prompt_type, row in per_type.items():
            if "builtin" not in row:
                continue
            others = [m for m in ("random_walker", "flood") if m in row]
            if not others:
                continue
            entry = {}
            for k in ("dice@1", "dice@5"):
                entry[k] = bool(all(row["builtin"][k] > row[m][k] for m in others))
            beats[f"{set_name}/{prompt_type}"] = entry
    sample3d = {
        f"{r.case}/{r.prompt_type}": r.metrics["dice3d"]
        for r in results
        if r.set_name == "sample" and r.model == "builtin" and np.isfinite(r.metrics["dice3d"])
    }
    return {
        "builtin_beats_baselines": beats,
        "all_beaten_at_1_and_5": bool(beats) and all(all(v.values()) for v in beats.values()),
        "sample_3d_dice": sample3d,
        "sample_3d_dice_all_at_least_0.90": bool(sample3d) and all(v >= 0.90 for v in sample3d.values()),
    }
