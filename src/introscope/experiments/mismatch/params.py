"""The mismatch experiment's parameters, built from a spec."""

from __future__ import annotations

from typing import TYPE_CHECKING

from introscope.experiments.base import refuse_unused
from introscope.experiments.grid import (
    GRID_FIELDS,
    PRIMARY_FIELD,
    InjectedControl,
    InjectionGrid,
    grid_values,
    injected_controls,
)

if TYPE_CHECKING:
    from introscope.spec import Spec


class MismatchParams(InjectionGrid):
    """``concepts`` are both injected and asked about."""

    controls: list[InjectedControl]  # per concept: its own vector, random, or negated
    baseline_repeats: int  # no-injection trials per asked word
    repeats: int  # trials per (concept, layer, strength, control) cell, each asked twice


def mismatch_params(spec: Spec) -> MismatchParams:
    refuse_unused(
        spec, (*GRID_FIELDS, PRIMARY_FIELD, "grid.controls", "control_trials", "trials_per_cell")
    )
    controls = injected_controls(
        spec,
        "the mismatch experiment always asks about every word without injection ('none'); "
        "control_trials sets how many times.",
    )
    return MismatchParams(
        **grid_values(spec),
        controls=controls,
        # Without control_trials, the baselines repeat as often as the injected trials.
        baseline_repeats=spec.control_trials or spec.trials_per_cell,
        repeats=spec.trials_per_cell,
    )
