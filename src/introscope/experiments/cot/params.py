"""Parameters the chain-of-thought slices share: the spec's ``[params]`` table read through a
pydantic model of the slice's own keys, and the items.

Items: ``params.items`` lists the sources (banks ``word_problems``, ``comparison_pairs``,
``multiple_choice``, ``comparisons``, ``arithmetic``, or paths to JSONL files of the user's
own items), ``params.families`` keeps some families, ``grid.n_concepts`` is the number of
items per family (the battery's ``--scale`` multiplies it) and the spec's seed draws them.
Items are loaded when the spec is validated, so a bad item file is reported before anything
runs. The chain length and temperature are the spec's ``[sampling]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from introscope.errors import ItemError, SpecError
from introscope.experiments.params_table import ParamsTable as ParamsTable
from introscope.experiments.params_table import params_table as params_table
from introscope.items import Item, load_items

if TYPE_CHECKING:
    from introscope.spec import Spec

DEFAULT_SOURCES: tuple[str, ...] = ("word_problems", "comparison_pairs", "multiple_choice")


class ItemTable(ParamsTable):
    items: list[str] = Field(default_factory=lambda: list(DEFAULT_SOURCES), min_length=1)
    families: list[str] | None = None


def spec_items(spec: Spec, table: ItemTable, *, need_options: bool) -> tuple[Item, ...]:
    """The items a spec selects (deterministic from its seed). ``need_options``: every item
    must have options (probes and hints read an answer label)."""
    try:
        items = load_items(
            table.items, per_family=spec.grid.n_concepts, families=table.families, seed=spec.seed
        )
    except ItemError as exc:
        raise SpecError(f"params.items: {exc}") from None
    if not items:
        raise SpecError("params.items: the sources hold no items.")
    if need_options:
        open_ = [it for it in items if it.options is None]
        if open_:
            fams = sorted({it.family for it in open_})
            raise SpecError(
                f"params.items: the {spec.experiment} experiment reads answers as option "
                f"labels, and {len(open_)} selected items are open questions (families "
                f"{', '.join(fams)}); leave those sources out or pick families with "
                "params.families."
            )
    return tuple(items)


def item_condition(item: Item, **extra: Any) -> dict[str, Any]:
    """A trial's condition for an item: its id and family (the unit and its cluster)."""
    return {"item": item.id, "family": item.family, **extra}


def refuse_judge_criteria(spec: Spec, allowed: tuple[str, ...]) -> None:
    """A judge grader may only grade criteria that mean something for this experiment."""
    if "judge" not in spec.graders or spec.judge is None:
        return
    bad = [c for c in spec.judge.criteria if c not in allowed]
    if bad:
        what = ", ".join(allowed) if allowed else "no criteria (it uses no judge grader)"
        raise SpecError(
            f"judge.criteria: {bad[0]!r} means nothing for the {spec.experiment} experiment; "
            f"it grades {what}."
        )
