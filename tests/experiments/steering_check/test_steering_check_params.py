"""The steering-check preset and battery part validate; settings it does not read, and
controls it cannot run, are refused with one sentence."""

from __future__ import annotations

import pytest

from introscope.battery import battery_specs
from introscope.errors import SpecError
from introscope.experiments import REGISTRY
from introscope.experiments.steering_check.params import SteeringCheckParams
from introscope.spec import load_spec, spec_params, validate_spec

BASE = {"name": "x", "experiment": "steering_check", "measure": "logits"}


def test_first_in_the_registry_and_step_0() -> None:
    assert REGISTRY[0].kind == "steering_check" and list(REGISTRY[0].steps) == [0]


def test_preset_and_battery_part() -> None:
    p = spec_params(load_spec("steering_check"))
    assert isinstance(p, SteeringCheckParams)
    assert p.controls == ["concept", "random", "negated", "other", "matched_random"]
    (part,) = battery_specs(only=["steering_check"])
    bp = spec_params(part)
    assert isinstance(bp, SteeringCheckParams)
    # every configuration the detection parts can select is covered
    for det in battery_specs(only=["detection", "detection_logits"]):
        assert set(det.grid.layers) <= set(part.grid.layers)
        assert set(det.grid.strengths) <= set(part.grid.strengths)
        assert set(det.grid.controls) <= set(bp.controls)


def test_concept_and_random_always_run_first() -> None:
    spec = validate_spec({**BASE, "grid": {"controls": ["other"], "n_concepts": 3}}, "t")
    assert spec_params(spec).controls == ["concept", "random", "other"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"trials_per_cell": 2}, r"trials_per_cell.*does not use"),
        ({"control_trials": 3}, r"control_trials.*does not use"),
        ({"grid": {"controls": ["concept", "none"]}}, r"without one.*Leave 'none' out"),
        ({"grid": {"concepts": ["Dust"], "controls": ["other"]}}, r"at least two concepts"),
        ({"measure": "generation"}, r"reads out logits"),
        ({"grid": {"controls": ["sideways"]}}, r"grid\.controls"),
    ],
)
def test_refused(data: dict, match: str) -> None:
    with pytest.raises(SpecError, match=match):
        validate_spec({**BASE, **data}, "t.toml")


def test_new_controls_are_accepted_where_the_solver_builds_them() -> None:
    for kind in ("detection", "yes_bias", "mismatch", "localization", "thoughts_vs_text"):
        measure = "logits" if kind in ("yes_bias", "mismatch", "localization") else "generation"
        spec = validate_spec(
            {
                "name": "x",
                "experiment": kind,
                "measure": measure,
                "grid": {"n_concepts": 3, "controls": ["concept", "other", "matched_random"]},
            },
            "t",
        )
        assert "matched_random" in spec_params(spec).controls  # type: ignore[attr-defined]
    # category_thresholds draws its own random directions: the new controls are refused
    with pytest.raises(SpecError, match=r"'other' is not a value the category_thresholds"):
        validate_spec(
            {
                "name": "x",
                "experiment": "category_thresholds",
                "measure": "logits",
                "grid": {"controls": ["concept", "other"]},
            },
            "t",
        )
