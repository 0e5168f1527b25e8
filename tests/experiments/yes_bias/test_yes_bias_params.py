"""The yes-bias parameters and question bank: built from a spec, presets and battery parts
valid, settings the experiment does not use refused, the protocol recorded and enforced."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from introscope.battery import battery_specs
from introscope.errors import SpecError, StoreError
from introscope.experiments.detection.params import detection_params
from introscope.experiments.yes_bias.params import (
    BASELINE_ANSWERS,
    PROTOCOL,
    YesBiasParams,
    yes_bias_params,
)
from introscope.experiments.yes_bias.questions import KINDS, bank, per_kind, selected
from introscope.resume import check_protocols, run_protocols
from introscope.spec import load_spec, spec_params, validate_spec


def spec_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "yb",
        "experiment": "yes_bias",
        "measure": "logits",
        "trials_per_cell": 3,
        "grid": {"concepts": ["Dust", "Bread"], "layers": [0.5], "strengths": [2.0, 4.0]},
    }
    for key, value in changes.items():
        data[key] = {**data[key], **value} if isinstance(value, dict) else value
    return data


def test_params_from_a_spec() -> None:
    p = yes_bias_params(validate_spec(spec_data(grid={"controls": ["negated", "concept"]}), "test"))
    assert p == YesBiasParams(
        concepts=["Dust", "Bread"],
        layers=[0.5],
        strengths=[2.0, 4.0],
        controls=["negated", "concept"],  # the spec's order: it is the trial loop's
        questions_per_kind=3,
        baseline_answers=1,
    )
    assert p.protocol == PROTOCOL == 2


def test_generation_reads_control_trials_as_baseline_answers() -> None:
    data = spec_data(measure="generation", control_trials=5)
    assert yes_bias_params(validate_spec(data, "test")).baseline_answers == 5
    # left at 0 (every spec's default, and protocol-1 specs): the declared default
    default = yes_bias_params(validate_spec(spec_data(measure="generation"), "test"))
    assert default.baseline_answers == BASELINE_ANSWERS == 8


@pytest.mark.parametrize("name", ["yes_bias", "yes_bias_generation"])
def test_presets_validate(name: str) -> None:
    p = spec_params(load_spec(name))
    assert isinstance(p, YesBiasParams)
    assert p.controls == ["concept", "random", "negated"]


def test_presets_pair_with_the_detection_presets() -> None:
    """Same concepts, layers and strengths as the detection preset each one pairs with."""
    for yb, det in (("yes_bias", "detection_logits"), ("yes_bias_generation", "detection")):
        a, b = spec_params(load_spec(yb)), detection_params(load_spec(det))
        assert isinstance(a, YesBiasParams)
        assert (a.concepts, a.layers, a.strengths) == (b.concepts, b.layers, b.strengths)


def test_battery_parts_validate_and_pair_with_detection() -> None:
    specs = {s.name: s for s in battery_specs()}
    logit, text = specs["yes_bias"], specs["yes_bias_generation"]
    assert yes_bias_params(logit).questions_per_kind == 1
    assert yes_bias_params(text).baseline_answers == 8
    det_logits, det = (
        detection_params(specs["detection_logits"]),
        detection_params(specs["detection"]),
    )
    p = yes_bias_params(logit)
    assert set(p.concepts) <= set(det_logits.concepts)
    assert set(p.layers) <= set(det_logits.layers) and set(p.strengths) <= set(det_logits.strengths)
    # the configurations step 2 selects from (detection's generation grid) are all there
    assert set(det.layers) <= set(p.layers) and set(det.strengths) <= set(p.strengths)
    g = yes_bias_params(text)
    assert (g.layers, g.strengths) == (det.layers, det.strengths)
    assert set(g.concepts) <= set(det.concepts)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"control_trials": 5}, "control_trials: the yes_bias experiment does not use"),
        ({"grid": {"variants": ["other"]}}, "grid.variants: the yes_bias experiment does not"),
        ({"grid": {"controls": ["concept", "none"]}}, "asked without injection anyway"),
        (
            {"trials_per_cell": per_kind() + 1},
            "of each of its 4 kinds .answer x topic., at most 24",
        ),
    ],
)
def test_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        validate_spec(spec_data(**changes), "test")


def test_every_question_per_kind_is_allowed() -> None:
    data = spec_data(trials_per_cell=per_kind())
    assert yes_bias_params(validate_spec(data, "test")).questions_per_kind == per_kind()


def test_bank_has_several_dozen_questions_of_each_answer() -> None:
    qs = bank()
    assert len({q.question_id for q in qs}) == len(qs) == len({q.text for q in qs})
    for answer in ("yes", "no"):
        assert sum(q.answer == answer for q in qs) >= 40
    assert {(q.answer, q.topic) for q in qs} == set(KINDS)
    assert all(q.question_id.startswith(f"{q.answer}-{q.topic}-") for q in qs)
    assert all(q.text.endswith("?") for q in qs)


def test_selected_takes_the_first_questions_of_every_kind() -> None:
    two = selected(2)
    assert [q.question_id for q in two] == [f"{a}-{t}-{i:02d}" for a, t in KINDS for i in range(2)]
    assert selected(per_kind()) == bank()


def test_a_run_of_another_protocol_refuses_to_resume(tmp_path: Path) -> None:
    spec = validate_spec(spec_data(), "yb")
    manifest: dict[str, Any] = {"specs": [spec.model_dump(mode="json")]}
    stored = run_protocols(manifest, [spec])  # recorded none: protocol 1
    assert stored == {"yb": 1}
    with pytest.raises(StoreError, match=r"'yb' built under version 1 of the yes_bias"):
        check_protocols(tmp_path, [spec], stored)
    check_protocols(tmp_path, [spec], {"yb": PROTOCOL})  # the same version resumes
    det = load_spec("detection_logits")  # an experiment still at protocol 1 resumes
    check_protocols(tmp_path, [det], run_protocols({"specs": []}, [det]))
