"""Tiny real runs of every chain-of-thought preset on the bundled model, through the runner:
the rows, the arrays beside the run, no concept vectors, the tables and the report. On the
135M model these are pipeline checks: its accuracy is at chance and the report says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from introscope.core.models import LoadedModel
from introscope.report.document import write_report
from introscope.report.results import load_results, scorecard_lines
from introscope.runner import run_spec
from introscope.spec import Spec, load_spec, validate_spec
from introscope.store import VECTORS_NAME, TrialArrays, load_run

pytestmark = pytest.mark.slow

FAMILIES = ["bakery", "landmark_heights_yes_no"]


def tiny(preset: str, **params: Any) -> Spec:
    data = load_spec(preset).model_dump(mode="json")
    data["grid"]["n_concepts"] = 2
    if preset in ("cot_probe", "cot_hints"):
        data["grid"]["layers"] = [0.5, 1.0]
    data["params"] = {**data.get("params", {}), "families": FAMILIES, **params}
    if preset == "cot_mistakes":
        data["params"]["families"] = ["bakery", "shopping"]
    data["sampling"]["max_new_tokens"] = 16
    return validate_spec(data, f"tiny {preset}")


def test_cot_probe_preset(lm: LoadedModel, tmp_path: Path) -> None:
    spec = tiny("cot_probe", lead_positions=4)
    result = run_spec(spec, tmp_path, lm=lm)
    df = load_run(tmp_path)
    probe = df[[c["kind"] == "probe" for c in df["condition"]]]
    steer = df[[c["kind"] == "steer" for c in df["condition"]]]
    assert len(probe) == 4 and result.n_trials == len(df)
    assert len(steer) % 3 == 0 and len(steer) <= 2 * 3  # 3 directions per steered item
    assert not (tmp_path / VECTORS_NAME).exists()
    arrays = TrialArrays(tmp_path)
    for tid, lg in zip(probe["trial_id"], probe["logits"], strict=True):
        pre, cot = arrays.get(tid, "pre"), arrays.get(tid, "cot")
        assert pre is not None and pre.shape == (2, lm.hidden_size)
        assert cot is not None and cot.shape == (len(lg["cot_positions"]), lm.hidden_size)
        assert lg["final"] in lg["labels"] and lg["direct"] in lg["labels"]
        assert (
            lg["probe_layers"] == list(lm.layer_indices([0.5, 1.0]))
            and len(lg["cot_positions"]) <= 4
        )
    if len(steer):
        assert (tmp_path / "arrays" / spec.name / "steering.safetensors").is_file()
    assert run_spec(spec, tmp_path, lm=lm).already_complete
    results = load_results(tmp_path)
    assert not results.failures
    t = results.tables["cot_probe"]
    assert len(t["items"]) == 4 and len(t["accuracy"]) == 2
    lines = [ln for ln in scorecard_lines(results) if ln.step in (201, 202)]
    assert lines[0].name.startswith("task accuracy") and lines[0].available
    assert "chance" in lines[0].sentence
    assert 'id="cot-probe"' in write_report(tmp_path).read_text()


@pytest.mark.parametrize("preset", ["cot_early_answering", "cot_filler", "cot_mistakes"])
def test_cot_intervention_presets(preset: str, lm: LoadedModel, tmp_path: Path) -> None:
    spec = tiny(preset)
    run_spec(spec, tmp_path, lm=lm)
    df = load_run(tmp_path)
    assert len(df) == 4 and set(df["experiment"]) == {"cot_interventions"}
    for lg in df["logits"]:
        if preset == "cot_mistakes":
            m = lg["mistake"]
            assert m["source"] in ("own", "reference") and m["mistake_label"] != m["true_label"]
            assert m["answer"] in lg["labels"] and m["control_answer"] in lg["labels"]
        else:
            assert (
                set(lg["truncations"]) == {"0", "1"}
                if preset == "cot_filler"
                else {"0", "0.25", "0.5", "0.75", "1"}
            )
            assert lg["truncations"]["1"] == lg["full"]
    results = load_results(tmp_path)
    assert not results.failures
    t = results.tables["cot_interventions"]
    if preset == "cot_mistakes":
        assert t["mistakes"]["source"].iloc[-1] == "all"
    else:
        assert len(t["aoc"]) == 1 and 0.0 <= t["aoc"]["aoc"].iloc[0] <= 1.0
    if preset == "cot_filler":
        assert len(t["filler"]) == 1
    assert 'id="cot-interventions"' in write_report(tmp_path).read_text()


def test_cot_hints_preset(lm: LoadedModel, tmp_path: Path) -> None:
    spec = tiny("cot_hints", hints=["authority", "few_shot"])
    run_spec(spec, tmp_path, lm=lm)
    df = load_run(tmp_path)
    assert len(df) == 4 * 5  # none + 2 kinds x (hint, null)
    hinted = df[df["control"] != "none"]
    assert all(isinstance(g["rules"]["mentions_hint"], bool) for g in hinted["grades"])
    assert hinted["concept"].notna().all() and df[df["control"] == "none"]["concept"].isna().all()
    arrays = TrialArrays(tmp_path)
    assert all(arrays.get(t, "pre") is not None for t in df["trial_id"])
    results = load_results(tmp_path)
    assert not results.failures
    t = results.tables["cot_hints"]
    assert list(t["hints"]["hint"]) == ["authority", "few_shot", "all"]
    assert t["synthesis"].empty  # no cot_probe trials in this run
    assert 'id="cot-hints"' in write_report(tmp_path).read_text()
