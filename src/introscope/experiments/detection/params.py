"""The detection experiment's parameters, built from a spec."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from introscope.experiments.base import ExperimentParams, refuse_unused, spec_concepts

if TYPE_CHECKING:
    from introscope.spec import Spec

Control = Literal["concept", "random", "negated", "none"]


class DetectionParams(ExperimentParams):
    concepts: list[str]  # injected concepts
    layers: list[int | float | str]  # layer specs: index, negative index or depth fraction
    strengths: list[float]
    controls: list[Control]  # per concept: its own vector, random, negated, or no injection
    control_trials: int  # no-injection trials (the false-positive control)
    repeats: int  # trials per (concept, layer, strength, control) cell


def detection_params(spec: Spec) -> DetectionParams:
    refuse_unused(
        spec,
        (
            "grid.concepts",
            "grid.categories",
            "grid.n_concepts",
            "grid.layers",
            "grid.strengths",
            "grid.controls",
            "control_trials",
            "trials_per_cell",
        ),
    )
    g = spec.grid
    return DetectionParams(
        concepts=spec_concepts(spec),
        layers=list(g.layers),
        strengths=list(g.strengths),
        controls=list(g.controls),
        control_trials=spec.control_trials,
        repeats=spec.trials_per_cell,
    )
