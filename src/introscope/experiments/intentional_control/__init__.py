"""(d) Intentional control (``docs/protocols.md`` §2d), with the silent-task and mention-only
instructions. No scorecard step.

The model is told to write a sentence while thinking (or not thinking) about a word, or
while silently counting its letters, or told that the sentence has nothing to do with it;
the sentence is prefilled as its reply. The readout is the cosine between the reply's
activations and the word's concept vector, against other words' vectors. No injection.
"""

from __future__ import annotations

from introscope.experiments.base import Experiment, Solver
from introscope.experiments.intentional_control import analysis, figures, section
from introscope.experiments.intentional_control.params import (
    IntentionalControlParams,
    intentional_control_params,
)


def solver() -> Solver[IntentionalControlParams]:
    from introscope.experiments.intentional_control.trials import IntentionalControlSolver

    return IntentionalControlSolver()


EXPERIMENT = Experiment(
    kind="intentional_control",
    title="Intentional control",
    description=(
        "Do a sentence's activations align more with a word's vector when the model is told "
        "to think about it? (paper experiment d)"
    ),
    package=__name__,
    params=intentional_control_params,
    solver=solver,
    tables=analysis.tables,
    # Activations read at the prefilled reply, no generation: the trials are stored as
    # logits-readout trials.
    measures=("logits",),
    headlines=analysis.headlines,
    figures=figures.figures,
    sections=section.sections,
)
