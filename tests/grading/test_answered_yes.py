"""The yes/no answer grader of the yes-bias control (``rules.answered_yes``)."""

from __future__ import annotations

import pytest

from introscope.grading import rules


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes.", True),
        ("yes, it is", True),
        ("No, it is not.", False),
        ("Nope", False),
        ("Not at all.", False),
        ("The Eiffel Tower is in Paris.", None),
        ("", None),
        ("  YES!", True),
        ("Correct", True),
        # The graders' shared yes / no words (YES_WORDS, NO_WORDS) open answers too.
        ("Yup, it is.", True),
        ("Nah.", False),
        ("True", True),
        ("False.", False),
        # A curly-quoted answer still opens with the word itself.
        ("\u2018Yes\u2019", True),
        # Only the first word counts: a later "yes" does not make it an answer.
        ("I would say yes", None),
    ],
)
def test_answered_yes(text: str, expected: bool | None) -> None:
    assert rules.answered_yes(text) is expected


def test_answer_words_extend_the_shared_yes_no_words() -> None:
    assert rules.YES_WORDS <= rules.ANSWER_YES_WORDS
    assert rules.NO_WORDS <= rules.ANSWER_NO_WORDS
    assert not rules.ANSWER_YES_WORDS & rules.ANSWER_NO_WORDS
    for word in rules.ANSWER_YES_WORDS:
        assert rules.answered_yes(f"{word.capitalize()}, I think.") is True
    for word in rules.ANSWER_NO_WORDS:
        assert rules.answered_yes(f"{word.capitalize()}, I think.") is False


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hell, no, not", False),  # fillers before the answer
        ("Well, yes.", True),
        ("The capital of Canada? No", False),  # the question echoed first
        ("No. Yes.", None),  # both: neither
        ("No not always. Yes", None),
        ("Sure, I'm sleeping", True),
        ("Never, ever.", False),
        ("Please specify.", None),
    ],
)
def test_answered_yes_tuned(text: str, expected: bool | None) -> None:
    assert rules.answered_yes(text) is expected
