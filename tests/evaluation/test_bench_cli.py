"""`napari-medseg bench --quick` runs the real built-in model and both baselines end to end."""

from __future__ import annotations

import json

import numpy as np

from napari_medseg.cli import main
from napari_medseg.evaluation.datasets import Case, crop_case, synthetic_volume
from napari_medseg.evaluation.report import write_markdown


def test_quick_bench_writes_markdown_and_json(tmp_path, capsys):
    out, js = tmp_path / "docs" / "evaluation.md", tmp_path / "results.json"
    code = main(
        ["bench", "--quick", "--sets", "synthetic", "--prompt-types", "point,box", "--out", str(out), "--json", str(js), "--quiet"]
    )
    assert code == 0
    text = out.read_text()
    assert "<!-- results:begin -->" in text and "| point | builtin |" in text and "| box | flood |" in text
    data = json.loads(js.read_text())
    models = {c["model"] for c in data["cases"]}
    assert models == {"builtin", "random_walker", "flood"}
    for c in data["cases"]:
        assert 0.0 <= c["metrics"]["dice@1"] <= 1.0 and 0.0 <= c["metrics"]["dice3d"] <= 1.0
        assert 1 <= c["metrics"]["noc@90"] <= 3 and len(c["curve"]) >= 1
    flood = [c for c in data["cases"] if c["model"] == "flood"]
    assert all(c["flood_tolerance"] in (0.05, 0.15) for c in flood)
    assert set(data["summary"]["targets"]["builtin_beats_baselines"]) == {"synthetic/point", "synthetic/box"}
    assert "Dice@1" in capsys.readouterr().out


def test_bad_choice_exits_2_with_one_line(capsys):
    try:
        main(["bench", "--sets", "imagenet"])
    except SystemExit as exc:
        assert exc.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "imagenet" in err[0]


def test_markdown_keeps_the_text_around_the_results_block(tmp_path):
    doc = tmp_path / "evaluation.md"
    doc.write_text("# Evaluation\n\nintro\n\n<!-- results:begin -->\nold\n<!-- results:end -->\n\n## After\ntail\n")
    write_markdown(doc, "NEW TABLE")
    text = doc.read_text()
    assert "intro" in text and "## After\ntail" in text and "NEW TABLE" in text and "old" not in text


def test_synthetic_generator_is_deterministic_and_crop_keeps_the_structure():
    a_img, a_lab, names = synthetic_volume(3, (40, 40, 12))
    b_img, b_lab, _ = synthetic_volume(3, (40, 40, 12))
    assert np.array_equal(a_img, b_img) and np.array_equal(a_lab, b_lab)
    assert set(np.unique(a_lab)) - {0} <= set(names)
    case = Case("synthetic", "v", "blob", a_img, a_lab == 3)
    small = crop_case(case, margin=2, half_depth=2)
    assert small.reference.sum() > 0 and small.reference.shape[2] <= 5
    assert small.image.shape == small.reference.shape
