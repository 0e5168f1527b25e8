"""Item banks for self-report experiments (torch-free).

Banks, by name: ``arithmetic`` (generated k-digit addition and multiplication, open
answers), ``comparisons`` (generated from a bundled table of entities, two options, both
orders), ``multiple_choice`` (290 bundled four-option questions in six families). Two more
serve the chain-of-thought suite (:data:`COT_BANKS`): ``word_problems`` (generated
multi-step arithmetic with known intermediate results) and ``comparison_pairs`` (yes/no
comparisons asked in both orders). Any other source is a path to a JSONL file of the user's
own items (:mod:`introscope.items.user`).
:func:`load_items` draws a deterministic selection per family.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from introscope.errors import ItemError
from introscope.items.arithmetic import arithmetic_items
from introscope.items.bundled import multiple_choice_items
from introscope.items.comparison_pairs import comparison_pair_items
from introscope.items.comparisons import comparison_items
from introscope.items.item import (
    OPTION_LETTERS,
    SURFACE_FEATURES,
    Item,
    first_word,
    open_answer_correct,
    surface_features,
)
from introscope.items.sentences import Sentence, sentence_bank
from introscope.items.user import read_user_items
from introscope.items.word_problems import word_problem_items

BANKS: tuple[str, ...] = ("multiple_choice", "comparisons", "arithmetic")
#: Banks made for the chain-of-thought suite (not in BANKS, the metacognition default).
COT_BANKS: tuple[str, ...] = ("word_problems", "comparison_pairs")

#: Items per family a generated bank makes when no count is given.
DEFAULT_GENERATED = 12


def bank_items(source: str, per_family: int | None, seed: int) -> list[Item]:
    """All items of one source (a bank name or a JSONL path)."""
    if source == "multiple_choice":
        return list(multiple_choice_items())
    if source == "comparisons":
        return comparison_items(None, seed)
    if source == "arithmetic":
        return arithmetic_items(per_family or DEFAULT_GENERATED, seed)
    if source == "word_problems":
        return word_problem_items(per_family or DEFAULT_GENERATED, seed)
    if source == "comparison_pairs":
        return comparison_pair_items(per_family or DEFAULT_GENERATED, seed)
    if source.endswith(".jsonl") or Path(source).exists():
        return read_user_items(source)
    raise ItemError(
        f"Item source {source!r} is neither a bank ({', '.join((*BANKS, *COT_BANKS))}) nor a "
        ".jsonl file."
    )


def load_items(
    sources: Sequence[str],
    *,
    per_family: int | None = None,
    families: Sequence[str] | None = None,
    seed: int = 0,
) -> list[Item]:
    """Items of every source, keeping ``families`` (all when None) and at most
    ``per_family`` per family (a draw from the seed that keeps the file order of the drawn
    items; all when None). Ids must be unique across sources."""
    pool: list[Item] = []
    for src in sources:
        pool += bank_items(src, per_family, seed)
    if families is not None:
        unknown = sorted(set(families) - {it.family for it in pool})
        if unknown:
            raise ItemError(
                f"Family {unknown[0]!r} is in none of the sources ({', '.join(sources)})."
            )
        pool = [it for it in pool if it.family in set(families)]
    by_family: dict[str, list[int]] = {}
    for i, it in enumerate(pool):
        by_family.setdefault(it.family, []).append(i)
    keep: set[int] = set()
    for fam, idx in by_family.items():
        if per_family is not None and len(idx) > per_family:
            idx = sorted(random.Random(f"{seed}:pick:{fam}").sample(idx, per_family))
        keep.update(idx)
    out = [pool[i] for i in sorted(keep)]
    ids = [it.id for it in out]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise ItemError(f"Item id {dup!r} occurs twice across the item sources.")
    return out


__all__ = [
    "BANKS",
    "COT_BANKS",
    "OPTION_LETTERS",
    "SURFACE_FEATURES",
    "Item",
    "Sentence",
    "arithmetic_items",
    "bank_items",
    "comparison_items",
    "comparison_pair_items",
    "first_word",
    "load_items",
    "multiple_choice_items",
    "open_answer_correct",
    "read_user_items",
    "sentence_bank",
    "surface_features",
    "word_problem_items",
]
