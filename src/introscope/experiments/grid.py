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

Control = Literal["concept", "random", "negated", "other", "matched_random", "none"]
InjectedControl = Literal["concept", "random", "negated", "other", "matched_random"]
#: What each injected control puts in the residual stream (``core.vectors.control_vector``):
#: the anomaly controls are matched to the concept vector's norm at the layer; "other" and
#: "matched_random" are also matched in kind (directions the model's activations take), and
#: the steering check measures how closely their functional effect (KL) matches.
INJECTED_CONTROLS: tuple[InjectedControl, ...] = (
    "concept",
    "random",
    "negated",
    "other",
    "matched_random",
)
CONTROL_DESCRIPTIONS: dict[str, str] = {
    "concept": "the concept's own vector",
    "random": "an isotropic Gaussian vector of the concept vector's norm",
    "negated": "the negated concept vector",
    "other": "another concept's vector rescaled to this concept's norm",
    "matched_random": "a covariance-matched random vector (the difference of two baseline "
    "words' activations, rescaled to the concept vector's norm)",
    "none": "no injection",
}

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
    check_other_control(controls, spec_concepts(spec))
    return cast(list[InjectedControl], list(controls))


def check_other_control(controls: Sequence[str], concepts: Sequence[str]) -> None:
    """The 'other' control injects another concept of the same grid: it needs two."""
    if "other" in controls and len(set(concepts)) < 2:
        raise SpecError(
            "grid.controls: 'other' injects another concept's vector, so the grid needs at "
            "least two concepts."
        )
