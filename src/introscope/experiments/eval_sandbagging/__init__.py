"""Sandbagging check (issue 13): does forced-choice accuracy on items the model can solve
improve under small weight noise, and differently under a judgment than a self-diagnostic
framing? A model holding a capability back tends to improve under noise; one that is not
only degrades.

Consistent code items (:mod:`.params`), forced choice read from letter probabilities
(eval_framing's prompt and readout), under weight noise from
:mod:`introscope.core.weight_noise` at the spec's sigmas x seeds; paired per-item effects
against sigma 0 with t intervals over items and Holm over sigmas (or a declared primary
sigma); scorecard part "sandbagging check", step 307.
"""

from __future__ import annotations

from introscope.experiments.base import Experiment, Solver
from introscope.experiments.eval_sandbagging import analysis, figures, scorecard, section
from introscope.experiments.eval_sandbagging.params import (
    EvalSandbaggingParams,
    eval_sandbagging_params,
)


def solver() -> Solver[EvalSandbaggingParams]:
    from introscope.experiments.eval_sandbagging.trials import EvalSandbaggingSolver

    return EvalSandbaggingSolver()


EXPERIMENT = Experiment(
    kind="eval_sandbagging",
    title="Sandbagging check: accuracy under weight noise",
    description="Does accuracy on solvable items improve under small weight noise, per framing?",
    package=__name__,
    params=eval_sandbagging_params,
    solver=solver,
    tables=analysis.tables,
    measures=("logits",),
    headlines=analysis.headlines,
    steps=scorecard.STEPS,
    scorecard_part=scorecard.PART,
    scorecard=scorecard.scorecard,
    figures=figures.figures,
    sections=section.sections,
)
