"""Category thresholds (``docs/protocols.md`` §3): per word category, the lowest injection
strength at which the detection question's P(yes) under the concept vector beats a
norm-matched random vector at the same layer and strength, plus two measures of how readily
each concept connects to the trial prompt (scorecard step 9).

Logit readout only. ``grid.categories`` defaults to all five paper categories;
``grid.n_concepts`` keeps the first N concepts *per category*; explicit ``grid.concepts``
are added with their paper category (``"custom"`` when they are in none).
"""

from __future__ import annotations

from introscope.experiments.base import Experiment, Solver
from introscope.experiments.category_thresholds import analysis, figures, scorecard, section
from introscope.experiments.category_thresholds.params import (
    KIND,
    CategoryThresholdsParams,
    category_thresholds_params,
)


def solver() -> Solver[CategoryThresholdsParams]:
    from introscope.experiments.category_thresholds.trials import CategoryThresholdsSolver

    return CategoryThresholdsSolver()


EXPERIMENT = Experiment(
    kind=KIND,
    title="Category thresholds",
    description="The lowest strength at which each word category's vectors beat a "
    "norm-matched random vector on the detection question (logit readout)",
    package=__name__,
    params=category_thresholds_params,
    solver=solver,
    tables=analysis.tables,
    measures=("logits",),
    headlines=scorecard.headlines,
    steps={scorecard.STEP: scorecard.STEP_TITLE},
    scorecard=scorecard.scorecard,
    figures=figures.figures,
    sections=section.sections,
)
