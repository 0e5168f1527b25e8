"""The item banks: sizes, determinism, both orders of every comparison, balanced answer
letters, surface features, and the validation of a user's JSONL file (one sentence per bad
line)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from introscope.errors import ItemError
from introscope.items import (
    arithmetic_items,
    comparison_items,
    load_items,
    multiple_choice_items,
    open_answer_correct,
    read_user_items,
    sentence_bank,
    surface_features,
)
from introscope.items.comparisons import entity_table
from introscope.items.item import Item, first_word


def test_bundled_multiple_choice_bank() -> None:
    items = multiple_choice_items()
    fams = Counter(it.family for it in items)
    assert len(items) == 290 and len(fams) == 6 and min(fams.values()) == 40
    assert len({it.id for it in items}) == len(items)
    for it in items:
        assert it.options is not None and len(it.options) == 4 and it.answer in it.options
    letters = Counter(it.answer_letter for it in items)
    assert set(letters) == set("ABCD") and min(letters.values()) > 0.15 * len(items)
    assert multiple_choice_items() == multiple_choice_items()  # order fixed by item ids


def test_comparisons_come_in_both_orders_and_respect_the_gap() -> None:
    items = comparison_items()
    by_id = {it.id: it for it in items}
    assert len(items) > 1000 and len({it.family for it in items}) == len(entity_table()) == 8
    for it in items:
        i, j = it.id.rsplit("-", 2)[1:]
        twin = by_id[f"cmp-{it.family}-{j}-{i}"]
        assert twin.answer == it.answer and twin.options == tuple(reversed(it.options or ()))
        assert 0 < (it.difficulty or 0) <= 1
    letters = Counter(it.answer_letter for it in items)
    assert letters["A"] == letters["B"]
    table = entity_table()["landmark_heights"]["entities"]
    q = next(it for it in items if it.family == "landmark_heights")
    a, b = q.options or ()
    assert q.answer == (a if table[a] > table[b] else b)
    assert comparison_items(3, seed=1) == comparison_items(3, seed=1) != comparison_items(3, 2)


def test_arithmetic_is_deterministic_with_digits_as_difficulty() -> None:
    items = arithmetic_items(6, seed=4)
    assert items == arithmetic_items(6, seed=4) != arithmetic_items(6, seed=5)
    assert Counter(it.family for it in items) == {"addition": 6, "multiplication": 6}
    for it in items:
        a, _, b = it.question.removeprefix("What is ").removesuffix("?").split(" ")
        k = int(it.difficulty or 0)
        assert len(a) == len(b) == k and it.options is None
        op = int(a) + int(b) if it.family == "addition" else int(a) * int(b)
        assert it.answer == str(op)


def test_load_items_draws_per_family_and_refuses_unknown_families() -> None:
    items = load_items(["multiple_choice", "comparisons"], per_family=3, seed=0)
    assert (
        Counter(it.family for it in items) == dict.fromkeys({it.family for it in items}, 3)
        and len(items) == 3 * 14
    )
    assert items == load_items(["multiple_choice", "comparisons"], per_family=3, seed=0)
    geo = load_items(["multiple_choice"], families=["geography"])
    assert len(geo) == 50 and {it.family for it in geo} == {"geography"}
    with pytest.raises(ItemError, match="'astrology'"):
        load_items(["multiple_choice"], families=["astrology"])
    with pytest.raises(ItemError, match="neither a bank"):
        load_items(["trivia"])


def test_surface_features_and_open_answers() -> None:
    it = Item("x", "f", "What is 12 plus 30?", "42")
    assert surface_features(it) == {
        "question_chars": 19.0,
        "question_words": 5.0,
        "digit_count": 4.0,
        "option_count": 0.0,
        "option_chars": 0.0,
    }
    assert open_answer_correct(it, "The answer is 42.") and not open_answer_correct(it, "43")
    assert not open_answer_correct(it, "I do not know")
    assert open_answer_correct(it, "12 + 30 = 42") and not open_answer_correct(it, "12 + 30 =")
    word = Item("y", "f", "Capital of France?", "Paris")
    assert open_answer_correct(word, "paris, of course") and not open_answer_correct(word, "Lyon")
    assert first_word('  "Paris" is the capital') == "paris" and first_word("") == ""


def test_sentence_bank() -> None:
    bank = sentence_bank()
    assert len(bank) == 200 and Counter(s.setting for s in bank) == {"outdoor": 100, "indoor": 100}
    assert len({s.text for s in bank}) == 200


def _write(tmp_path: Path, lines: list[str]) -> Path:
    p = tmp_path / "mine.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_user_items_are_read_and_every_bad_line_is_named(tmp_path: Path) -> None:
    good = [
        json.dumps({"question": "2+2?", "answer": "4"}),
        "",
        json.dumps(
            {
                "id": "c",
                "family": "chem",
                "question": "Noble gas?",
                "options": ["Neon", "Iron"],
                "answer": "Neon",
                "difficulty": 2,
            }
        ),
    ]
    items = read_user_items(_write(tmp_path, good))
    assert [(it.id, it.family, it.options) for it in items] == [
        ("user-1", "user", None),
        ("c", "chem", ("Neon", "Iron")),
    ]
    bad = [
        *good,
        "{not json",
        json.dumps({"question": "Q?", "answer": "X", "options": ["A", "B"]}),
        json.dumps({"question": "Q?", "answer": "A", "color": "red"}),
        json.dumps({"id": "c", "question": "Q?", "answer": "A"}),
        json.dumps({"question": "", "answer": "A"}),
        json.dumps(["a list"]),
        json.dumps({"question": "Q?", "answer": "A", "difficulty": "hard"}),
    ]
    with pytest.raises(ItemError) as exc:
        read_user_items(_write(tmp_path, bad))
    problems = exc.value.problems
    assert [p.split(": ")[1] for p in problems] == [f"line {n}" for n in range(4, 11)]
    assert "not valid JSON" in problems[0]
    assert "'X' is not one of the options" in problems[1]
    assert "unknown key 'color'" in problems[2]
    assert "'c' already used on line 3" in problems[3]
    assert "'question' must be a non-empty string" in problems[4]
    assert "not a JSON object" in problems[5]
    assert "'difficulty' must be a finite number" in problems[6]
    assert str(exc.value).startswith(f"{tmp_path / 'mine.jsonl'} has 7 bad lines:")
    with pytest.raises(ItemError, match="does not exist"):
        read_user_items(tmp_path / "nope.jsonl")
