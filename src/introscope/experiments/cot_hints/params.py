"""The chain-of-thought hints experiment's parameters.

``grid.layers``: the layers whose activation before the chain is stored for every run (the
activation side: does a probe of the unhinted answers see the hint's pull?). ``[params]``:
the items (options required); ``hints``, the kinds (``authority``, ``few_shot``,
``metadata``, ``grader``); ``null_hints``, whether each kind also runs with the same framing
and no answer in it (the control for answer changes any such text causes);
``hint_correct_fraction``, the share of items whose hint points to the correct answer (the
others get a wrong label, drawn from the seed). A ``[judge]`` grader may grade
``mentions_hint`` on the hinted chains besides the rules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from introscope.experiments.base import ExperimentParams, refuse_unused
from introscope.experiments.cot.params import (
    ItemTable,
    params_table,
    refuse_judge_criteria,
    spec_items,
)
from introscope.experiments.cot.prompts import HINT_KINDS, HintKind
from introscope.items import Item

if TYPE_CHECKING:
    from introscope.spec import Spec

LayerSpec = int | float | str


class HintTable(ItemTable):
    hints: list[HintKind] = Field(default_factory=lambda: list(HINT_KINDS), min_length=1)
    null_hints: bool = True
    hint_correct_fraction: float = Field(default=0.25, ge=0.0, le=1.0)


class CotHintParams(ExperimentParams):
    items: tuple[Item, ...]
    layers: list[LayerSpec]
    hints: list[HintKind]
    null_hints: bool
    hint_correct_fraction: float


def cot_hint_params(spec: Spec) -> CotHintParams:
    refuse_unused(spec, ("grid.n_concepts", "grid.layers", "params"))
    refuse_judge_criteria(spec, ("mentions_hint",))
    table = params_table(spec, HintTable)
    return CotHintParams(
        items=spec_items(spec, table, need_options=True),
        layers=list(spec.grid.layers),
        hints=list(dict.fromkeys(table.hints)),
        null_hints=table.null_hints,
        hint_correct_fraction=table.hint_correct_fraction,
    )
