"""The localization experiment's parameters, built from a spec."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, cast

from introscope.errors import SpecError
from introscope.experiments.base import (
    ExperimentParams,
    refuse_unused,
    refuse_values,
    spec_concepts,
)

if TYPE_CHECKING:
    from introscope.spec import Spec

InjectedControl = Literal["concept", "random", "negated"]
INJECTED_CONTROLS: tuple[InjectedControl, ...] = ("concept", "random", "negated")


class LocalizationParams(ExperimentParams):
    concepts: list[str]  # injected concepts, one stimulus per (concept, rep)
    layers: list[int | float | str]  # layer specs: index, negative index or depth fraction
    strengths: list[float]
    controls: list[InjectedControl]  # per concept: its own vector, random, or negated
    repeats: int  # stimuli per concept


def localization_params(spec: Spec) -> LocalizationParams:
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
    if "none" in g.controls:
        raise SpecError(
            "grid.controls: the localization experiment always shows every stimulus once "
            "without injection ('none'). Leave 'none' out."
        )
    refuse_values("grid.controls", g.controls, INJECTED_CONTROLS, "localization")
    return LocalizationParams(
        concepts=spec_concepts(spec),
        layers=list(g.layers),
        strengths=list(g.strengths),
        # 'none' and unknown controls were refused above.
        controls=cast(list[InjectedControl], list(g.controls)),
        repeats=spec.trials_per_cell,
    )
