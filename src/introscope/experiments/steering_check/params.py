"""The steering check's parameters, built from a spec."""

from __future__ import annotations

from typing import TYPE_CHECKING

from introscope.experiments.base import refuse_unused
from introscope.experiments.grid import (
    GRID_FIELDS,
    InjectedControl,
    InjectionGrid,
    grid_values,
    injected_controls,
)

if TYPE_CHECKING:
    from introscope.spec import Spec


class SteeringCheckParams(InjectionGrid):
    """``controls``: the concept vector and its isotropic random control always, first (the
    positive control compares them), then any other control asked for (their functional
    effect, the KL, is measured too)."""

    controls: list[InjectedControl]


def steering_check_params(spec: Spec) -> SteeringCheckParams:
    """``trials_per_cell`` and ``control_trials`` are refused: the readout is deterministic
    (repeats would be copies) and the no-injection reference is computed in every batch."""
    refuse_unused(spec, (*GRID_FIELDS, "grid.controls"))
    asked = injected_controls(
        spec,
        "the steering check compares every injection with the same prompt without one, "
        "computed in every batch.",
    )
    controls: list[InjectedControl] = ["concept", "random"]
    controls += [c for c in asked if c not in controls]
    return SteeringCheckParams(**grid_values(spec), controls=controls)
