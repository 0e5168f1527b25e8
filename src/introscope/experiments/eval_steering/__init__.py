"""Evaluation framing, the activation interventions (issue 13): steering along the
evaluation-awareness direction against random directions, the framing's own direction
(self-diagnostic minus judgment, cross-fitted over items) as an injection, and a held-out
check of the awareness direction; scorecard part "evaluation framing", steps 305-306.
Items, framings and the readout are the eval_framing slice's.
"""

from __future__ import annotations

from introscope.experiments.base import Experiment, Solver
from introscope.experiments.eval_steering import analysis, figures, scorecard, section
from introscope.experiments.eval_steering.params import EvalSteeringParams, eval_steering_params


def solver() -> Solver[EvalSteeringParams]:
    from introscope.experiments.eval_steering.trials import EvalSteeringSolver

    return EvalSteeringSolver()


EXPERIMENT = Experiment(
    kind="eval_framing_steering",
    title="Evaluation framing: steering",
    description="Does steering along the evaluation-awareness or framing direction move "
    "test-gaming choices, against random directions?",
    package=__name__,
    params=eval_steering_params,
    solver=solver,
    tables=analysis.tables,
    measures=("logits",),
    needs=("eval_framing",),
    relative_strengths=True,
    headlines=analysis.headlines,
    steps=scorecard.STEPS,
    scorecard_part=scorecard.PART,
    scorecard=scorecard.scorecard,
    figures=figures.figures,
    sections=section.sections,
)
