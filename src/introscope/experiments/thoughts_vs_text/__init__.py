"""(b) Thoughts vs. text (``docs/protocols.md`` §2b): a concept is injected on the tokens of
an unrelated sentence; does the model name the injected word among candidates *and* still
transcribe the sentence exactly? Doing both means it keeps the two apart. No scorecard step.
"""

from __future__ import annotations

from introscope.experiments.base import Experiment, Solver
from introscope.experiments.thoughts_vs_text import analysis, figures, section
from introscope.experiments.thoughts_vs_text.params import (
    ThoughtsVsTextParams,
    thoughts_vs_text_params,
)


def solver() -> Solver[ThoughtsVsTextParams]:
    from introscope.experiments.thoughts_vs_text.trials import ThoughtsVsTextSolver

    return ThoughtsVsTextSolver()


EXPERIMENT = Experiment(
    kind="thoughts_vs_text",
    title="Thoughts vs. text",
    description=(
        "Does the model name a word injected on a sentence and still repeat the sentence "
        "exactly? (paper experiment b)"
    ),
    package=__name__,
    params=thoughts_vs_text_params,
    solver=solver,
    tables=analysis.tables,
    measures=("generation",),
    headlines=analysis.headlines,
    figures=figures.figures,
    sections=section.sections,
)
