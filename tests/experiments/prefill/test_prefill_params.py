"""Prefill parameters: the shipped specs validate, unused settings are refused (prefill
builds its none / match / other conditions itself)."""

from __future__ import annotations

from typing import Any

import pytest

from introscope.battery import battery_specs
from introscope.errors import SpecError
from introscope.experiments.prefill.params import prefill_params
from introscope.spec import load_spec, validate_spec


def spec_data(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "pre",
        "experiment": "prefill",
        "grid": {"concepts": ["Ocean", "Dust"]},
    }
    for key, value in extra.items():
        data[key] = {**data[key], **value} if isinstance(value, dict) else value
    return data


def test_preset_and_battery_part_validate() -> None:
    p = prefill_params(load_spec("prefill"))
    assert len(p.concepts) == 20 and p.layers == [0.33, 0.5, 0.67]
    assert p.strengths == [4.0, 8.0] and p.repeats == 1
    (part,) = battery_specs(only=["prefill"])
    assert prefill_params(part).layers == [0.5, 0.67]


def test_params_follow_the_grid() -> None:
    p = prefill_params(
        validate_spec(spec_data(trials_per_cell=2, grid={"layers": [4], "strengths": [2.0]}), "s")
    )
    assert p.concepts == ["Ocean", "Dust"] and p.layers == [4] and p.strengths == [2.0]
    assert p.repeats == 2


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"grid": {"controls": ["concept", "random"]}}, "grid.controls"),
        ({"grid": {"controls": ["none"]}}, "grid.controls"),
        ({"grid": {"variants": ["think"]}}, "grid.variants"),
        ({"control_trials": 5}, "control_trials"),
        ({"measure": "logits"}, "measure"),
    ],
)
def test_unused_settings_are_refused(extra: dict[str, Any], field: str) -> None:
    with pytest.raises(SpecError, match=field):
        validate_spec(spec_data(**extra), "s")
