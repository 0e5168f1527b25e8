"""The hidden-state linkage experiment's parameters: the items, the declared layers
(``grid.layers``: where dropout is applied and where residual norm and logit-lens entropy
are summarized), and the dropout probe (``[params]`` ``dropout_p``, ``dropout_passes``,
``dropout_window``: ``"last"`` = the answer position only, ``"all"`` = every prompt
token)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from introscope.experiments.base import ExperimentParams, refuse_unused
from introscope.experiments.selfreport.params import ItemTable, params_table, spec_items
from introscope.items import Item

if TYPE_CHECKING:
    from introscope.spec import Spec

DropoutWindow = Literal["last", "all"]


class LinkageTable(ItemTable):
    dropout_p: float = Field(default=0.1, gt=0.0, lt=1.0)
    dropout_passes: int = Field(default=10, ge=2, le=256)
    dropout_window: DropoutWindow = "last"


class LinkageParams(ExperimentParams):
    items: tuple[Item, ...]
    layers: list[int | float | str]
    dropout_p: float
    dropout_passes: int
    dropout_window: DropoutWindow


def linkage_params(spec: Spec) -> LinkageParams:
    refuse_unused(spec, ("grid.n_concepts", "grid.layers", "params"))
    table = params_table(spec, LinkageTable)
    return LinkageParams(
        items=spec_items(spec, table),
        layers=list(spec.grid.layers),
        dropout_p=table.dropout_p,
        dropout_passes=table.dropout_passes,
        dropout_window=table.dropout_window,
    )
