"""Calibration of self-reports (``docs/protocols.md`` §5a): do the model's confidence
signals (option probability, P(True) on its own sampled answer, a verbal 0-100 confidence,
P(I know) asked before answering) separate its correct answers from its wrong ones, and are
they calibrated? Scorecard step 101.
"""

from __future__ import annotations

from introscope.experiments.base import Experiment, Solver
from introscope.experiments.calibration import analysis, figures, section
from introscope.experiments.calibration.params import CalibrationParams, calibration_params


def solver() -> Solver[CalibrationParams]:
    from introscope.experiments.calibration.trials import CalibrationSolver

    return CalibrationSolver()


EXPERIMENT = Experiment(
    kind="calibration",
    title="Calibration of self-reports",
    description="Do the model's confidence reports track the correctness of its answers?",
    package=__name__,
    params=calibration_params,
    solver=solver,
    tables=analysis.tables,
    measures=("generation",),
    headlines=analysis.headlines,
    steps={101: "calibration (AUROC / ECE)"},
    scorecard_part="metacognition",
    scorecard=analysis.scorecard,
    figures=figures.figures,
    sections=section.sections,
)
