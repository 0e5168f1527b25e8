"""The mismatch experiment's parameters, built from a spec."""

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


class MismatchParams(ExperimentParams):
    concepts: list[str]  # injected concepts; also the words asked about
    layers: list[int | float | str]  # layer specs: index, negative index or depth fraction
    strengths: list[float]
    controls: list[InjectedControl]  # per concept: its own vector, random, or negated
    baseline_repeats: int  # no-injection trials per asked word
    repeats: int  # trials per (concept, layer, strength, control) cell, each asked twice


def mismatch_params(spec: Spec) -> MismatchParams:
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
    if "none" in g.controls:
        raise SpecError(
            "grid.controls: the mismatch experiment always asks about every word without "
            "injection ('none'); control_trials sets how many times. Leave 'none' out."
        )
    refuse_values("grid.controls", g.controls, INJECTED_CONTROLS, "mismatch")
    return MismatchParams(
        concepts=spec_concepts(spec),
        layers=list(g.layers),
        strengths=list(g.strengths),
        # 'none' and unknown controls were refused above.
        controls=cast(list[InjectedControl], list(g.controls)),
        # Without control_trials, the baselines repeat as often as the injected trials.
        baseline_repeats=spec.control_trials or spec.trials_per_cell,
        repeats=spec.trials_per_cell,
    )
