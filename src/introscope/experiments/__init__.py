"""The experiment registry: every slice, in scorecard order.

This tuple is the only list of experiment kinds: spec validation, CLI help, the battery, the
report and the scorecard all read it. Adding an experiment means adding its package and one
line here (``docs/adding-an-experiment.md``).
"""

from __future__ import annotations

from introscope.errors import SpecError
from introscope.experiments import detection, localization, mismatch
from introscope.experiments.base import Experiment

REGISTRY: tuple[Experiment, ...] = (
    # The paper's experiments (docs/protocols.md §2)...
    detection.EXPERIMENT,
    # ...and the controls that separate anomaly detection, yes-bias and read-out (§3).
    mismatch.EXPERIMENT,
    localization.EXPERIMENT,
)

EXPERIMENTS: dict[str, Experiment] = {e.kind: e for e in REGISTRY}


def get_experiment(kind: str) -> Experiment:
    if kind not in EXPERIMENTS:
        raise SpecError(f"Unknown experiment {kind!r}; known: {', '.join(EXPERIMENTS)}.")
    return EXPERIMENTS[kind]


def step_titles() -> dict[int, str]:
    """Scorecard step number -> title, from every slice's declaration."""
    out: dict[int, str] = {}
    for e in REGISTRY:
        out.update(e.steps)
    return dict(sorted(out.items()))


__all__ = ["EXPERIMENTS", "REGISTRY", "Experiment", "get_experiment", "step_titles"]
