"""Hints toward an answer and their null versions (torch-free; ``docs/protocols.md`` §6c).

Every item gets one *target* label (drawn from the seed: the correct one for a
``hint_correct_fraction`` of items, a wrong one otherwise), the same for every hint kind, so
the kinds compare on the same targets. Few-shot hints: three examples asked directly and
answered correctly, every answer at the target label ("the answer is always (B)"; Turpin et
al.'s "always (A)" with the letter the hint points to), drawn from the bundled
multiple-choice bank (lettered items) or the yes/no comparison pairs (yes/no items); their
null version shows the same examples at their own, mixed, labels.
"""

from __future__ import annotations

import random
import re
from functools import cache
from typing import TYPE_CHECKING

from introscope.experiments.cot import prompts as P
from introscope.experiments.cot.format import answer_label, labels, reordered
from introscope.items import OPTION_LETTERS, Item, multiple_choice_items
from introscope.items.comparison_pairs import comparison_pair_items, is_yes_no, pair_id

if TYPE_CHECKING:
    from introscope.core.models import LoadedModel

N_EXAMPLES = 3


def hint_target(item: Item, correct_fraction: float, seed: int) -> str:
    """The label every hint of this item points to."""
    rng = random.Random(f"{seed}:hint-target:{item.id}")
    correct = answer_label(item)
    if rng.random() < correct_fraction:
        return correct
    return rng.choice([lab for lab in labels(item) if lab != correct])


@cache
def _yes_no_pool() -> tuple[Item, ...]:
    return tuple(comparison_pair_items(None, 0))


def few_shot_examples(
    item: Item, target: str, hinted: bool, seed: int
) -> list[tuple[Item, str]] | None:
    """(example, its label) x 3. Hinted: every example's correct answer at ``target``; null:
    the examples at their own labels (yes/no: answers mixed). None when the target letter
    lies beyond the examples' four options."""
    rng = random.Random(f"{seed}:few-shot:{item.id}")
    if is_yes_no(item):
        pool = [ex for ex in _yes_no_pool() if pair_id(ex) != pair_id(item) and ex.id != item.id]
        if hinted:
            chosen = rng.sample([ex for ex in pool if ex.answer == target], N_EXAMPLES)
        else:
            yes = rng.sample([ex for ex in pool if ex.answer == "Yes"], 2)
            no = rng.sample([ex for ex in pool if ex.answer == "No"], 2)
            chosen = [yes[0], no[0], yes[1]] if rng.random() < 0.5 else [no[0], yes[0], no[1]]
        return [(ex, ex.answer) for ex in chosen]
    if OPTION_LETTERS.index(target) >= 4:
        return None
    pool = [ex for ex in multiple_choice_items() if ex.id != item.id]
    chosen = rng.sample(pool, N_EXAMPLES)
    if not hinted:
        return [(ex, answer_label(ex)) for ex in chosen]
    moved = [reordered(ex, target, ex.answer) for ex in chosen]
    return [(ex, target) for ex in moved]


def hint_text(item: Item, kind: P.HintKind, target: str | None) -> str:
    """The hint as the prompt shows it (for the judge; few-shot: a description)."""
    if kind == "authority":
        return P.authority(item, target)
    if kind == "metadata":
        return P.metadata(target)
    if kind == "grader":
        return P.grader(target)
    if target is None:
        return "few-shot examples answered at mixed labels"
    return f"few-shot examples whose answers are all {P.shown(item, target)}"


def hint_prompt(
    lm: LoadedModel, item: Item, kind: P.HintKind | None, target: str | None, seed: int
) -> str | None:
    """The reasoning prompt with a hint (``target`` None: its null version; ``kind`` None:
    no hint). None when the item cannot take this hint."""
    if kind is None:
        return P.reasoning_prompt(lm, item)
    if kind == "authority":
        return P.reasoning_prompt(lm, item, after=P.authority(item, target))
    if kind == "metadata":
        return P.reasoning_prompt(lm, item, before=P.metadata(target))
    if kind == "grader":
        return P.reasoning_prompt(lm, item, before=P.grader(target))
    hinted_target = target if target is not None else answer_label(item)
    examples = few_shot_examples(item, hinted_target, target is not None, seed)
    if examples is None:
        return None
    return P.reasoning_prompt(lm, item, examples=examples)


def mentions_hint(chain: str, kind: P.HintKind) -> bool:
    """The rule grader: the chain mentions the hint (:data:`prompts.MENTIONS`)."""
    return re.search(P.MENTIONS[kind], chain.lower()) is not None
