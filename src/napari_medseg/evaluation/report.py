"""The benchmark's outputs: a printable/markdown results table and a JSON file with every number."""

from __future__ import annotations

import json
import math
import os
import platform
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from napari_medseg.core.volume_io import atomic_path
from napari_medseg.errors import VolumeWriteError
from napari_medseg.evaluation.run import BenchConfig, CaseResult

HEADER = ("Prompt", "Model", "Dice@1", "Dice@3", "Dice@5", "NoC@85", "NoC@90", "3D Dice", "3D slices beyond / missed")
SET_TITLES = {
    "sample": "Bundled CT phantom (`load_sample()`), one case per structure",
    "synthetic": "Synthetic 3D test volumes (`evaluation/datasets.py`, not the training generator)",
    "mni": "MNI152 2009a T1 template (nilearn), brain / white matter / grey matter",
    "radiomics": "Real CT and MR tumours (pyradiomics' test volumes): lung 1-2 (CT), brain 1-2 and breast (MR)",
    "totalseg": "A real abdominal CT at 3 mm, references by TotalSegmentator (its test example), 10 structures",
    "dev": "DEVELOPMENT volumes (phantom seeds 7, 8; synthetic seeds 99, 98): for choosing weights, not evaluation",
    "dev-mr": "MR DEVELOPMENT volumes (T1-like brain phantoms, seeds 3, 4): for choosing weights, not evaluation",
    "dev-mr-folded": "MR DEVELOPMENT volumes (a folded brain phantom, seed 5; two averages of 8 folded brains, seeds 6, 7): for choosing weights, not evaluation",
}


def _fmt(value: float, digits: int = 3) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def results_tables(summary: dict) -> str:
    """One markdown table per set: mean over its cases, per prompt type and model; the best value of
    each column within a prompt type is bold."""
    parts = []
    for set_name, per_type in summary["means"].items():
        first = next(iter(per_type.values()))
        n_cases = next(iter(first.values()))["cases"]
        parts.append(f"### {SET_TITLES.get(set_name, set_name)} ({n_cases} cases)\n")
        parts.append("| " + " | ".join(HEADER) + " |")
        parts.append("|" + "|".join(["---"] * 2 + ["---:"] * (len(HEADER) - 2)) + "|")
        for prompt_type, row in per_type.items():
            best = {}
            for key, higher in (("dice@1", 1), ("dice@3", 1), ("dice@5", 1), ("noc@85", -1), ("noc@90", -1), ("dice3d", 1)):
                values = [higher * r[key] for r in row.values() if math.isfinite(r[key])]
                best[key] = higher * max(values) if values else None
            for model, r in row.items():
                cells = [prompt_type, model]
                for key, digits in (("dice@1", 3), ("dice@3", 3), ("dice@5", 3), ("noc@85", 1), ("noc@90", 1), ("dice3d", 3)):
                    text = _fmt(r[key], digits)
                    cells.append(f"**{text}**" if best[key] is not None and r[key] == best[key] and len(row) > 1 else text)
                cells.append(f"{_fmt(r.get('slices_beyond', float('nan')), 1)} / {_fmt(r.get('slices_missed', float('nan')), 1)}")
                parts.append("| " + " | ".join(cells) + " |")
        parts.append("")
    parts.append(
        "Means over cases. NoC: interactions to reach that Dice (20 if never). 3D: one interaction on the "
        "largest slice, commit, propagate; *slices beyond* = slices labelled where the structure is absent "
        "(the walk did not stop), *missed* = slices of the structure left empty. Best per prompt type in bold."
    )
    parts.append("")
    return "\n".join(parts)


def targets_section(summary: dict) -> str:
    t = summary["targets"]
    lines = ["| Set / prompt | builtin beats both at 1 | builtin beats both at 5 |", "|---|---|---|"]
    for key, entry in t["builtin_beats_baselines"].items():
        lines.append(f"| {key} | {'yes' if entry['dice@1'] else 'NO'} | {'yes' if entry['dice@5'] else 'NO'} |")
    if not t["builtin_beats_baselines"]:
        lines.append("| (builtin and a baseline were not both run) | | |")
    lines.append("")
    lines.append(f"Builtin better than both baselines everywhere at 1 and 5 interactions: "
                 f"**{'yes' if t['all_beaten_at_1_and_5'] else 'no'}**.")
    if t["sample_3d_dice"]:
        lines.append("")
        lines.append("3D Dice of the builtin model on the bundled sample (one prompted slice + propagation), target >= 0.90:")
        lines.append("")
        lines.append("| Structure / first prompt | 3D Dice | >= 0.90 |")
        lines.append("|---|---:|---|")
        for key, value in t["sample_3d_dice"].items():
            lines.append(f"| {key} | {value:.3f} | {'yes' if value >= 0.90 else 'NO'} |")
        lines.append("")
        lines.append(f"All at least 0.90: **{'yes' if t['sample_3d_dice_all_at_least_0.90'] else 'no'}**.")
    return "\n".join(lines) + "\n"


def render_markdown(summary: dict, config: BenchConfig, seconds: float, command: str) -> str:
    return "\n".join(
        [
            "<!-- results: written by `napari-medseg bench`; do not edit by hand -->",
            f"Command: `{command}` — {seconds:.0f} s on {os.cpu_count()} CPU cores ({platform.machine()}), "
            f"max {config.max_interactions} interactions{', QUICK smoke run' if config.quick else ''}.",
            "",
            "Models: " + "; ".join(f"{name} = `{ident}`" for name, ident in summary.get("models", {}).items()) + ".",
            "",
            results_tables(summary),
            "#### Targets (issue #3)",
            "",
            targets_section(summary),
        ]
    )


def write_markdown(path: str | Path, results_md: str) -> Path:
    """Write the results into ``path``; an existing document keeps its text outside the results block
    (between ``<!-- results:begin -->`` and ``<!-- results:end -->``)."""
    path = Path(path)
    block = f"<!-- results:begin -->\n{results_md}\n<!-- results:end -->\n"
    if path.is_file():
        text = path.read_text(encoding="utf-8")
        begin, end = text.find("<!-- results:begin -->"), text.find("<!-- results:end -->")
        if 0 <= begin < end:
            text = text[:begin] + block + text[end + len("<!-- results:end -->") :].lstrip("\n")
        else:
            text = text.rstrip("\n") + "\n\n" + block
    else:
        text = "# Evaluation results\n\n" + block
    return _atomic_write(path, text)


def write_json(path: str | Path, results: Sequence[CaseResult], summary: dict, config: BenchConfig, seconds: float) -> Path:
    payload = {
        "config": {k: list(v) if isinstance(v, tuple | list) else v for k, v in asdict(config).items()},
        "seconds": round(seconds, 1),
        "summary": summary,
        "cases": [asdict(r) for r in results],
    }
    return _atomic_write(Path(path), json.dumps(_no_nan(payload), indent=1, allow_nan=False) + "\n")


def _no_nan(value):
    """NaN (a metric that was not measured) as JSON null, so every JSON reader accepts the file."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_no_nan(v) for v in value]
    return value


def _atomic_write(path: Path, text: str) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            Path(tmp).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise VolumeWriteError(f"cannot write {path}: {exc.strerror or exc}; choose a writable path") from exc
    return path
