"""The chain-of-thought probe experiment's parameters.

``grid.layers``: the layers whose activation before the reasoning is probed (the best is
chosen on held-out folds). ``[params]``: the items (:mod:`introscope.experiments.cot.params`);
``lead_layer``, the layer read along the chain's tokens (declared in advance, one layer);
``lead_positions``, at most this many chain positions stored per item (evenly spaced, the
position before the chain and the last token always among them); ``steer_strengths``, the
steering strengths as fractions of the mean activation norm at the steering layer (an empty
list turns steering off); ``steer_layer``, the steering layer (None: the probe layer with the
best out-of-fold accuracy on the fit items); ``steer_fit_fraction``, the share of each
family's items the steering direction is fitted on (the rest are steered).
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
from introscope.items import Item

if TYPE_CHECKING:
    from introscope.spec import Spec

LayerSpec = int | float | str


class ProbeTable(ItemTable):
    lead_layer: LayerSpec = 0.67
    lead_positions: int = Field(default=32, ge=2, le=1024)
    steer_strengths: list[float] = Field(default_factory=lambda: [1.0])
    steer_layer: LayerSpec | None = None
    steer_fit_fraction: float = Field(default=0.5, gt=0.0, lt=1.0)


class CotProbeParams(ExperimentParams):
    items: tuple[Item, ...]
    layers: list[LayerSpec]
    lead_layer: LayerSpec
    lead_positions: int
    steer_strengths: list[float]
    steer_layer: LayerSpec | None
    steer_fit_fraction: float


def cot_probe_params(spec: Spec) -> CotProbeParams:
    refuse_unused(spec, ("grid.n_concepts", "grid.layers", "params"))
    refuse_judge_criteria(spec, ())
    table = params_table(spec, ProbeTable)
    return CotProbeParams(
        items=spec_items(spec, table, need_options=True),
        layers=list(spec.grid.layers),
        lead_layer=table.lead_layer,
        lead_positions=table.lead_positions,
        steer_strengths=list(table.steer_strengths),
        steer_layer=table.steer_layer,
        steer_fit_fraction=table.steer_fit_fraction,
    )
