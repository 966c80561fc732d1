"""The JSON prompt file (docs/prompt-format.md): parse, validate, group by key slice.

This is a stable contract for scripted use (``napari-medseg segment``): every malformation is a
:class:`PromptError` with one line naming the object and prompt at fault, raised before any model
runs, so a bad file never costs a computation or a half-written result.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from napari_medseg.core.prompts import (
    PROMPT_TYPES,
    BoxPrompt,
    LassoPrompt,
    PointPrompt,
    Prompt,
    ScribblePrompt,
    SliceRef,
    split_voxel,
    validate_prompt,
)
from napari_medseg.errors import PromptError

DEFAULT_AXIS = 2
DEFAULT_SCRIBBLE_WIDTH = 3.0
MAX_LABEL = 2**31 - 1

_TOP_KEYS = {"axis", "objects"}
_OBJECT_KEYS = {"label", "name", "propagate", "prompts"}
_PROMPT_KEYS = {
    "point": {"type", "voxel", "positive"},
    "box": {"type", "corners", "positive"},
    "scribble": {"type", "voxels", "positive", "width"},
    "lasso": {"type", "voxels", "positive"},
}


@dataclass(frozen=True)
class ObjectPrompts:
    """One object of the file: its label, name, whether to propagate, prompts per key slice."""

    label: int
    name: str | None
    propagate: bool
    interactions: dict[int, list[Prompt]]  # key slice index -> its prompts, in file order

    @property
    def key_slices(self) -> list[int]:
        return sorted(self.interactions)


@dataclass(frozen=True)
class PromptFile:
    """A parsed prompt file: the slicing axis and the objects in file order."""

    axis: int
    objects: list[ObjectPrompts]


def load_prompt_file(path: str | Path, volume_shape: Sequence[int] | None = None) -> PromptFile:
    """Read and validate a prompt file; with ``volume_shape`` every prompt must lie inside the volume."""
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PromptError(f"prompt file not found: {p}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PromptError(f"cannot read prompt file {p}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PromptError(
            f"{p.name} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "see docs/prompt-format.md"
        ) from None
    return parse_prompt_file(data, volume_shape)


def parse_prompt_file(data: Any, volume_shape: Sequence[int] | None = None) -> PromptFile:
    """Validate the decoded JSON of a prompt file and build its prompts."""
    if not isinstance(data, dict):
        raise PromptError(f"a prompt file holds a JSON object with 'objects', got {_json_type(data)}")
    _no_unknown_keys(data, _TOP_KEYS, "the prompt file")
    axis = data.get("axis", DEFAULT_AXIS)
    if not _is_int(axis) or axis not in (0, 1, 2):
        raise PromptError(f"'axis' must be 0, 1 or 2, got {json.dumps(axis)}")
    if "objects" not in data:
        raise PromptError("the prompt file has no 'objects' list; add at least one object")
    objects = data["objects"]
    if not isinstance(objects, list) or not objects:
        raise PromptError(f"'objects' must be a non-empty list, got {_json_type(objects)}")
    return PromptFile(
        int(axis), [_parse_object(i, o, int(axis), volume_shape) for i, o in enumerate(objects)]
    )


def _parse_object(i: int, obj: Any, axis: int, shape: Sequence[int] | None) -> ObjectPrompts:
    where = f"object {i}"
    if not isinstance(obj, dict):
        raise PromptError(f"{where} must be a JSON object, got {_json_type(obj)}")
    _no_unknown_keys(obj, _OBJECT_KEYS, where)
    if "label" not in obj:
        raise PromptError(f"{where} has no 'label'; give a positive integer label id")
    label = obj["label"]
    if not _is_int(label) or not 0 < label <= MAX_LABEL:
        raise PromptError(f"{where}: 'label' must be a positive integer, got {json.dumps(label)}")
    where = f"object {i} (label {label})"
    name = obj.get("name")
    if name is not None and not isinstance(name, str):
        raise PromptError(f"{where}: 'name' must be a string, got {_json_type(name)}")
    propagate = obj.get("propagate", True)
    if not isinstance(propagate, bool):
        raise PromptError(f"{where}: 'propagate' must be true or false, got {json.dumps(propagate)}")
    prompts = obj.get("prompts")
    if not isinstance(prompts, list) or not prompts:
        raise PromptError(f"{where} needs a non-empty 'prompts' list, got {_json_type(prompts)}")
    interactions: dict[int, list[Prompt]] = {}
    for j, raw in enumerate(prompts):
        prompt = _parse_prompt(f"{where}, prompt {j}", raw, axis, shape)
        interactions.setdefault(prompt.slice.index, []).append(prompt)
    return ObjectPrompts(int(label), name, propagate, interactions)


def _parse_prompt(where: str, raw: Any, axis: int, shape: Sequence[int] | None) -> Prompt:
    if not isinstance(raw, dict):
        raise PromptError(f"{where} must be a JSON object, got {_json_type(raw)}")
    kind = raw.get("type")
    if kind not in PROMPT_TYPES:
        raise PromptError(
            f"{where}: unknown prompt type {json.dumps(kind)}; use one of {', '.join(PROMPT_TYPES)}"
        )
    where = f"{where} ({kind})"
    _no_unknown_keys(raw, _PROMPT_KEYS[kind], where)
    positive = raw.get("positive", True)
    if not isinstance(positive, bool):
        raise PromptError(f"{where}: 'positive' must be true or false, got {json.dumps(positive)}")
    field = {"point": "voxel", "box": "corners"}.get(kind, "voxels")
    if field not in raw:
        raise PromptError(f"{where} has no '{field}'")
    if kind == "point":
        voxels = [_voxel(where, raw[field])]
    else:
        voxels = _voxel_list(where, raw[field], field)
    index, plane = _on_one_slice(where, voxels, axis, kind)
    ref = SliceRef(axis, index)
    if kind == "point":
        prompt: Prompt = PointPrompt(ref, plane[0], positive)
    elif kind == "box":
        if len(plane) != 2:
            raise PromptError(f"{where}: 'corners' must hold exactly 2 voxels, got {len(plane)}")
        prompt = BoxPrompt(ref, plane[0], plane[1], positive)
    elif kind == "scribble":
        width = raw.get("width", DEFAULT_SCRIBBLE_WIDTH)
        if not _is_number(width) or not width > 0:
            raise PromptError(
                f"{where}: 'width' must be a positive number of voxels, got {json.dumps(width)}"
            )
        prompt = ScribblePrompt(ref, tuple(plane), positive, float(width))
    else:
        prompt = LassoPrompt(ref, tuple(plane), positive)
    if shape is not None:
        try:
            validate_prompt(prompt, shape)
        except PromptError as exc:
            raise PromptError(f"{where}: {exc}") from None
    return prompt


def _on_one_slice(
    where: str, voxels: list[list[float]], axis: int, kind: str
) -> tuple[int, list[tuple[float, float]]]:
    """The slice index (coordinate along ``axis``, rounded) shared by all voxels, and plane coords."""
    split = [split_voxel(v, axis) for v in voxels]
    indices = sorted({int(round(pos)) for pos, _ in split})
    if len(indices) > 1:
        what = "the two corners of the box" if kind == "box" else f"the voxels of the {kind}"
        raise PromptError(
            f"{where}: {what} lie on different slices {indices} of axis {axis}; "
            "a prompt must lie on one slice"
        )
    return indices[0], [rc for _, rc in split]


def _voxel(where: str, value: Any) -> list[float]:
    if not isinstance(value, list) or len(value) != 3 or not all(_is_number(v) for v in value):
        raise PromptError(
            f"{where}: a voxel is a list of 3 finite numbers [i, j, k], got {json.dumps(value)}"
        )
    return [float(v) for v in value]


def _voxel_list(where: str, value: Any, field: str) -> list[list[float]]:
    if not isinstance(value, list) or not value:
        raise PromptError(f"{where}: '{field}' must be a non-empty list of voxels [i, j, k]")
    return [_voxel(where, v) for v in value]


def _no_unknown_keys(obj: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise PromptError(
            f"{where} has unknown field(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(sorted(allowed))}"
        )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list"}.get(
        type(value), "an object"
    )
