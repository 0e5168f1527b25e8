"""The experiment registry: spec ``experiment`` kind -> implementation."""

from __future__ import annotations

from introscope.errors import SpecError
from introscope.experiments.base import Context, Experiment, Trial, TrialResult
from introscope.experiments.category_thresholds import CategoryThresholds
from introscope.experiments.detection import Detection
from introscope.experiments.intentional_control import IntentionalControl
from introscope.experiments.localization import Localization
from introscope.experiments.mismatch import Mismatch
from introscope.experiments.natural_states import NaturalStates
from introscope.experiments.prefill import Prefill
from introscope.experiments.thoughts_vs_text import ThoughtsVsText
from introscope.experiments.yes_bias import YesBias

_ALL: tuple[Experiment, ...] = (
    # The paper's experiments (DESIGN §3.2)...
    Detection(),
    ThoughtsVsText(),
    Prefill(),
    IntentionalControl(),
    # ...and the controls that separate anomaly detection, yes-bias and read-out (§3.3).
    YesBias(),
    Mismatch(),
    Localization(),
    NaturalStates(),
    CategoryThresholds(),
)
REGISTRY: dict[str, Experiment] = {e.kind: e for e in _ALL}


def get_experiment(kind: str) -> Experiment:
    if kind not in REGISTRY:
        raise SpecError(f"Unknown experiment {kind!r}; known: {', '.join(REGISTRY)}.")
    return REGISTRY[kind]


__all__ = ["REGISTRY", "Context", "Experiment", "Trial", "TrialResult", "get_experiment"]
