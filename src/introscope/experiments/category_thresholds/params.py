"""The category-thresholds experiment's parameters, built from a spec."""

from __future__ import annotations

from typing import TYPE_CHECKING

from introscope.experiments.base import ExperimentParams, refuse_unused, refuse_values
from introscope.experiments.grid import GRID_FIELDS, InjectedControl
from introscope.words import CATEGORIES, word_list

if TYPE_CHECKING:
    from introscope.spec import Spec

KIND = "category_thresholds"
#: The controls this slice's solver builds itself (one seeded random direction per concept);
#: the other-concept and matched-random controls are not among them.
CONTROLS: tuple[InjectedControl, ...] = ("concept", "random", "negated")


class CategoryThresholdsParams(ExperimentParams):
    categories: dict[str, str]  # concept -> its category, in sweep order
    layers: list[int | float | str]
    strengths: list[float]
    controls: list[
        InjectedControl
    ]  # injected controls: concept and its matched random vector first


def concept_categories(spec: Spec) -> dict[str, str]:
    """Concept -> category for the spec's grid, in sweep order: ``grid.categories`` (all
    five paper categories when neither categories nor concepts are given), the first
    ``grid.n_concepts`` of each, then explicit ``grid.concepts`` with their paper category
    (``"custom"`` when they are in none)."""
    cats = list(spec.grid.categories)
    if not cats and not spec.grid.concepts:
        cats = list(CATEGORIES)
    out: dict[str, str] = {}
    for cat in cats:
        words = word_list(cat)
        for w in words[: spec.grid.n_concepts] if spec.grid.n_concepts else words:
            out.setdefault(w, cat)
    lookup = {w: c for c in CATEGORIES for w in word_list(c)}
    for w in spec.grid.concepts:
        out.setdefault(w, lookup.get(w, "custom"))
    return out


def category_thresholds_params(spec: Spec) -> CategoryThresholdsParams:
    """``grid.n_concepts`` counts per category here. The no-injection trial is always run,
    so ``grid.controls`` names injected controls only; ``trials_per_cell`` and
    ``control_trials`` are refused: the readout is deterministic, so repeats would be
    copies."""
    refuse_unused(spec, (*GRID_FIELDS, "grid.controls"))
    g = spec.grid
    refuse_values("grid.controls", g.controls, CONTROLS, KIND)
    # Always the concept vector and its matched random vector, plus any others asked for.
    controls: list[InjectedControl] = ["concept", "random"]
    controls += [c for c in g.controls if c != "none" and c not in controls]
    return CategoryThresholdsParams(
        categories=concept_categories(spec),
        layers=list(g.layers),
        strengths=list(g.strengths),
        controls=controls,
    )
