"""The thoughts-vs-text experiment's parameters, built from a spec."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from introscope.experiments.base import refuse_unused, spec_concepts
from introscope.experiments.grid import (
    GRID_FIELDS,
    PRIMARY_FIELD,
    Control,
    InjectionGrid,
    check_other_control,
    grid_values,
)

if TYPE_CHECKING:
    from introscope.spec import Spec


class ThoughtsVsTextParams(InjectionGrid):
    """Each trial's store columns: ``concept`` = the injected concept (also the target among
    its candidates), ``control`` = the injection kind (concept / random / negated / none)."""

    # 2: the candidates are a function of (concept, sentence), shared by a concept's injected
    # and no-injection trials on a sentence (issue 10).
    protocol: ClassVar[int] = 2

    controls: list[Control]  # per concept: its own vector, random, negated, or no injection
    repeats: int  # trials per (concept, layer, strength, control) cell; each repeat moves
    # every concept to the next sentence


def thoughts_vs_text_params(spec: Spec) -> ThoughtsVsTextParams:
    refuse_unused(spec, (*GRID_FIELDS, PRIMARY_FIELD, "grid.controls", "trials_per_cell"))
    check_other_control(spec.grid.controls, spec_concepts(spec))
    return ThoughtsVsTextParams(
        **grid_values(spec), controls=list(spec.grid.controls), repeats=spec.trials_per_cell
    )
