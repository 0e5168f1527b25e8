"""Localization control (``docs/protocols.md`` §3): in which of five numbered sentences was
the thought injected, and does the question "which sentence is the most abstract?" find the
injected sentence as often (scorecard step 7)?

The concept vector is added on the tokens of one sentence; the same stimuli are shown with
the localization question, the abstractness question, and without injection (positional
bias). Logit readout over the answers "1".."5" only.
"""

from __future__ import annotations

from introscope.experiments.base import Experiment, Solver
from introscope.experiments.localization import analysis, figures, section
from introscope.experiments.localization.params import LocalizationParams, localization_params


def solver() -> Solver[LocalizationParams]:
    from introscope.experiments.localization.trials import LocalizationSolver

    return LocalizationSolver()


EXPERIMENT = Experiment(
    kind="localization",
    title="Localization vs abstractness",
    description=(
        "Can the model say which sentence carried the injection, beyond how the sentence "
        "reads? (control)"
    ),
    package=__name__,
    params=localization_params,
    solver=solver,
    tables=analysis.tables,
    measures=("logits",),
    headlines=analysis.headlines,
    steps={analysis.STEP: analysis.STEP_TITLE},
    scorecard=analysis.scorecard,
    figures=figures.figures,
    sections=section.sections,
)
