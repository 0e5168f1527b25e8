"""How the chain-of-thought suite shows an item and reads an answer (torch-free).

An item with options is answered by a *label*: a letter (A, B, ...) for lettered options, or
Yes / No for a yes/no item (:func:`introscope.items.comparison_pairs.is_yes_no`). An open
item is answered by text, compared after :func:`open_key` (the first number, or the
normalized text). :func:`stated_at` finds where a reasoning chain first states an answer in
so many words ("the answer is (B)", "Answer: Yes", a sentence that starts with "No").
"""

from __future__ import annotations

import re

from introscope.items import OPTION_LETTERS, Item
from introscope.items.comparison_pairs import is_yes_no
from introscope.items.item import first_number, normalize_answer


def labels(item: Item) -> tuple[str, ...]:
    """The answer labels of an item: ("Yes", "No"), letters, or () for an open item."""
    if item.options is None:
        return ()
    if is_yes_no(item):
        return ("Yes", "No")
    return tuple(OPTION_LETTERS[: len(item.options)])


def answer_label(item: Item) -> str:
    """The correct label (the normalized answer for an open item)."""
    if item.options is None:
        return open_key(item.answer)
    if is_yes_no(item):
        return item.answer
    letter = item.answer_letter
    assert letter is not None
    return letter


def label_option(item: Item, label: str) -> str:
    """The option text behind a label ("B" -> "Paris"; "Yes" -> "Yes")."""
    if is_yes_no(item) or item.options is None:
        return label
    return item.option_text(label)


def chance(item: Item) -> float:
    """Chance accuracy of a uniform guess among the labels (NaN for an open item)."""
    k = len(labels(item))
    return 1.0 / k if k else float("nan")


def option_lines(item: Item, order: tuple[str, ...] | None = None) -> str:
    """``(A) Paris`` lines (options in ``order`` when given); '' for yes/no and open."""
    if item.options is None or is_yes_no(item):
        return ""
    opts = order if order is not None else item.options
    return "\n".join(f"({OPTION_LETTERS[i]}) {o}" for i, o in enumerate(opts))


def question_block(item: Item, order: tuple[str, ...] | None = None) -> str:
    """The question and its lettered options."""
    lines = option_lines(item, order)
    return item.question + (f"\n{lines}" if lines else "")


def reordered(item: Item, label: str, option: str) -> Item:
    """The item with ``option`` moved to ``label``'s position (the others keep their order),
    for few-shot examples whose answers all sit at one letter."""
    assert item.options is not None and not is_yes_no(item)
    rest = [o for o in item.options if o != option]
    rest.insert(OPTION_LETTERS.index(label), option)
    return Item(
        item.id, item.family, item.question, item.answer, tuple(rest), item.difficulty, item.source
    )


def open_key(text: str) -> str:
    """An open answer as compared: its first number ("54"), else the normalized text."""
    n = first_number(text)
    if n is not None:
        return str(int(n)) if float(n).is_integer() else f"{n:g}"
    return normalize_answer(text).split("\n")[0][:40]


# --------------------------------------------------------------------------- statements

# "answer" in any case (not "answer choices"), then up to 24 characters of the same
# sentence ("answer is (", "answer is:\n\n").
_ANSWER_WORD = r"(?i:\banswer\b(?!\s*(?:choices|options)))[^.]{0,24}?"


def _statement_patterns(item: Item, label: str) -> list[re.Pattern[str]]:
    """Ways a chain states ``label``. Letters match in capitals only (the article "a" is no
    answer "A"); Yes / No, option texts and open answers in any case."""
    if item.options is None:
        return [re.compile(_ANSWER_WORD + re.escape(label), re.IGNORECASE)]
    if is_yes_no(item):
        lab = re.escape(label)
        return [
            re.compile(rf"{_ANSWER_WORD}\b{lab}\b", re.IGNORECASE),
            re.compile(rf"(?:^|[.!?:\n]\s*){lab}\b", re.IGNORECASE),  # "Yes, ..." / ". No,"
        ]
    lab, opt = re.escape(label), re.escape(label_option(item, label))
    return [
        re.compile(rf"{_ANSWER_WORD}\(?\b{lab}\b"),  # the answer is (B) / Answer: B
        re.compile(rf"\(?\b{lab}\b\)?\s+(?i:is\s+(?:the\s+)?(?:correct|right))\b"),
        re.compile(rf"{_ANSWER_WORD}{opt}", re.IGNORECASE),  # the answer is Paris
        re.compile(rf"\b{opt}\s+is\s+(?:the\s+)?(?:correct|right)\s+answer", re.IGNORECASE),
    ]


def stated_at(cot: str, item: Item, label: str) -> int | None:
    """The character index just past the first place the chain states ``label`` as its
    answer in so many words, None when it never does."""
    ends = [m.end() for p in _statement_patterns(item, label) if (m := p.search(cot))]
    return min(ends) if ends else None


def stated_label(cot: str, item: Item) -> str | None:
    """The label the chain states first (None when it states none)."""
    best: tuple[int, str] | None = None
    for lab in labels(item):
        at = stated_at(cot, item, lab)
        if at is not None and (best is None or at < best[0]):
            best = (at, lab)
    return None if best is None else best[1]
