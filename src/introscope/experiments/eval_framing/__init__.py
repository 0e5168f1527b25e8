"""Evaluation framing and reward hacking (issue 13): does calling a check a private
self-diagnostic tool instead of an external judgment change how often the model picks the
candidate that games it?

Forced choice on hackable-by-construction items (contradicted unit tests, metric-gaming
tasks; :mod:`introscope.items.hackable`, :mod:`introscope.items.metric_gaming`) and their
consistent twins, under six framings x three paraphrases x two formats, read from the
candidates' letter probabilities, with the same forward's projection on an
evaluation-awareness direction; GEE contrasts clustered by item; scorecard part "evaluation
framing" (steps 301-304, the permission control first, as a gate). Generation mode (measure
``generation``, :mod:`.generation`): the model writes the code or the answer, graded by
running the code in the sandbox and by the metric items' rules; the same tables, contrasts
and steps 301-303.
"""

from __future__ import annotations

from introscope.experiments.base import Experiment, Solver
from introscope.experiments.eval_framing import analysis, figures, scorecard, section
from introscope.experiments.eval_framing.params import EvalFramingParams, eval_framing_params


def solver() -> Solver[EvalFramingParams]:
    from introscope.experiments.eval_framing.trials import EvalFramingSolver

    return EvalFramingSolver()


EXPERIMENT = Experiment(
    kind="eval_framing",
    title="Evaluation framing and reward hacking",
    description="Does a self-diagnostic vs judgment framing change test-gaming choices?",
    package=__name__,
    params=eval_framing_params,
    solver=solver,
    tables=analysis.tables,
    measures=("logits", "generation"),
    headlines=analysis.headlines,
    steps=scorecard.STEPS,
    scorecard_part=scorecard.PART,
    scorecard=scorecard.scorecard,
    gate=scorecard.gate,
    figures=figures.figures,
    sections=section.sections,
)
