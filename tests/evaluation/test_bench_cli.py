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


def test_dev_set_differs_from_the_evaluation_volumes():
    from napari_medseg.evaluation.datasets import DEV_SET, load_cases, sample_cases, synthetic_cases

    dev = load_cases(DEV_SET)
    assert {c.set_name for c in dev} == {DEV_SET} and len(dev) >= 8
    evaluation_images = [c.image for c in sample_cases()[:1] + synthetic_cases()[:1]]
    for case in dev:
        assert case.reference.any()
        assert all(case.image.shape != im.shape or not np.array_equal(case.image, im) for im in evaluation_images)


def test_mr_dev_set_is_a_nested_t1_like_brain_and_not_the_mni_template():
    from napari_medseg.evaluation.datasets import DEV_MR_SET, load_cases
    from napari_medseg.evaluation.mr_phantom import CSF, GREY, WHITE, brain_labels, brain_phantom

    image, labels, names = brain_phantom(3)
    again, _, _ = brain_phantom(3)
    assert np.array_equal(image, again) and not np.array_equal(image, brain_phantom(4)[0])  # seeded
    refs = brain_labels(labels)
    assert set(refs) == {"brain", "white matter", "grey matter", "ventricles"} and set(names) == {1, 2, 3}
    for part in ("white matter", "grey matter", "ventricles"):
        assert refs[part].any() and not (refs[part] & ~refs["brain"]).any()  # nested inside the brain
    # T1 contrast: white brighter than grey, CSF darkest, the background empty (skull-stripped)
    mean = {k: float(image[refs[k]].mean()) for k in refs}
    assert mean["white matter"] > mean["grey matter"] > mean["ventricles"]
    assert abs(mean["white matter"] - WHITE) < 0.1 and abs(mean["grey matter"] - GREY) < 0.1 and CSF < GREY
    assert float(image[~refs["brain"]].mean()) < 0.05
    cases = load_cases(DEV_MR_SET)
    assert len(cases) == 8 and {c.set_name for c in cases} == {DEV_MR_SET} and {c.preset for c in cases} == {"mr"}


def test_checkpoint_option_evaluates_other_weights_and_dev_runs_write_no_published_files(tmp_path, monkeypatch, capsys):
    import torch

    from napari_medseg.evaluation import datasets
    from napari_medseg.models.builtin.network import PromptableUNet
    from napari_medseg.training.train import save_weights

    torch.manual_seed(1)
    ckpt = tmp_path / "other.safetensors"
    save_weights(PromptableUNet(), ckpt, {"steps": 1})
    # a tiny dev case keeps this fast; the real dev set is tested above
    import dataclasses

    tiny = crop_case(datasets.synthetic_cases((0,), (40, 40, 10))[0], margin=4, half_depth=2)
    tiny = dataclasses.replace(tiny, set_name="dev")
    monkeypatch.setattr(datasets, "dev_cases", lambda: [tiny])
    monkeypatch.chdir(tmp_path)
    code = main(["bench", "--sets", "dev", "--models", "builtin", "--prompt-types", "box", "--max-interactions", "2",
                 "--checkpoint", str(ckpt), "--jobs", "1", "--quiet"])
    assert code == 0
    out = capsys.readouterr()
    assert "DEVELOPMENT" in out.out and "markdown:" not in out.err and "json:" not in out.err
    assert not (tmp_path / "docs").exists() and not (tmp_path / "benchmarks").exists()
    from napari_medseg.evaluation.run import make_model
    from napari_medseg.models.builtin.model import default_weights_path

    assert make_model("builtin", str(ckpt)).identity != make_model("builtin", str(default_weights_path())).identity


def test_builtin_options_change_the_model_and_bad_ones_say_what_is_wrong(tmp_path, monkeypatch, capsys):
    import dataclasses

    import pytest

    from napari_medseg.errors import MedsegError
    from napari_medseg.evaluation import datasets
    from napari_medseg.evaluation.run import make_model

    model = make_model("builtin", None, (("calibration.box", 0.25), ("refine.radius", 5), ("evidence.enabled", 0)))
    assert model.calibration.box == 0.25 and model.refine.radius == 5 and isinstance(model.refine.radius, int)
    assert model.evidence.enabled is False
    assert make_model("builtin").calibration.box != 0.25  # the defaults are untouched
    for bad in (("decoder.depth", 1), ("refine.colour", 1)):
        with pytest.raises(MedsegError, match="unknown built-in model option"):
            make_model("builtin", None, (bad,))

    tiny = crop_case(datasets.synthetic_cases((0,), (40, 40, 10))[0], margin=4, half_depth=2)
    monkeypatch.setattr(datasets, "dev_cases", lambda: [dataclasses.replace(tiny, set_name="dev")])
    js = tmp_path / "dev.json"
    code = main(["bench", "--sets", "dev", "--models", "builtin", "--prompt-types", "box", "--max-interactions", "1",
                 "--builtin-option", "calibration.box=0", "--jobs", "1", "--quiet", "--json", str(js)])
    assert code == 0
    assert json.loads(js.read_text())["summary"]["models"]["builtin"].endswith("with calibration.box=0")
    assert "Development criterion of the built-in model" in capsys.readouterr().out
    for bad in ("calibration.box", "box=1", "calibration.box=big"):
        assert main(["bench", "--sets", "dev", "--builtin-option", bad, "--quiet"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "GROUP.NAME=NUMBER" in err[0]


def test_a_partial_evaluation_run_writes_only_the_files_it_names(tmp_path, monkeypatch, capsys):
    """A subset of sets or prompt types must not replace the published tables with a partial one."""
    import dataclasses

    from napari_medseg.evaluation import datasets

    tiny = crop_case(datasets.synthetic_cases((0,), (40, 40, 10))[0], margin=4, half_depth=2)
    monkeypatch.setattr(datasets, "synthetic_cases", lambda *a, **k: [dataclasses.replace(tiny, set_name="synthetic")])
    monkeypatch.chdir(tmp_path)
    argv = ["bench", "--sets", "synthetic", "--models", "builtin", "--prompt-types", "box", "--max-interactions", "2",
            "--no-3d", "--jobs", "1", "--quiet"]
    assert main(argv) == 0
    assert "json:" not in capsys.readouterr().err
    assert not (tmp_path / "docs").exists() and not (tmp_path / "benchmarks").exists()
    assert main([*argv, "--out", str(tmp_path / "partial.md")]) == 0
    err = capsys.readouterr().err
    assert "markdown:" in err and "json:" not in err and (tmp_path / "partial.md").is_file()
    assert not (tmp_path / "benchmarks").exists()
