"""Thoughts-vs-text parameters: the shipped specs validate, unused settings are refused."""

from __future__ import annotations

from typing import Any

import pytest

from introscope.battery import battery_specs
from introscope.errors import SpecError
from introscope.experiments.thoughts_vs_text.params import thoughts_vs_text_params
from introscope.spec import load_spec, validate_spec


def spec_data(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "tvt",
        "experiment": "thoughts_vs_text",
        "grid": {"concepts": ["Ocean", "Dust"], "controls": ["concept", "none"]},
    }
    for key, value in extra.items():
        data[key] = {**data[key], **value} if isinstance(value, dict) else value
    return data


def test_preset_and_battery_part_validate() -> None:
    p = thoughts_vs_text_params(load_spec("thoughts_vs_text"))
    assert len(p.concepts) == 20 and p.layers == [0.33, 0.5, 0.67]
    assert p.strengths == [4.0, 8.0] and p.controls == ["concept", "none"] and p.repeats == 1
    (part,) = battery_specs(only=["thoughts_vs_text"])
    assert thoughts_vs_text_params(part).controls == ["concept", "none"]


def test_params_follow_the_grid() -> None:
    p = thoughts_vs_text_params(
        validate_spec(spec_data(trials_per_cell=3, grid={"layers": [4], "strengths": [2.0]}), "s")
    )
    assert p.concepts == ["Ocean", "Dust"] and p.layers == [4] and p.strengths == [2.0]
    assert p.controls == ["concept", "none"] and p.repeats == 3


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"grid": {"variants": ["think"]}}, "grid.variants"),
        ({"control_trials": 5}, "control_trials"),
        ({"measure": "logits"}, "measure"),
    ],
)
def test_unused_settings_are_refused(extra: dict[str, Any], field: str) -> None:
    with pytest.raises(SpecError, match=field):
        validate_spec(spec_data(**extra), "s")
