"""The calibration experiment's parameters: the items (``[params]`` ``items`` /
``families``, ``grid.n_concepts`` items per family)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from introscope.experiments.base import ExperimentParams, refuse_unused
from introscope.experiments.selfreport.params import ItemTable, params_table, spec_items
from introscope.items import Item

if TYPE_CHECKING:
    from introscope.spec import Spec


class CalibrationParams(ExperimentParams):
    items: tuple[Item, ...]


def calibration_params(spec: Spec) -> CalibrationParams:
    refuse_unused(spec, ("grid.n_concepts", "params"))
    return CalibrationParams(items=spec_items(spec, params_table(spec, ItemTable)))
