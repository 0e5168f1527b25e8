"""Cross-prediction (``docs/protocols.md`` §5c, after Binder et al. 2024 without
fine-tuning): is the model better at predicting its own behaviour than a second model given
the same examples of that behaviour, and than a classifier on surface features? Scorecard
step 103 (self - other).
"""

from __future__ import annotations

from introscope.experiments.base import Experiment, Solver
from introscope.experiments.cross_prediction import analysis, figures, section
from introscope.experiments.cross_prediction.params import CrossParams, cross_params


def solver() -> Solver[CrossParams]:
    from introscope.experiments.cross_prediction.trials import CrossSolver

    return CrossSolver()


EXPERIMENT = Experiment(
    kind="cross_prediction",
    title="Cross-prediction: self vs other",
    description=(
        "Does the model predict its own behaviour better than another model or a "
        "surface-feature classifier?"
    ),
    package=__name__,
    params=cross_params,
    solver=solver,
    tables=analysis.tables,
    measures=("generation",),
    headlines=analysis.headlines,
    steps={103: "self - other (privileged access)"},
    scorecard_part="metacognition",
    scorecard=analysis.scorecard,
    figures=figures.figures,
    sections=section.sections,
)
