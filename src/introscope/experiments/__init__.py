"""The experiment registry: every slice, in scorecard order.

This tuple is the only list of experiment kinds: spec validation, CLI help, the battery, the
report and the scorecard all read it. Adding an experiment means adding its package and one
line here (``docs/adding-an-experiment.md``).
"""

from __future__ import annotations

from introscope.errors import SpecError
from introscope.experiments import (
    calibration,
    cross_prediction,
    detection,
    hidden_state_linkage,
    intentional_control,
    lead_sensitivity,
    neurofeedback,
    prefill,
    thoughts_vs_text,
)
from introscope.experiments.base import Experiment

REGISTRY: tuple[Experiment, ...] = (
    detection.EXPERIMENT,  # the paper's (a), with identification and MI (steps 1, 2, 4, 5)
    thoughts_vs_text.EXPERIMENT,  # the paper's (b)
    prefill.EXPERIMENT,  # the paper's (c)
    intentional_control.EXPERIMENT,  # the paper's (d)
    # The metacognition suite (scorecard part "metacognition", steps 101-106).
    calibration.EXPERIMENT,  # 101
    hidden_state_linkage.EXPERIMENT,  # 102, 104
    cross_prediction.EXPERIMENT,  # 103
    neurofeedback.EXPERIMENT,  # 105
    lead_sensitivity.EXPERIMENT,  # 106
)

EXPERIMENTS: dict[str, Experiment] = {e.kind: e for e in REGISTRY}


def get_experiment(kind: str) -> Experiment:
    if kind not in EXPERIMENTS:
        raise SpecError(f"Unknown experiment {kind!r}; known: {', '.join(EXPERIMENTS)}.")
    return EXPERIMENTS[kind]


def step_parts() -> dict[int, str]:
    """Scorecard step number -> the scorecard part it belongs to."""
    return {step: e.scorecard_part for e in REGISTRY for step in e.steps}


def step_titles() -> dict[int, str]:
    """Scorecard step number -> title, from every slice's declaration."""
    out: dict[int, str] = {}
    for e in REGISTRY:
        out.update(e.steps)
    return dict(sorted(out.items()))


__all__ = [
    "EXPERIMENTS",
    "REGISTRY",
    "Experiment",
    "get_experiment",
    "step_parts",
    "step_titles",
]
