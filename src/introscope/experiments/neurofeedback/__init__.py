"""Neurofeedback (``docs/protocols.md`` §5d; the paradigm of Ji-An et al. 2025,
re-implemented from its description): given labelled examples, can the model report where a
new sentence falls on an axis of its own activations, and move along it when asked?
Scorecard step 105.
"""

from __future__ import annotations

from introscope.experiments.base import Experiment, Solver
from introscope.experiments.neurofeedback import analysis, figures, section
from introscope.experiments.neurofeedback.params import (
    NeurofeedbackParams,
    neurofeedback_params,
)


def solver() -> Solver[NeurofeedbackParams]:
    from introscope.experiments.neurofeedback.trials import NeurofeedbackSolver

    return NeurofeedbackSolver()


EXPERIMENT = Experiment(
    kind="neurofeedback",
    title="Neurofeedback: reporting and controlling an activation axis",
    description=(
        "Can the model report, and move, the projection of its own activations on an axis?"
    ),
    package=__name__,
    params=neurofeedback_params,
    solver=solver,
    tables=analysis.tables,
    measures=("generation",),
    headlines=analysis.headlines,
    steps={105: "neurofeedback report above the random and the surface axis"},
    scorecard_part="metacognition",
    scorecard=analysis.scorecard,
    figures=figures.figures,
    sections=section.sections,
)
