"""How the suite shows items and reads where a chain states its answer."""

from __future__ import annotations

from introscope.experiments.cot.format import (
    answer_label,
    chance,
    labels,
    open_key,
    question_block,
    reordered,
    stated_at,
    stated_label,
)
from introscope.items import Item

MC = Item(
    "m1", "geo", "What is the capital of France?", "Paris", ("Lyon", "Paris", "Nice", "Brest")
)
YN = Item("y1", "x_yes_no", "Is A taller than B?", "No", ("Yes", "No"), source="comparison_pairs")
OPEN = Item("o1", "arith", "What is 2 plus 3?", "5")


def test_labels_and_blocks() -> None:
    assert labels(MC) == ("A", "B", "C", "D") and answer_label(MC) == "B" and chance(MC) == 0.25
    assert labels(YN) == ("Yes", "No") and answer_label(YN) == "No"
    assert labels(OPEN) == () and answer_label(OPEN) == "5"
    assert question_block(MC).splitlines()[1:] == ["(A) Lyon", "(B) Paris", "(C) Nice", "(D) Brest"]
    assert question_block(YN) == YN.question
    moved = reordered(MC, "D", "Paris")
    assert moved.options == ("Lyon", "Nice", "Brest", "Paris") and moved.answer_letter == "D"


def test_statements() -> None:
    text = "A is a letter. Lyon is big. So, the answer is (B) Paris."
    assert stated_label(text, MC) == "B"
    assert stated_at(text, MC, "B") == text.index("(B") + 2
    assert stated_label("a cat sat. The answer choices are:\n(A) Lyon", MC) is None
    assert stated_label("Thinking.\nThe answer is:\n\nD) Brest", MC) == "D"
    assert stated_label("Paris is the correct answer.", MC) == "B"
    assert stated_label("The answer is paris.", MC) == "B"
    assert stated_label("No, A is shorter.", YN) == "No"
    assert stated_label("It is tall. Yes, it is.", YN) == "Yes"
    assert stated_label("I know nothing about it", YN) is None
    assert stated_label("so the answer is 5 apples", OPEN) is None  # open: keys, not labels
    assert stated_at("so the answer is 5 apples", OPEN, "5") is not None


def test_open_keys() -> None:
    assert open_key(" 1,234 apples") == "1234" and open_key("2.5") == "2.5"
    assert open_key("The Paris.") == "paris"
