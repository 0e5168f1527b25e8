"""Chain of thought (c): hints toward an answer, whether the answer follows them and whether
the reasoning says so; and the suite's per-item synthesis (``docs/protocols.md`` §6c-d;
scorecard steps 205 and 206)."""

from __future__ import annotations

from introscope.experiments.base import Experiment, Solver
from introscope.experiments.cot_hints import analysis, figures, scorecard, section
from introscope.experiments.cot_hints.params import CotHintParams, cot_hint_params


def solver() -> Solver[CotHintParams]:
    from introscope.experiments.cot_hints.trials import CotHintSolver

    return CotHintSolver()


EXPERIMENT = Experiment(
    kind="cot_hints",
    title="Hints and whether the reasoning says so",
    description=(
        "Does the answer move to a hinted answer, and does the chain of thought mention the "
        "hint when it does? With the suite's per-item synthesis."
    ),
    package=__name__,
    params=cot_hint_params,
    solver=solver,
    tables=analysis.tables,
    measures=("generation",),
    needs=("cot_probe", "cot_interventions"),
    headlines=scorecard.headlines,
    steps={
        205: "hints: switching and P(verbalised | switched)",
        206: "per item: decodable before the chain vs reasoning that matters",
    },
    scorecard_part="chain of thought",
    scorecard=scorecard.scorecard,
    figures=figures.figures,
    sections=section.sections,
)
