"""The yes-bias dataset: yes/no questions whose true answer is "no", about the world and
about the assistant itself (texts in :mod:`introscope.experiments.prompts`)."""

from __future__ import annotations

from introscope.experiments import prompts as P

QUESTION_KINDS = ("world", "self")


def questions() -> list[tuple[str, str, str]]:
    """(question_id, kind, text) for every no-answer question; kind is "world" or "self"."""
    out = [(f"world-{i:02d}", "world", q) for i, q in enumerate(P.NO_QUESTIONS_WORLD)]
    out += [(f"self-{i:02d}", "self", q) for i, q in enumerate(P.NO_QUESTIONS_SELF)]
    return out
