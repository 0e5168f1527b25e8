"""Parameters shared by the concept-injection experiments: which concepts, at which layers
and strengths, with which control vectors. A slice's own parameters extend
:class:`InjectionGrid` and read the spec with :func:`grid_values` and
:func:`injected_controls`, so every slice validates these fields the same way."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, cast

from introscope.errors import SpecError
from introscope.experiments.base import ExperimentParams, refuse_values, spec_concepts

if TYPE_CHECKING:
    from introscope.spec import Spec

Control = Literal["concept", "random", "negated", "none"]
InjectedControl = Literal["concept", "random", "negated"]
INJECTED_CONTROLS: tuple[InjectedControl, ...] = ("concept", "random", "negated")

#: The spec fields naming the concepts, and those of the whole injection grid.
CONCEPT_FIELDS = ("grid.concepts", "grid.categories", "grid.n_concepts")
GRID_FIELDS = (*CONCEPT_FIELDS, "grid.layers", "grid.strengths")
#: The configuration an experiment's headline reads, when declared before the run: used by
#: the experiments whose headline picks one configuration of several.
PRIMARY_FIELD = "primary"


class InjectionGrid(ExperimentParams):
    concepts: list[str]  # injected concepts
    layers: list[int | float | str]  # layer specs: index, negative index or depth fraction
    strengths: list[float]


def check_primary(spec: Spec, *, layers: Sequence[Any] | None, strengths: bool) -> None:
    """Refuse a declared configuration (``primary``) the run would not contain: its layer
    must be one of ``layers`` as written (None: any layer, for experiments that read every
    layer), its strength one of ``grid.strengths`` when the experiment has strengths, and
    absent when it has none."""
    primary = spec.primary
    if primary is None:
        return
    if layers is not None and primary.layer not in layers:
        raise SpecError(
            f"primary.layer: {primary.layer!r} is not one of grid.layers "
            f"({', '.join(repr(x) for x in layers)}); declare a configuration the run contains."
        )
    if not strengths:
        if primary.strength is not None:
            raise SpecError(
                f"primary.strength: the {spec.experiment} experiment has no injection "
                "strengths; declare only the layer."
            )
        return
    if primary.strength is None:
        raise SpecError("primary.strength: declare the strength too (primary = {layer, strength}).")
    if primary.strength not in spec.grid.strengths:
        raise SpecError(
            f"primary.strength: {primary.strength:g} is not one of grid.strengths "
            f"({', '.join(f'{x:g}' for x in spec.grid.strengths)}); declare a configuration "
            "the run contains."
        )


def grid_values(spec: Spec) -> dict[str, Any]:
    """The :class:`InjectionGrid` fields from a spec (a declared ``primary`` checked against
    the grid)."""
    check_primary(spec, layers=list(spec.grid.layers), strengths=True)
    return {
        "concepts": spec_concepts(spec),
        "layers": list(spec.grid.layers),
        "strengths": list(spec.grid.strengths),
    }


def injected_controls(spec: Spec, none_means: str) -> list[InjectedControl]:
    """``grid.controls`` for an experiment whose no-injection trials always run: 'none' is
    refused with ``none_means`` (what the experiment does without injection), unknown
    controls are refused."""
    controls: Sequence[str] = spec.grid.controls
    if "none" in controls:
        raise SpecError(f"grid.controls: {none_means} Leave 'none' out.")
    refuse_values("grid.controls", controls, INJECTED_CONTROLS, spec.experiment)
    return cast(list[InjectedControl], list(controls))
