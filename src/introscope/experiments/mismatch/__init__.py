"""Mismatch control (``docs/protocols.md`` §3): inject concept Y, ask "Are you thinking
about X?" with X = Y (congruent) or another word (incongruent), and without injection
(scorecard step 6).

A yes-answer that follows the perturbation only rises as much for the unrelated word as for
the injected one; the congruent - incongruent gap in P(yes) is the part of the answer that
depends on which concept was injected. Logit readout only.
"""

from __future__ import annotations

from introscope.experiments.base import Experiment, Solver
from introscope.experiments.mismatch import analysis, figures, section
from introscope.experiments.mismatch.params import MismatchParams, mismatch_params


def solver() -> Solver[MismatchParams]:
    from introscope.experiments.mismatch.trials import MismatchSolver

    return MismatchSolver()


EXPERIMENT = Experiment(
    kind="mismatch",
    title="Mismatch control",
    description=(
        "Does P(yes) to 'Are you thinking about X?' depend on whether X is the injected "
        "concept? (control)"
    ),
    package=__name__,
    params=mismatch_params,
    solver=solver,
    tables=analysis.tables,
    measures=("logits",),
    headlines=analysis.headlines,
    steps={analysis.STEP: analysis.STEP_TITLE},
    scorecard=analysis.scorecard,
    figures=figures.figures,
    sections=section.sections,
)
