"""(a) Injected-thought detection (``docs/protocols.md`` §2a), with random / negated /
no-injection controls, identification and mutual information (scorecard steps 1, 2, 4, 5).

A preamble tells the model that thoughts may be injected; the trial question asks whether
it detects one and what it is about. Injection runs from the trial question through every
generated token. ``grid.variants`` adds other wordings and an earlier-turn injection window
(:mod:`~introscope.experiments.detection.params`); logits trials are also read in a neutral
frame under the same injection, the leakage control
(:mod:`~introscope.experiments.detection.leakage`).
"""

from __future__ import annotations

from introscope.experiments.base import Experiment, Solver
from introscope.experiments.detection import analysis, figures, scorecard, section
from introscope.experiments.detection.params import DetectionParams, detection_params


def solver() -> Solver[DetectionParams]:
    from introscope.experiments.detection.trials import DetectionSolver

    return DetectionSolver()


EXPERIMENT = Experiment(
    kind="detection",
    title="Injected-thought detection",
    description="Does the model report an injected thought, and name it? (paper experiment a)",
    package=__name__,
    relative_strengths=True,
    params=detection_params,
    solver=solver,
    tables=analysis.tables,
    needs=("steering_check",),  # each control's KL, next to its detection effect (step 4)
    headlines=analysis.headlines,
    steps={
        1: "raw detection",
        2: "net detection (minus control false positives)",
        4: "anomaly controls: random, negated, other-concept and matched-random vectors",
        5: "identification above chance and mutual information",
    },
    select=scorecard.select,
    scorecard=scorecard.scorecard,
    figures=figures.figures,
    sections=section.sections,
)
