"""The yes-bias question bank: yes/no questions about the world and about the assistant,
whose true answer is "no" or "yes" (texts in :mod:`introscope.experiments.prompts`).

The bank is split into four *kinds* (answer x topic). An experiment asks the first ``k``
questions of every kind, in the bank's order (:func:`selected`): a declared choice, the
same for every model, never picked after seeing answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from introscope.experiments import prompts as P

Answer = Literal["yes", "no"]
Topic = Literal["world", "self"]

#: The kinds, in the order trials are built: (true answer, topic).
KINDS: tuple[tuple[Answer, Topic], ...] = (
    ("no", "world"),
    ("no", "self"),
    ("yes", "world"),
    ("yes", "self"),
)
TEXTS: dict[tuple[Answer, Topic], list[str]] = {
    ("no", "world"): P.NO_QUESTIONS_WORLD,
    ("no", "self"): P.NO_QUESTIONS_SELF,
    ("yes", "world"): P.YES_QUESTIONS_WORLD,
    ("yes", "self"): P.YES_QUESTIONS_SELF,
}


@dataclass(frozen=True)
class Question:
    question_id: str  # "no-world-03": the kind and the position in its list
    answer: Answer  # the true answer
    topic: Topic  # about the world, or about the assistant itself
    text: str


def bank() -> list[Question]:
    """Every question, kind by kind in :data:`KINDS` order."""
    return [
        Question(f"{answer}-{topic}-{i:02d}", answer, topic, text)
        for answer, topic in KINDS
        for i, text in enumerate(TEXTS[(answer, topic)])
    ]


def per_kind() -> int:
    """How many questions the smallest kind has (the most an experiment can ask per kind)."""
    return min(len(v) for v in TEXTS.values())


def selected(k: int) -> list[Question]:
    """The first ``k`` questions of every kind, kind by kind."""
    return [q for q in bank() if int(q.question_id.rsplit("-", 1)[1]) < k]


def by_id() -> dict[str, Question]:
    return {q.question_id: q for q in bank()}
