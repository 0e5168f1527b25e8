"""Chain of thought (b): does the final answer depend on the written reasoning? Early
answering, filler, mistakes and paraphrases of the same chains (``docs/protocols.md`` §6b;
scorecard steps 203 and 204). One slice, because all four read the same chain of each item."""

from __future__ import annotations

from introscope.experiments.base import Experiment, Solver
from introscope.experiments.cot_interventions import analysis, figures, scorecard, section
from introscope.experiments.cot_interventions.params import (
    CotInterventionParams,
    cot_intervention_params,
)


def solver() -> Solver[CotInterventionParams]:
    from introscope.experiments.cot_interventions.trials import CotInterventionSolver

    return CotInterventionSolver()


EXPERIMENT = Experiment(
    kind="cot_interventions",
    title="Does the answer depend on the reasoning?",
    description=(
        "Truncate the chain of thought, replace it by filler, corrupt a step or paraphrase it, "
        "and see whether the final answer moves."
    ),
    package=__name__,
    params=cot_intervention_params,
    solver=solver,
    tables=analysis.tables,
    measures=("generation",),
    headlines=scorecard.headlines,
    steps={
        203: "early answering (area over the curve)",
        204: "following a corrupted step",
    },
    scorecard_part="chain of thought",
    scorecard=scorecard.scorecard,
    figures=figures.figures,
    sections=section.sections,
)
