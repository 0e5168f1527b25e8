"""The detection experiment's parameters, built from a spec."""

from __future__ import annotations

from typing import TYPE_CHECKING

from introscope.experiments.base import refuse_unused
from introscope.experiments.grid import (
    GRID_FIELDS,
    PRIMARY_FIELD,
    Control,
    InjectionGrid,
    grid_values,
)

if TYPE_CHECKING:
    from introscope.spec import Spec


class DetectionParams(InjectionGrid):
    controls: list[Control]  # per concept: its own vector, random, negated, or no injection
    control_trials: int  # no-injection trials (the false-positive control)
    repeats: int  # trials per (concept, layer, strength, control) cell


def detection_params(spec: Spec) -> DetectionParams:
    refuse_unused(
        spec, (*GRID_FIELDS, PRIMARY_FIELD, "grid.controls", "control_trials", "trials_per_cell")
    )
    return DetectionParams(
        **grid_values(spec),
        controls=list(spec.grid.controls),
        control_trials=spec.control_trials,
        repeats=spec.trials_per_cell,
    )
