"""One question with a known answer, the unit of analysis of the metacognition suite.

An :class:`Item` is a question (with lettered options, or open), its answer, the family it
belongs to (the cluster every interval is computed over) and a difficulty variable where the
bank has one. Its *surface features* are what a reader sees without running a model
(question length, digits, options); the suite asks whether self-reports carry information
beyond them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OPTION_LETTERS = "ABCDEFGH"

#: Surface features of an item, in the order the surface-feature models use them. Family
#: (categorical) is added as dummies where a model uses it.
SURFACE_FEATURES: tuple[str, ...] = (
    "question_chars",
    "question_words",
    "digit_count",
    "option_count",
    "option_chars",
)


@dataclass(frozen=True)
class Item:
    """A question. ``options`` is None for an open question (the answer is free text, e.g. a
    number); otherwise ``answer`` is one of the options. ``difficulty`` is the bank's own
    difficulty variable (digits for arithmetic, closeness for comparisons), None if it has
    none; larger is harder."""

    id: str
    family: str
    question: str
    answer: str
    options: tuple[str, ...] | None = None
    difficulty: float | None = None
    source: str = ""

    @property
    def answer_index(self) -> int | None:
        return None if self.options is None else self.options.index(self.answer)

    @property
    def answer_letter(self) -> str | None:
        i = self.answer_index
        return None if i is None else OPTION_LETTERS[i]

    @property
    def letters(self) -> tuple[str, ...]:
        return tuple(OPTION_LETTERS[: len(self.options)]) if self.options else ()

    def option_text(self, letter: str) -> str:
        """The option behind a letter ("B" -> "Paris")."""
        assert self.options is not None
        return self.options[OPTION_LETTERS.index(letter)]

    def surface(self) -> dict[str, float]:
        return surface_features(self)


def surface_features(item: Item) -> dict[str, float]:
    """What the question shows on its face: characters and words of the question, digits in
    question and options, how many options and their total length (0 for open questions)."""
    opts = item.options or ()
    text = item.question + " ".join(opts)
    return {
        "question_chars": float(len(item.question)),
        "question_words": float(len(item.question.split())),
        "digit_count": float(sum(c.isdigit() for c in text)),
        "option_count": float(len(opts)),
        "option_chars": float(sum(len(o) for o in opts)),
    }


_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def normalize_answer(text: str) -> str:
    """Lower case, no surrounding punctuation or articles, single spaces (for open answers)."""
    t = text.strip().lower()
    t = re.sub(r"^(the answer is|answer:)\s*", "", t)
    t = re.sub(r"[\s]+", " ", t).strip(" .,!?;:\"'")
    return re.sub(r"^(the|a|an) ", "", t)


def first_number(text: str) -> float | None:
    m = _NUMBER.search(text)
    if m is None:
        return None
    try:
        return float(m.group(0).replace(",", ""))
    except ValueError:
        return None


def answer_number(response: str) -> float | None:
    """The number a response gives as its answer: the first one after the last "=" when the
    response restates the sum ("16 + 92 = 108"), else the first one."""
    _, eq, after = response.rpartition("=")
    return first_number(after) if eq else first_number(response)


def open_answer_correct(item: Item, response: str) -> bool:
    """Whether a free-text answer matches the item's answer: numerically when the answer is
    a number (:func:`answer_number`), else as normalized text (the response starting with
    the answer)."""
    target = first_number(item.answer) if _NUMBER.fullmatch(item.answer.strip()) else None
    if target is not None:
        got = answer_number(response)
        return got is not None and abs(got - target) < 1e-9
    return normalize_answer(response).startswith(normalize_answer(item.answer))


def first_word(text: str) -> str:
    """The first word of a response, lower case, without punctuation ('' when empty)."""
    for tok in text.strip().split():
        w = tok.strip(".,!?;:\"'()[]*").lower()
        if w:
            return w
    return ""
