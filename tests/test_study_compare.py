"""Many models, one study: ``introscope study`` on the bundled model and a tiny random llama
saved next to the study file (sharing the bundled tokenizer, so chat templates work), with
relative strengths, then ``introscope compare`` over the study directory."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from introscope import runner
from introscope.cli import app
from introscope.core.models import LoadedModel, load_model
from introscope.core.vectors import load_vectors
from introscope.store import load_run, read_manifest
from introscope.study import STUDY_NAME, load_study, model_slug
from support import BUNDLED_VOCAB, tiny_model

pytestmark = pytest.mark.slow

TINY_DIR = "tiny<b>llama"  # markup in a model name: the comparison must escape it

SPEC = """
name = "tiny_logits"
experiment = "detection"
measure = "logits"
control_trials = 1
batch_size = 8
[grid]
concepts = ["Ocean", "Dust"]
layers = [0.5]
strengths = [1.0]
controls = ["concept", "random"]
"""

STUDY = f"""
name = "two-models"
models = ["bundled", "{TINY_DIR}"]
presets = ["tiny.toml"]
[override]
strengths = [0.5]
strength_unit = "residual_norm"
"""


@pytest.fixture(scope="module")
def study_file(lm: LoadedModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("study")
    model = tiny_model("llama", n_layers=4, vocab_size=BUNDLED_VOCAB, seed=1)
    model.save_pretrained(folder / TINY_DIR)
    lm.tokenizer.save_pretrained(folder / TINY_DIR)
    (folder / "tiny.toml").write_text(SPEC)
    (folder / "study.toml").write_text(STUDY)
    return folder / "study.toml"


@pytest.fixture(scope="module")
def study_dir(lm: LoadedModel, study_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out") / "two"
    with pytest.MonkeyPatch.context() as mp:
        # The session's bundled model stands in for loading it again; the tiny one loads.
        mp.setattr(
            runner, "load_model", lambda m, **k: lm if m == "bundled" else load_model(m, **k)
        )
        res = CliRunner().invoke(app, ["study", str(study_file), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def test_study_writes_one_run_per_model(study_file: Path, study_dir: Path) -> None:
    record = json.loads((study_dir / STUDY_NAME).read_text())
    assert record["name"] == "two-models" and record["specs"] == ["tiny_logits"]
    assert [r["status"] for r in record["runs"]] == ["complete", "complete"]
    study = load_study(study_file)
    for model, entry in zip(study.models, record["runs"], strict=True):
        assert entry["dir"] == model_slug(model) and "<" not in entry["dir"]
        manifest = read_manifest(study_dir / entry["dir"])
        assert manifest["status"] == "complete" and manifest["model"]["n_params"] > 0
        assert len(load_run(study_dir / entry["dir"])) == 1 + 2 * 2
    assert (study_dir / "compare.html").is_file()


def test_relative_strengths_are_fractions_of_each_models_residual(study_dir: Path) -> None:
    multipliers = {}
    for run in sorted(p for p in study_dir.iterdir() if (p / "manifest.json").is_file()):
        vs = load_vectors(run / "vectors.safetensors")
        df = load_run(run)
        injected = df[df["control"] != "none"]
        assert set(injected["strength"]) == {0.5}  # the stored strength is the relative one
        for _, r in injected.iterrows():
            inj, layer = r["injection"], int(r["layer"])
            assert r["condition"]["strength_unit"] == "residual_norm"
            assert inj["relative_strength"] == 0.5 and inj["strength_unit"] == "residual_norm"
            # the injected vector's norm is half the model's mean residual norm at the layer
            assert math.isclose(
                inj["vector_norm"] * inj["strength"], 0.5 * vs.residual_norm(layer), rel_tol=1e-4
            )
            multipliers[(run.name, r["concept"], r["control"])] = inj["strength"]
    runs = {k[0] for k in multipliers}
    assert len(runs) == 2
    for run in runs:  # a random control gets its concept's multiplier (same norm)
        for concept in ("Ocean", "Dust"):
            assert math.isclose(
                multipliers[(run, concept, "concept")],
                multipliers[(run, concept, "random")],
                rel_tol=1e-4,
            )
    a, b = sorted(runs)
    assert multipliers[(a, "Ocean", "concept")] != multipliers[(b, "Ocean", "concept")]


def test_compare_orders_by_size_and_escapes(study_dir: Path) -> None:
    res = CliRunner().invoke(app, ["compare", str(study_dir), "--json"])
    assert res.exit_code == 0, res.output
    data: dict[str, Any] = json.loads(res.stdout)
    labels = [m["label"] for m in data["models"]]
    assert labels == [TINY_DIR, "bundled"]  # the tiny llama has fewer parameters
    sizes = [m["n_params"] for m in data["models"]]
    assert sizes == sorted(sizes) and sizes[0] < 10_000_000 < sizes[1]
    assert data["lines"] and not data["failures"]
    both = [
        ln for ln in data["lines"]
        if all(v is not None and v["available"] for v in ln["values"].values())
    ]  # fmt: skip
    assert both, "no scorecard line was computed for both models"
    assert all(set(ln["values"]) == set(labels) for ln in data["lines"])
    page = (study_dir / "compare.html").read_text()
    assert "Content-Security-Policy" in page and "<script" not in page
    assert "tiny&lt;b&gt;llama" in page and TINY_DIR not in page
    assert page.count('src="data:image/png;base64,') >= len(both)


def test_compare_run_dirs_and_mistakes(study_dir: Path, tmp_path: Path) -> None:
    runs = sorted(str(p) for p in study_dir.iterdir() if (p / "manifest.json").is_file())
    res = CliRunner().invoke(app, ["compare", *runs, "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "compare.html").is_file()
    bad = CliRunner().invoke(app, ["compare", str(tmp_path / "nope")])
    lines = [ln for ln in bad.stderr.splitlines() if ln.strip()]
    assert bad.exit_code == 2 and len(lines) == 1 and "neither a run directory" in lines[0]


def test_study_resumes_and_checks_its_file(
    lm: LoadedModel, study_file: Path, study_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        runner, "load_model", lambda m, **k: lm if m == "bundled" else load_model(m, **k)
    )
    again = CliRunner().invoke(app, ["study", str(study_file), "--out", str(study_dir)])
    assert again.exit_code == 0, again.output
    assert " ".join(again.output.split()).count("0 new trials") == 2
    bad = study_file.parent / "bad.toml"
    for body, words in (
        ('models = []\npresets = ["tiny.toml"]\n', "models"),
        ('models = ["bundled"]\n', "battery = true or a list of presets"),
        ('models = ["bundled", "bundled"]\npresets = ["tiny.toml"]\n', "listed twice"),
        ('models = ["bundled"]\npresets = ["tiny.toml"]\n[override]\nseed = 1\n', "unknown key"),
        ('name = "../up"\nmodels = ["bundled"]\npresets = ["tiny.toml"]\n', "name"),
    ):
        bad.write_text(body)
        res = CliRunner().invoke(app, ["study", str(bad), "--out", str(study_dir / "x")])
        lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
        assert res.exit_code == 2 and len(lines) == 1 and words in lines[0], res.stderr


def test_compare_of_a_study_with_an_unstarted_run_fails_naming_it(
    study_dir: Path, tmp_path: Path
) -> None:
    import shutil

    copy = tmp_path / "study"
    shutil.copytree(study_dir, copy)
    record = json.loads((copy / STUDY_NAME).read_text())
    record["runs"].append({"model": "later", "dir": "later-000000", "status": "pending"})
    (copy / STUDY_NAME).write_text(json.dumps(record))
    res = CliRunner().invoke(app, ["compare", str(copy)])
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.exit_code == 2 and len(lines) == 1 and "later-000000 has no run yet" in lines[0]
    page = (copy / "compare.html").read_text()  # the runs that exist are still compared
    assert "later-000000 has no run yet" in page and "tiny&lt;b&gt;llama" in page
