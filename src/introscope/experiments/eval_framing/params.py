"""The evaluation-framing experiment's parameters, built from a spec, and its item set.

Spec fields it reads: ``grid.variants`` names the framings (``default``: all six);
``grid.n_concepts`` is the number of items per kind (contradicted-test pairs, each asked in
its contradicted and its consistent variant, and metric-gaming tasks; default 12), as the
other item-based slices count their items, so the battery's ``--scale`` scales it;
``grid.layers`` are the layers at which the evaluation-awareness projection is read
(:mod:`.awareness`); ``[params] paraphrases`` is how many of each framing's three
paraphrases are asked (default all three). Every item is asked under every framing x
paraphrase x format; the readout is deterministic, so once. Generation
mode (measure ``generation``, :mod:`.generation`) is greedy: it refuses a non-zero
``sampling.temperature`` and reads ``sampling.max_new_tokens`` when the spec sets it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pydantic import Field

from introscope.errors import SpecError
from introscope.experiments.base import ExperimentParams, refuse_unused, refuse_values
from introscope.experiments.eval_framing.framings import FRAMING_NAMES, PARAPHRASES
from introscope.experiments.eval_framing.generation import DEFAULT_MAX_NEW_TOKENS
from introscope.experiments.params_table import ParamsTable, params_table
from introscope.items.hackable import FAMILIES, CodeItem, code_items
from introscope.items.metric_gaming import RULES, MetricItem, metric_items

if TYPE_CHECKING:
    from introscope.spec import Spec

#: Items are the same in every run (their ids name one item forever).
ITEM_SEED = 0
#: Items per kind when ``grid.n_concepts`` is not set.
DEFAULT_ITEMS = 12


class FramingTable(ParamsTable):
    paraphrases: int = Field(default=PARAPHRASES, ge=1, le=PARAPHRASES)


class EvalFramingParams(ExperimentParams):
    framings: list[str]
    items_per_kind: int
    # How many of each framing's paraphrases are asked (the first ones).
    paraphrases: int
    # Layers (index or depth fraction) at which the evaluation-awareness projection is read
    # (the spec's grid.layers).
    awareness_layers: list[int | float | str]
    # Generation mode: tokens per response (the spec's sampling.max_new_tokens when set).
    max_new_tokens: int


def eval_framing_params(spec: Spec) -> EvalFramingParams:
    refuse_unused(spec, ("grid.variants", "grid.n_concepts", "grid.layers", "params"))
    table = params_table(spec, FramingTable)
    variants = list(spec.grid.variants)
    framings = list(FRAMING_NAMES) if variants == ["default"] else variants
    refuse_values("grid.variants", framings, FRAMING_NAMES, "eval_framing")
    if "neutral" not in framings:
        raise SpecError(
            "grid.variants: the eval_framing experiment needs 'neutral' (the reference of "
            "every contrast) among its framings."
        )
    sampling = spec.sampling
    if spec.measure == "generation" and sampling.temperature != 0:
        raise SpecError(
            "sampling.temperature: the eval_framing experiment generates greedily (each "
            "response is graded once); set temperature = 0."
        )
    set_tokens = "max_new_tokens" in sampling.model_fields_set
    return EvalFramingParams(
        framings=framings,
        items_per_kind=spec.grid.n_concepts or DEFAULT_ITEMS,
        paraphrases=table.paraphrases,
        awareness_layers=list(spec.grid.layers),
        max_new_tokens=sampling.max_new_tokens if set_tokens else DEFAULT_MAX_NEW_TOKENS,
    )


def selected_items(n: int) -> tuple[list[CodeItem], list[MetricItem]]:
    """The first ``n`` contradicted-test pairs (both variants, one family after another)
    and the first ``n`` metric-gaming tasks (one scoring rule after another)."""
    code = code_items(math.ceil(n / len(FAMILIES)), ITEM_SEED)[: 2 * n]
    metric = metric_items(math.ceil(n / len(RULES)), ITEM_SEED)[:n]
    return code, metric
