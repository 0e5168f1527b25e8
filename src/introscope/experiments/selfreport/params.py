"""Parameters the suite's slices share: the ``[params]`` table read through a pydantic
model of the slice's own keys, and the item selection.

Items: ``params.items`` lists the sources (banks ``multiple_choice``, ``comparisons``,
``arithmetic``, or paths to JSONL files of the user's own items), ``params.families`` keeps
some families, ``grid.n_concepts`` is the number of items per family (the battery's
``--scale`` multiplies it) and the spec's seed draws them. Items are loaded when the spec is
validated, so a bad item file is reported before anything runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from introscope.errors import SpecError
from introscope.experiments.params_table import ParamsTable as ParamsTable
from introscope.experiments.params_table import params_table as params_table
from introscope.items import BANKS, Item, load_items

if TYPE_CHECKING:
    from introscope.spec import Spec

DEFAULT_SOURCES: tuple[str, ...] = BANKS


class ItemTable(ParamsTable):
    items: list[str] = Field(default_factory=lambda: list(DEFAULT_SOURCES), min_length=1)
    families: list[str] | None = None


def spec_items(spec: Spec, table: ItemTable) -> tuple[Item, ...]:
    """The items a spec selects (deterministic from its seed)."""
    items = load_items(
        table.items, per_family=spec.grid.n_concepts, families=table.families, seed=spec.seed
    )
    if not items:
        raise SpecError("params.items: the sources hold no items.")
    return tuple(items)


def item_condition(item: Item, **extra: Any) -> dict[str, Any]:
    """A trial's condition for an item: its id and family (the unit and its cluster)."""
    return {"item": item.id, "family": item.family, **extra}
