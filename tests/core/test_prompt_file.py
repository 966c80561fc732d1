"""The JSON prompt file: the documented example parses; every malformation is one PromptError line."""

from __future__ import annotations

import json

import pytest

from napari_medseg.core.prompt_file import load_prompt_file, parse_prompt_file
from napari_medseg.core.prompts import BoxPrompt, LassoPrompt, PointPrompt, ScribblePrompt, SliceRef
from napari_medseg.errors import PromptError

SHAPE = (200, 160, 60)

EXAMPLE = {
    "axis": 2,
    "objects": [
        {
            "label": 1,
            "name": "liver",
            "propagate": True,
            "prompts": [
                {"type": "point", "voxel": [120, 96, 40], "positive": True},
                {"type": "box", "corners": [[100, 80, 40], [150, 130, 40]]},
                {
                    "type": "scribble",
                    "voxels": [[110, 90, 40], [115, 95, 40], [118, 99, 40]],
                    "positive": False,
                },
                {"type": "lasso", "voxels": [[100, 80, 40], [150, 82, 40], [148, 130, 40], [102, 128, 40]]},
            ],
        }
    ],
}


def write(tmp_path, data, name="prompts.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_the_documented_example_round_trips_through_a_file(tmp_path):
    pf = load_prompt_file(write(tmp_path, EXAMPLE), SHAPE)
    assert pf.axis == 2 and len(pf.objects) == 1
    obj = pf.objects[0]
    assert (obj.label, obj.name, obj.propagate, obj.key_slices) == (1, "liver", True, [40])
    ref = SliceRef(2, 40)
    point, box, scribble, lasso = obj.interactions[40]
    assert point == PointPrompt(ref, (120.0, 96.0), True)
    assert box == BoxPrompt(ref, (100.0, 80.0), (150.0, 130.0), True)
    assert scribble == ScribblePrompt(ref, ((110.0, 90.0), (115.0, 95.0), (118.0, 99.0)), False, 3.0)
    assert isinstance(lasso, LassoPrompt) and lasso.vertices[2] == (148.0, 130.0) and lasso.positive


def test_defaults_key_slices_axis_and_rounding():
    data = {
        "objects": [
            {
                "label": 2,
                "prompts": [{"type": "point", "voxel": [5, 6, 7.4]}, {"type": "point", "voxel": [5, 6, 3]}],
            },
            {
                "label": 1,
                "propagate": False,
                "prompts": [{"type": "scribble", "voxels": [[1, 2.5, 6.6], [3, 4, 7.2]], "width": 5}],
            },
        ]
    }
    pf = parse_prompt_file(data, SHAPE)
    assert pf.axis == 2
    first, second = pf.objects
    assert first.name is None and first.propagate is True
    assert list(first.interactions) == [7, 3] and first.key_slices == [3, 7], "file order kept, sorted view"
    assert first.interactions[7][0].positive is True
    assert second.propagate is False and second.interactions[7][0].width == 5.0
    along0 = parse_prompt_file(
        {"axis": 0, "objects": [{"label": 1, "prompts": [{"type": "point", "voxel": [9, 4, 5]}]}]}
    )
    assert along0.objects[0].interactions[9][0] == PointPrompt(SliceRef(0, 9), (4.0, 5.0))


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ([1, 2], "JSON object"),
        ({"objects": []}, "non-empty"),
        ({"axis": 2}, "objects"),
        ({"axis": 3, "objects": EXAMPLE["objects"]}, "'axis' must be 0, 1 or 2"),
        ({"axis": "2", "objects": EXAMPLE["objects"]}, "'axis'"),
        ({"objects": EXAMPLE["objects"], "extra": 1}, "unknown field"),
        ({"objects": [{"prompts": [{"type": "point", "voxel": [1, 1, 1]}]}]}, "object 0 has no 'label'"),
        (
            {"objects": [{"label": 0, "prompts": [{"type": "point", "voxel": [1, 1, 1]}]}]},
            "object 0: 'label'",
        ),
        (
            {"objects": [{"label": 1.5, "prompts": [{"type": "point", "voxel": [1, 1, 1]}]}]},
            "positive integer",
        ),
        (
            {"objects": [{"label": True, "prompts": [{"type": "point", "voxel": [1, 1, 1]}]}]},
            "positive integer",
        ),
        (
            {"objects": [{"label": 1, "name": 3, "prompts": [{"type": "point", "voxel": [1, 1, 1]}]}]},
            "'name'",
        ),
        (
            {
                "objects": [
                    {"label": 1, "propagate": "yes", "prompts": [{"type": "point", "voxel": [1, 1, 1]}]}
                ]
            },
            "'propagate'",
        ),
        ({"objects": [{"label": 1, "prompts": []}]}, "object 0 (label 1) needs a non-empty 'prompts'"),
        (
            {"objects": [{"label": 1, "prompts": [{"type": "circle", "voxel": [1, 1, 1]}]}]},
            "prompt 0: unknown prompt type",
        ),
        ({"objects": [{"label": 1, "prompts": [{"type": "point"}]}]}, "has no 'voxel'"),
        ({"objects": [{"label": 1, "prompts": [{"type": "point", "voxel": [1, 1]}]}]}, "3 finite numbers"),
        (
            {"objects": [{"label": 1, "prompts": [{"type": "point", "voxel": [1, "a", 1]}]}]},
            "3 finite numbers",
        ),
        (
            {"objects": [{"label": 1, "prompts": [{"type": "point", "voxel": [1, 1, 1], "positive": 1}]}]},
            "'positive'",
        ),
        (
            {"objects": [{"label": 1, "prompts": [{"type": "point", "voxel": [1, 1, 1], "postive": False}]}]},
            "'postive'",
        ),
        (
            {"objects": [{"label": 1, "prompts": [{"type": "box", "corners": [[1, 1, 4], [9, 9, 5]]}]}]},
            "the two corners of the box lie on different slices [4, 5]",
        ),
        ({"objects": [{"label": 1, "prompts": [{"type": "box", "corners": [[1, 1, 4]]}]}]}, "exactly 2"),
        (
            {
                "objects": [
                    {"label": 1, "prompts": [{"type": "lasso", "voxels": [[1, 1, 4], [9, 1, 4], [5, 9, 6]]}]}
                ]
            },
            "different slices",
        ),
        ({"objects": [{"label": 1, "prompts": [{"type": "scribble", "voxels": []}]}]}, "non-empty list"),
        (
            {"objects": [{"label": 1, "prompts": [{"type": "scribble", "voxels": [[1, 1, 1]], "width": 0}]}]},
            "'width'",
        ),
        (
            {"objects": [{"label": 1, "prompts": [{"type": "point", "voxel": [250, 1, 1]}]}]},
            "outside the slice",
        ),
        (
            {"objects": [{"label": 1, "prompts": [{"type": "point", "voxel": [1, 1, 60]}]}]},
            "outside the volume",
        ),
        (
            {"objects": [{"label": 1, "prompts": [{"type": "point", "voxel": [1, 1, -1]}]}]},
            "outside the volume",
        ),
        (
            {"objects": [{"label": 1, "prompts": [{"type": "lasso", "voxels": [[1, 1, 4], [9, 1, 4]]}]}]},
            "at least 3",
        ),
        (
            {"objects": [{"label": 1, "prompts": [{"type": "box", "corners": [[1, 1, 4], [1, 9, 4]]}]}]},
            "degenerate",
        ),
    ],
)
def test_every_malformation_is_one_line_naming_where(data, needle):
    with pytest.raises(PromptError) as err:
        parse_prompt_file(data, SHAPE)
    message = str(err.value)
    assert needle in message and "\n" not in message


def test_the_failing_object_and_prompt_are_named():
    data = json.loads(json.dumps(EXAMPLE))
    data["objects"].append({"label": 4, "prompts": [{"type": "point", "voxel": [1, 1, 1]}, {"type": "box"}]})
    with pytest.raises(PromptError, match=r"^object 1 \(label 4\), prompt 1 \(box\) has no 'corners'$"):
        parse_prompt_file(data, SHAPE)


def test_unreadable_and_non_json_files(tmp_path):
    with pytest.raises(PromptError, match="not found"):
        load_prompt_file(tmp_path / "missing.json")
    with pytest.raises(PromptError, match=r"not valid JSON \(line 1"):
        load_prompt_file(write(tmp_path, "{'axis': 2"))
    with pytest.raises(PromptError, match="finite"):
        load_prompt_file(
            write(
                tmp_path, '{"objects": [{"label": 1, "prompts": [{"type": "point", "voxel": [NaN, 1, 1]}]}]}'
            )
        )
