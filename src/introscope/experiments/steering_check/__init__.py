"""Steering check (``docs/protocols.md`` §3): the positive control of every run (scorecard
step 0), and the functional effect size of every control.

On a neutral prompt, does the concept vector raise the log-probability of its own word more
than a norm-matched random vector (per layer x strength, paired per concept)? A run whose
injections fail this at the configuration the scorecard reads licenses nothing, and every
later scorecard line says so. The same forward pass gives each injection's KL divergence
from the no-injection next-token distribution, so the anomaly controls (random, negated,
other concept, matched random) are shown to be matched perturbations, or not: the KL lives
here because it needs exactly this prompt and pass, and step 4 reads it next to each
control's detection effect. Logit readout only.
"""

from __future__ import annotations

from introscope.experiments.base import Experiment, Solver
from introscope.experiments.steering_check import analysis, figures, scorecard, section
from introscope.experiments.steering_check.params import (
    SteeringCheckParams,
    steering_check_params,
)


def solver() -> Solver[SteeringCheckParams]:
    from introscope.experiments.steering_check.trials import SteeringCheckSolver

    return SteeringCheckSolver()


EXPERIMENT = Experiment(
    kind="steering_check",
    title="Steering check (positive control)",
    description=(
        "Does the concept vector steer the model toward its word more than a random vector, "
        "and how large is each control's effect (KL)? (positive control, step 0)"
    ),
    package=__name__,
    params=steering_check_params,
    solver=solver,
    tables=analysis.tables,
    measures=("logits",),
    headlines=analysis.headlines,
    steps={scorecard.STEP: scorecard.STEP_TITLE},
    scorecard=scorecard.scorecard,
    gate=scorecard.gate,
    figures=figures.figures,
    sections=section.sections,
)
