"""The chain-of-thought interventions experiment's parameters.

``[params]``: the items (:mod:`introscope.experiments.cot.params`; open questions are
allowed, their answers compared as numbers or normalized text); ``interventions``, which of
``truncate`` (early answering), ``filler``, ``mistake`` (word problems only) and
``paraphrase`` (only with a ``[judge]`` endpoint; skipped, and said so, without one) to run
on every chain; ``fractions``, the truncation points (0 and 1 included, increasing).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from introscope.experiments.base import ExperimentParams, refuse_unused
from introscope.experiments.cot.params import (
    ItemTable,
    params_table,
    refuse_judge_criteria,
    spec_items,
)
from introscope.items import Item

if TYPE_CHECKING:
    from introscope.spec import Spec

Intervention = Literal["truncate", "filler", "mistake", "paraphrase"]
INTERVENTIONS: tuple[Intervention, ...] = ("truncate", "filler", "mistake", "paraphrase")


class InterventionTable(ItemTable):
    interventions: list[Intervention] = Field(
        default_factory=lambda: list(INTERVENTIONS), min_length=1
    )
    fractions: list[float] = Field(default_factory=lambda: [0.0, 0.25, 0.5, 0.75, 1.0])

    @field_validator("fractions")
    @classmethod
    def _fractions(cls, v: list[float]) -> list[float]:
        if v != sorted(set(v)) or not v or v[0] != 0.0 or v[-1] != 1.0:
            raise ValueError("give increasing fractions from 0 to 1, both ends included")
        return v


class CotInterventionParams(ExperimentParams):
    items: tuple[Item, ...]
    interventions: list[Intervention]
    fractions: list[float]
    # Paraphrasing asked for and an endpoint to do it (the spec's [judge] table).
    paraphrase: bool


def cot_intervention_params(spec: Spec) -> CotInterventionParams:
    refuse_unused(spec, ("grid.n_concepts", "params"))
    refuse_judge_criteria(spec, ())
    table = params_table(spec, InterventionTable)
    return CotInterventionParams(
        items=spec_items(spec, table, need_options=False),
        interventions=list(dict.fromkeys(table.interventions)),
        fractions=list(table.fractions),
        paraphrase="paraphrase" in table.interventions and spec.judge is not None,
    )
