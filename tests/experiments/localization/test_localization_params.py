"""Localization parameters: the shipped preset and battery part validate; settings the
solver does not read (control_trials, variants), a 'none' control and a generation readout
are refused."""

from __future__ import annotations

import re
from typing import Any

import pytest

from introscope.battery import battery_specs
from introscope.errors import SpecError
from introscope.experiments import REGISTRY, get_experiment
from introscope.experiments.localization import EXPERIMENT
from introscope.experiments.localization.params import LocalizationParams
from introscope.spec import load_spec, override, spec_params, validate_spec


def test_registered_with_its_preset() -> None:
    assert get_experiment("localization") is EXPERIMENT and EXPERIMENT in REGISTRY
    assert EXPERIMENT.measures == ("logits",)
    assert load_spec("localization").experiment == "localization"


def test_preset_validates() -> None:
    p = spec_params(load_spec("localization"))
    assert isinstance(p, LocalizationParams)
    assert p.controls == ["concept"] and p.repeats == 2 and len(p.concepts) == 50


@pytest.mark.parametrize("scale", [0.3, 1.0, 3.0])
def test_battery_part_validates(scale: float) -> None:
    (spec,) = [s for s in battery_specs(scale=scale) if s.experiment == "localization"]
    p = spec_params(spec)
    assert isinstance(p, LocalizationParams)
    assert len(p.concepts) == max(2, round(10 * scale))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"controls": "none,concept"}, "grid.controls: the localization experiment always"),
        ({"control_trials": 2}, "control_trials: the localization experiment does not use"),
        ({"measure": "generation"}, "reads out logits, not 'generation'"),
    ],
)
def test_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=re.escape(message)):
        override(load_spec("localization"), **overrides)


def test_variants_are_refused() -> None:
    data = load_spec("localization").model_dump(mode="json")
    data["grid"]["variants"] = ["other"]
    with pytest.raises(
        SpecError, match=re.escape("grid.variants: the localization experiment does not")
    ):
        validate_spec(data, "test")
