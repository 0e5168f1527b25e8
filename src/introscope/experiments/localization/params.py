"""The localization experiment's parameters, built from a spec."""

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


class LocalizationParams(InjectionGrid):
    """One stimulus per (concept, repeat)."""

    controls: list[InjectedControl]  # per concept: its own vector, random, or negated
    repeats: int  # stimuli per concept


def localization_params(spec: Spec) -> LocalizationParams:
    refuse_unused(spec, (*GRID_FIELDS, PRIMARY_FIELD, "grid.controls", "trials_per_cell"))
    controls = injected_controls(
        spec,
        "the localization experiment always shows every stimulus once without injection ('none').",
    )
    return LocalizationParams(**grid_values(spec), controls=controls, repeats=spec.trials_per_cell)
