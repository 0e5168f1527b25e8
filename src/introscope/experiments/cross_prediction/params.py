"""The cross-prediction experiment's parameters: the items; ``[params]`` ``properties``
(which behaviours are predicted), ``shots`` (how many in-context examples of the first
model's behaviour each predictor gets), ``other_model`` (a second model given the same
prompts; none by default) and ``folds`` (of the surface-feature classifier)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from introscope.experiments.base import ExperimentParams, refuse_unused
from introscope.experiments.selfreport.params import ItemTable, params_table, spec_items
from introscope.items import Item

if TYPE_CHECKING:
    from introscope.spec import Spec

Property = Literal["correct", "chooses_a", "first_word"]
PROPERTIES: tuple[Property, ...] = ("correct", "chooses_a", "first_word")


class CrossTable(ItemTable):
    properties: list[Property] = Field(default_factory=lambda: list(PROPERTIES), min_length=1)
    shots: list[int] = Field(default_factory=lambda: [0, 8], min_length=1)
    other_model: str | None = None
    folds: int = Field(default=5, ge=2, le=20)

    @field_validator("shots")
    @classmethod
    def _shots(cls, v: list[int]) -> list[int]:
        if any(k < 0 for k in v) or len(set(v)) != len(v):
            raise ValueError("shots must be distinct counts >= 0")
        return sorted(v)


class CrossParams(ExperimentParams):
    items: tuple[Item, ...]
    properties: list[Property]
    shots: list[int]
    other_model: str | None
    folds: int


def cross_params(spec: Spec) -> CrossParams:
    refuse_unused(spec, ("grid.n_concepts", "params"))
    t = params_table(spec, CrossTable)
    return CrossParams(
        items=spec_items(spec, t),
        properties=list(t.properties),
        shots=list(t.shots),
        other_model=t.other_model,
        folds=t.folds,
    )
