"""Natural states, the "heartbeat" control (``docs/protocols.md`` §3): no injection
(scorecard step 8).

A short passage makes a concept active; its template sets how strongly the *text* relates
to the concept (``repeated``: named several times, ``single``: named once, ``incidental``:
one word in a list of unrelated words). An unrelated request and the assistant's reply
follow, then "What are you thinking about right now? Answer with one word." The analysis
asks whether the report (the concept word's log-probability and rank) tracks the projection
of the model's own activation onto the concept vector beyond what the template predicts.
"""

from __future__ import annotations

from introscope.experiments.base import Experiment, Solver
from introscope.experiments.natural_states import analysis, section
from introscope.experiments.natural_states.params import (
    KIND,
    NaturalStatesParams,
    natural_states_params,
)


def solver() -> Solver[NaturalStatesParams]:
    from introscope.experiments.natural_states.trials import NaturalStatesSolver

    return NaturalStatesSolver()


EXPERIMENT = Experiment(
    kind=KIND,
    title="Natural states",
    description="Does the one-word report of what the model is thinking about track its "
    "activation beyond what the text predicts? (no injection)",
    package=__name__,
    params=natural_states_params,
    solver=solver,
    tables=analysis.tables,
    measures=("logits",),
    headlines=analysis.headlines,
    steps={analysis.STEP: analysis.STEP_TITLE},
    scorecard=analysis.scorecard,
    sections=section.sections,
)
