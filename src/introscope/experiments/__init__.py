"""The experiment registry: every slice, in scorecard order.

This tuple is the only list of experiment kinds: spec validation, CLI help, the battery, the
report and the scorecard all read it. Adding an experiment means adding its package and one
line here (``docs/adding-an-experiment.md``).
"""

from __future__ import annotations

from introscope.errors import SpecError
from introscope.experiments import (
    calibration,
    category_thresholds,
    cot_hints,
    cot_interventions,
    cot_probe,
    cross_prediction,
    detection,
    eval_framing,
    eval_sandbagging,
    eval_steering,
    eval_training,
    hidden_state_linkage,
    intentional_control,
    lead_sensitivity,
    localization,
    mismatch,
    natural_states,
    neurofeedback,
    prefill,
    steering_check,
    thoughts_vs_text,
    yes_bias,
)
from introscope.experiments.base import Experiment

REGISTRY: tuple[Experiment, ...] = (
    steering_check.EXPERIMENT,  # positive control: do the injections act at all? (step 0)
    detection.EXPERIMENT,  # the paper's (a), with identification and MI (steps 1, 2, 4, 5)
    yes_bias.EXPERIMENT,  # a push toward "yes" (step 3)
    thoughts_vs_text.EXPERIMENT,  # the paper's (b)
    prefill.EXPERIMENT,  # the paper's (c)
    intentional_control.EXPERIMENT,  # the paper's (d)
    mismatch.EXPERIMENT,  # congruent vs incongruent question (step 6)
    localization.EXPERIMENT,  # which sentence was injected, vs abstractness (step 7)
    natural_states.EXPERIMENT,  # the "heartbeat" control (step 8)
    category_thresholds.EXPERIMENT,  # thresholds per concept category (step 9)
    # The metacognition suite (scorecard part "metacognition", steps 101-106).
    calibration.EXPERIMENT,  # 101
    hidden_state_linkage.EXPERIMENT,  # 102, 104
    cross_prediction.EXPERIMENT,  # 103
    neurofeedback.EXPERIMENT,  # 105
    lead_sensitivity.EXPERIMENT,  # 106
    cot_probe.EXPERIMENT,  # chain of thought: answer decodable before the reasoning (201, 202)
    cot_interventions.EXPERIMENT,  # chain of thought: truncation, filler, mistakes (203, 204)
    cot_hints.EXPERIMENT,  # chain of thought: hints, verbalisation, per-item synthesis (205, 206)
    eval_framing.EXPERIMENT,  # evaluation framing and reward hacking (steps 301-304)
    eval_steering.EXPERIMENT,  # evaluation framing: steering and the framing direction (305, 306)
    eval_sandbagging.EXPERIMENT,  # sandbagging check: accuracy under weight noise (step 307)
    eval_training.EXPERIMENT,  # evaluation framing, train-time arms: LoRA prefixes (309, 310)
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
