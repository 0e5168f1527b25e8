"""The yes-bias experiment's parameters, built from a spec."""

from __future__ import annotations

from typing import TYPE_CHECKING

from introscope.errors import SpecError
from introscope.experiments.base import refuse_unused
from introscope.experiments.grid import (
    GRID_FIELDS,
    InjectedControl,
    InjectionGrid,
    grid_values,
    injected_controls,
)
from introscope.experiments.yes_bias.questions import questions

if TYPE_CHECKING:
    from introscope.spec import Spec


class YesBiasParams(InjectionGrid):
    controls: list[InjectedControl]  # the concept's own vector, random or negated
    # Questions asked under each concept's injections, rotating through the question list
    # (the spec's ``trials_per_cell``). Every question is also asked once without injection.
    questions_per_concept: int


def yes_bias_params(spec: Spec) -> YesBiasParams:
    refuse_unused(spec, (*GRID_FIELDS, "grid.controls", "trials_per_cell"))
    controls = injected_controls(
        spec, "'none' is not needed here: every question is asked once without injection anyway."
    )
    n_questions = len(questions())
    if spec.trials_per_cell > n_questions:
        # The rotation would ask a concept the same question twice: duplicate trials.
        raise SpecError(
            f"trials_per_cell: the yes_bias experiment asks at most {n_questions} questions "
            f"per concept (it is {spec.trials_per_cell})."
        )
    return YesBiasParams(
        **grid_values(spec), controls=controls, questions_per_concept=spec.trials_per_cell
    )
