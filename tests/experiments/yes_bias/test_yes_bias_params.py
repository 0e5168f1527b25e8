"""The yes-bias parameters: built from a spec, presets and battery parts valid, settings the
experiment does not use refused."""

from __future__ import annotations

from typing import Any

import pytest

from introscope.battery import battery_specs
from introscope.errors import SpecError
from introscope.experiments.yes_bias.params import YesBiasParams, yes_bias_params
from introscope.experiments.yes_bias.questions import questions
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
        questions_per_concept=3,
    )


@pytest.mark.parametrize("name", ["yes_bias", "yes_bias_generation"])
def test_presets_validate(name: str) -> None:
    p = spec_params(load_spec(name))
    assert isinstance(p, YesBiasParams)
    assert p.controls == ["concept", "random", "negated"]


def test_battery_parts_validate() -> None:
    specs = battery_specs(only=["yes_bias", "yes_bias_generation"])
    assert sorted(s.name for s in specs) == ["yes_bias", "yes_bias_generation"]
    assert [yes_bias_params(s).questions_per_concept for s in specs] == [2, 1]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"control_trials": 5}, "control_trials: the yes_bias experiment does not use"),
        ({"grid": {"variants": ["other"]}}, "grid.variants: the yes_bias experiment does not"),
        ({"grid": {"controls": ["concept", "none"]}}, "asked once without injection anyway"),
        ({"trials_per_cell": len(questions()) + 1}, "at most 42 questions per concept"),
    ],
)
def test_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        validate_spec(spec_data(**changes), "test")


def test_every_question_per_concept_is_allowed() -> None:
    data = spec_data(trials_per_cell=len(questions()))
    assert yes_bias_params(validate_spec(data, "test")).questions_per_concept == len(questions())
