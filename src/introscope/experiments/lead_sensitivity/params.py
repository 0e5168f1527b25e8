"""The lead-sensitivity experiment's parameters: the items and the leads (``grid.variants``:
``none``, ``suggested``, ``anchor``, ``challenge``; all four when unset; ``none`` is always
run, it is the reference)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from introscope.experiments.base import ExperimentParams, refuse_unused, refuse_values
from introscope.experiments.selfreport.params import ItemTable, params_table, spec_items
from introscope.experiments.selfreport.prompts import LEADS
from introscope.items import Item

if TYPE_CHECKING:
    from introscope.spec import Spec


class LeadParams(ExperimentParams):
    items: tuple[Item, ...]
    leads: list[str]


def lead_params(spec: Spec) -> LeadParams:
    refuse_unused(spec, ("grid.n_concepts", "grid.variants", "params"))
    variants = list(spec.grid.variants)
    if variants == ["default"]:
        leads = list(LEADS)
    else:
        refuse_values("grid.variants", variants, LEADS, spec.experiment)
        leads = ["none", *[v for v in LEADS[1:] if v in variants]]
    return LeadParams(items=spec_items(spec, params_table(spec, ItemTable)), leads=leads)
