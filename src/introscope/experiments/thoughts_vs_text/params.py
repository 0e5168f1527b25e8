"""The thoughts-vs-text experiment's parameters, built from a spec."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from introscope.experiments.base import ExperimentParams, refuse_unused, spec_concepts

if TYPE_CHECKING:
    from introscope.spec import Spec

Control = Literal["concept", "random", "negated", "none"]


class ThoughtsVsTextParams(ExperimentParams):
    """Each trial's store columns: ``concept`` = the injected concept, ``control`` = the
    injection kind (concept / random / negated / none)."""

    concepts: list[str]  # injected concepts, each also the target among its candidates
    layers: list[int | float | str]  # layer specs: index, negative index or depth fraction
    strengths: list[float]
    controls: list[Control]  # per concept: its own vector, random, negated, or no injection
    repeats: int  # trials per (concept, layer, strength, control) cell; each repeat moves
    # every concept to the next sentence


def thoughts_vs_text_params(spec: Spec) -> ThoughtsVsTextParams:
    refuse_unused(
        spec,
        (
            "grid.concepts",
            "grid.categories",
            "grid.n_concepts",
            "grid.layers",
            "grid.strengths",
            "grid.controls",
            "trials_per_cell",
        ),
    )
    g = spec.grid
    return ThoughtsVsTextParams(
        concepts=spec_concepts(spec),
        layers=list(g.layers),
        strengths=list(g.strengths),
        controls=list(g.controls),
        repeats=spec.trials_per_cell,
    )
