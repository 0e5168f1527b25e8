"""The yes-bias experiment's parameters, built from a spec."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from introscope.errors import SpecError
from introscope.experiments.base import (
    ExperimentParams,
    refuse_unused,
    refuse_values,
    spec_concepts,
)
from introscope.experiments.yes_bias.questions import questions

if TYPE_CHECKING:
    from introscope.spec import Spec

InjectedControl = Literal["concept", "random", "negated"]
INJECTED_CONTROLS: tuple[InjectedControl, ...] = ("concept", "random", "negated")


class YesBiasParams(ExperimentParams):
    concepts: list[str]  # injected concepts (the detection experiment's)
    layers: list[int | float | str]  # layer specs: index, negative index or depth fraction
    strengths: list[float]
    controls: list[InjectedControl]  # the concept's own vector, random or negated
    # Questions asked under each concept's injections, rotating through the question list
    # (the spec's ``trials_per_cell``). Every question is also asked once without injection.
    questions_per_concept: int


def yes_bias_params(spec: Spec) -> YesBiasParams:
    refuse_unused(
        spec,
        (
            "grid.concepts",
            "grid.categories",
            "grid.n_concepts",
            "grid.layers",
            "grid.strengths",
            "grid.controls",
            "trials_per_cell",
        ),
    )
    g = spec.grid
    if "none" in g.controls:
        raise SpecError(
            "grid.controls: 'none' is not needed here: every question is asked once without "
            "injection anyway (leave it out)."
        )
    refuse_values("grid.controls", g.controls, INJECTED_CONTROLS, spec.experiment)
    n_questions = len(questions())
    if spec.trials_per_cell > n_questions:
        # The rotation would ask a concept the same question twice: duplicate trials.
        raise SpecError(
            f"trials_per_cell: the yes_bias experiment asks at most {n_questions} questions "
            f"per concept (it is {spec.trials_per_cell})."
        )
    return YesBiasParams(
        concepts=spec_concepts(spec),
        layers=list(g.layers),
        strengths=list(g.strengths),
        controls=[c for c in g.controls if c != "none"],  # none refused above; narrows the type
        questions_per_concept=spec.trials_per_cell,
    )
