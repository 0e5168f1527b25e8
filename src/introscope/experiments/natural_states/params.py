"""The natural-states experiment's parameters, built from a spec."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from introscope.experiments import prompts as P
from introscope.experiments.base import (
    EXPERIMENT_FIELDS,
    ExperimentParams,
    refuse_unused,
    refuse_values,
    spec_concepts,
)
from introscope.experiments.grid import PRIMARY_FIELD, check_primary

if TYPE_CHECKING:
    from introscope.spec import Spec

KIND = "natural_states"


class NaturalStatesParams(ExperimentParams):
    # 2: the state is read at the passage's last token, not at the last prompt token whose
    # logits give the report (issue 10).
    protocol: ClassVar[int] = 2

    concepts: list[str]  # concepts the passages make active
    layers: list[int | float | str]  # where the activation's projection is read
    templates: list[str]  # passage templates (keys of prompts.NATURAL_PASSAGES)
    repeats: int  # trials per (concept, template); repeat r uses request r mod 4


def natural_states_params(spec: Spec) -> NaturalStatesParams:
    """``grid.variants`` names the passage templates (all three when left at its default);
    ``grid.controls`` may only say ``["none"]``: nothing is injected."""
    refuse_unused(
        spec,
        (
            "grid.concepts",
            "grid.categories",
            "grid.n_concepts",
            "grid.layers",
            "grid.controls",
            "grid.variants",
            "trials_per_cell",
            PRIMARY_FIELD,
        ),
    )
    g = spec.grid
    check_primary(spec, layers=list(g.layers), strengths=False)
    if list(g.controls) != EXPERIMENT_FIELDS["grid.controls"]:
        refuse_values("grid.controls", g.controls, ["none"], KIND)
    templates = list(P.NATURAL_PASSAGES)
    if list(g.variants) != EXPERIMENT_FIELDS["grid.variants"]:
        refuse_values("grid.variants", g.variants, templates, KIND)
        templates = list(dict.fromkeys(g.variants))  # in the spec's order (trial order)
    return NaturalStatesParams(
        concepts=spec_concepts(spec),
        layers=list(g.layers),
        templates=templates,
        repeats=spec.trials_per_cell,
    )
