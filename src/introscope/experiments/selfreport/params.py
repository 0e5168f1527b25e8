"""Parameters the suite's slices share: the ``[params]`` table read through a pydantic
model of the slice's own keys, and the item selection.

Items: ``params.items`` lists the sources (banks ``multiple_choice``, ``comparisons``,
``arithmetic``, or paths to JSONL files of the user's own items), ``params.families`` keeps
some families, ``grid.n_concepts`` is the number of items per family (the battery's
``--scale`` multiplies it) and the spec's seed draws them. Items are loaded when the spec is
validated, so a bad item file is reported before anything runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from introscope.errors import SpecError
from introscope.items import BANKS, Item, load_items

if TYPE_CHECKING:
    from introscope.spec import Spec

DEFAULT_SOURCES: tuple[str, ...] = BANKS

T = TypeVar("T", bound=BaseModel)


class ParamsTable(BaseModel):
    """Base of a slice's ``[params]`` table: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ItemTable(ParamsTable):
    items: list[str] = Field(default_factory=lambda: list(DEFAULT_SOURCES), min_length=1)
    families: list[str] | None = None


def params_table(spec: Spec, model: type[T]) -> T:
    """``spec.params`` as ``model``; the first problem is a :class:`SpecError` naming the
    key (``params.shots: ...``)."""
    try:
        return model.model_validate(spec.params)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "(table)"
        msg = "unknown key" if err["type"] == "extra_forbidden" else str(err["msg"])
        raise SpecError(
            f"params.{key}: {msg.removeprefix('Value error, ')} (the {spec.experiment} "
            f"experiment reads {', '.join(model.model_fields)})."
        ) from None


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
