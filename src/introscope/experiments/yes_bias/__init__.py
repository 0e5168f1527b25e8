"""Yes-bias control (``docs/protocols.md`` §3): the detection experiment's injections,
applied while the model answers yes/no questions about the world and about itself, asked as
trials of the detection conversation (same preamble, same "Trial 1:" frame, same injection
span); scorecard step 3.

If an injection moves the detection question's log-odds of "yes" no more than it moves
questions whose answer has nothing to do with injected thoughts, the "detection" is a push
toward "yes" (or a drift toward 0.5), not a report about the injected content. The bank has
"yes"- and "no"-answer questions so that a push (both kinds rise) and a drift toward 0.5
("no"-answer questions rise, "yes"-answer ones fall) are told apart; concepts and questions
are fully crossed and paired with the detection slice's trials per concept.
"""

from __future__ import annotations

from introscope.experiments.base import Experiment, Solver
from introscope.experiments.yes_bias import analysis, figures, scorecard, section
from introscope.experiments.yes_bias.params import YesBiasParams, yes_bias_params


def solver() -> Solver[YesBiasParams]:
    from introscope.experiments.yes_bias.trials import YesBiasSolver

    return YesBiasSolver()


EXPERIMENT = Experiment(
    kind="yes_bias",
    title="Yes-bias control",
    description="Does an injection push any yes/no answer toward 'yes'? (control for a)",
    package=__name__,
    params=yes_bias_params,
    solver=solver,
    tables=analysis.tables,
    needs=("detection",),
    headlines=analysis.headlines,
    steps={3: scorecard.TITLE},
    scorecard=scorecard.scorecard,
    figures=figures.figures,
    sections=section.sections,
)
