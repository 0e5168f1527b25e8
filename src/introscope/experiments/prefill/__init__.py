"""(c) Prefill / retroactive intention (``docs/protocols.md`` §2c): the assistant's reply is
prefilled with an unrelated word and the user asks whether it was meant. Injecting the
word's own vector on the earlier sentence ("match") against no injection or another word's
vector ("other"): a lower apology rate under "match" means the judgement of its own output
consults earlier activations, not only the text. No scorecard step.
"""

from __future__ import annotations

from introscope.experiments.base import Experiment, Solver
from introscope.experiments.prefill import analysis, figures, section
from introscope.experiments.prefill.params import PrefillParams, prefill_params


def solver() -> Solver[PrefillParams]:
    from introscope.experiments.prefill.trials import PrefillSolver

    return PrefillSolver()


EXPERIMENT = Experiment(
    kind="prefill",
    title="Prefill / retroactive intention",
    description=(
        "Does injecting a prefilled word's vector beforehand make the model disown it less? "
        "(paper experiment c)"
    ),
    package=__name__,
    params=prefill_params,
    solver=solver,
    tables=analysis.tables,
    measures=("generation",),
    headlines=analysis.headlines,
    figures=figures.figures,
    sections=section.sections,
)
