"""The thoughts-vs-text experiment's parameters, built from a spec."""

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


class ThoughtsVsTextParams(InjectionGrid):
    """Each trial's store columns: ``concept`` = the injected concept (also the target among
    its candidates), ``control`` = the injection kind (concept / random / negated / none)."""

    controls: list[Control]  # per concept: its own vector, random, negated, or no injection
    repeats: int  # trials per (concept, layer, strength, control) cell; each repeat moves
    # every concept to the next sentence


def thoughts_vs_text_params(spec: Spec) -> ThoughtsVsTextParams:
    refuse_unused(spec, (*GRID_FIELDS, PRIMARY_FIELD, "grid.controls", "trials_per_cell"))
    return ThoughtsVsTextParams(
        **grid_values(spec), controls=list(spec.grid.controls), repeats=spec.trials_per_cell
    )
