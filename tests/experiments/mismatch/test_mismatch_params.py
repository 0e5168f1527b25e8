"""Mismatch parameters: the shipped preset and battery part validate; settings the solver
does not read, a 'none' control and a generation readout are refused."""

from __future__ import annotations

import re
from typing import Any

import pytest

from introscope.battery import battery_specs
from introscope.errors import SpecError
from introscope.experiments import REGISTRY, get_experiment
from introscope.experiments.mismatch import EXPERIMENT
from introscope.experiments.mismatch.params import MismatchParams
from introscope.spec import load_spec, override, spec_params, validate_spec


def test_registered_with_its_preset() -> None:
    assert get_experiment("mismatch") is EXPERIMENT and EXPERIMENT in REGISTRY
    assert EXPERIMENT.measures == ("logits",)
    assert load_spec("mismatch").experiment == "mismatch"


def test_preset_validates() -> None:
    p = spec_params(load_spec("mismatch"))
    assert isinstance(p, MismatchParams)
    assert p.controls == ["concept", "random"] and p.baseline_repeats == 1
    assert len(p.concepts) == 50 and p.strengths == [2.0, 4.0, 8.0]


@pytest.mark.parametrize("scale", [0.3, 1.0, 3.0])
def test_battery_part_validates(scale: float) -> None:
    (spec,) = [s for s in battery_specs(scale=scale) if s.experiment == "mismatch"]
    p = spec_params(spec)
    assert isinstance(p, MismatchParams)
    assert len(p.concepts) == max(2, round(10 * scale))


def test_baselines_repeat_like_trials_without_control_trials() -> None:
    p = spec_params(override(load_spec("mismatch"), control_trials=0, trials=3))
    assert isinstance(p, MismatchParams)
    assert (p.baseline_repeats, p.repeats) == (3, 3)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"controls": "concept,none"}, "grid.controls: the mismatch experiment always asks"),
        ({"measure": "generation"}, "reads out logits, not 'generation'"),
    ],
)
def test_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=re.escape(message)):
        override(load_spec("mismatch"), **overrides)


def test_variants_are_refused() -> None:
    data = load_spec("mismatch").model_dump(mode="json")
    data["grid"]["variants"] = ["other"]
    with pytest.raises(
        SpecError, match=re.escape("grid.variants: the mismatch experiment does not use")
    ):
        validate_spec(data, "test")
