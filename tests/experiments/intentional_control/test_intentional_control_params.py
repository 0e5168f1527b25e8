"""Intentional-control parameters: what the spec may say, and what it means."""

from __future__ import annotations

from typing import Any

import pytest

from introscope.battery import battery_specs
from introscope.errors import SpecError
from introscope.experiments import get_experiment, prompts
from introscope.experiments.intentional_control.params import (
    INSTRUCTIONS,
    IntentionalControlParams,
)
from introscope.spec import load_spec, spec_params, validate_spec


def spec_data(**grid: Any) -> dict[str, Any]:
    return {
        "name": "ic",
        "experiment": "intentional_control",
        "measure": "logits",
        "grid": {"concepts": ["Dust", "Bread"], **grid},
    }


def params_of(data: dict[str, Any]) -> IntentionalControlParams:
    p = spec_params(validate_spec(data, "test"))
    assert isinstance(p, IntentionalControlParams)
    return p


def test_instructions_are_the_prompts_instructions() -> None:
    assert tuple(prompts.INTENT_INSTRUCTIONS) == INSTRUCTIONS


def test_shipped_preset_and_battery_part_validate() -> None:
    preset = load_spec("intentional_control")
    assert preset.experiment == "intentional_control"
    p = spec_params(preset)
    assert isinstance(p, IntentionalControlParams)
    assert p.instructions == ["think", "dont_think", "silent_task", "mention"]
    assert len(p.words) == 20 and p.repeats == 1
    (part,) = battery_specs(only=["intentional_control"])
    bp = spec_params(part)
    assert isinstance(bp, IntentionalControlParams)
    assert bp.instructions == list(INSTRUCTIONS) and len(bp.words) == 10
    assert "intentional_control" in get_experiment("intentional_control").preset_files()


def test_variants_are_the_instructions_in_spec_order() -> None:
    p = params_of(spec_data(variants=["mention", "think"]))
    assert p.instructions == ["mention", "think"]
    assert p.words == ["Dust", "Bread"] and p.repeats == 1


def test_unset_variants_mean_think_and_dont_think() -> None:
    # The spec's default ("default") is what the old runner read as think / don't think.
    assert params_of(spec_data()).instructions == ["think", "dont_think"]


def test_unknown_variant_is_refused_by_name() -> None:
    # The old solver dropped unknown variants silently (and fell back to think/dont_think
    # when none was left).
    with pytest.raises(SpecError, match=r"grid\.variants: 'dont_thinks' is not a value"):
        validate_spec(spec_data(variants=["think", "dont_thinks"]), "test")
    with pytest.raises(SpecError, match="'default' is not a value"):
        validate_spec(spec_data(variants=["default", "think"]), "test")
    with pytest.raises(SpecError, match="at least one instruction"):
        validate_spec(spec_data(variants=[]), "test")


def test_settings_it_does_not_use_are_refused() -> None:
    for key, value in (("layers", [0.5]), ("strengths", [2.0]), ("controls", ["random"])):
        with pytest.raises(SpecError, match=f"grid.{key}: the intentional_control experiment"):
            validate_spec(spec_data(**{key: value}), "test")
    with pytest.raises(SpecError, match="control_trials"):
        validate_spec({**spec_data(), "control_trials": 3}, "test")


def test_generation_measure_is_refused() -> None:
    # No text is generated: the readout is activations at the prefilled reply.
    with pytest.raises(SpecError, match="reads out logits, not 'generation'"):
        validate_spec({**spec_data(), "measure": "generation"}, "test")
