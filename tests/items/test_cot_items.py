"""The chain-of-thought suite's item generators: word problems whose steps, mistake and
options are checked by hand, and yes/no comparisons whose two orders always disagree."""

from __future__ import annotations

import pytest

from introscope.errors import ItemError
from introscope.items import COT_BANKS, load_items
from introscope.items.comparison_pairs import comparison_pair_items, is_yes_no, pair_id
from introscope.items.word_problems import (
    TEMPLATES,
    Step,
    apply,
    propagate,
    word_problem,
    word_problem_for,
    word_problems,
)


def test_steps_by_hand() -> None:
    steps = (Step(6, "*", 9, 54), Step(None, "-", 4, 50))
    assert propagate(steps) == [54, 50]
    assert propagate(steps, 57) == [57, 53]
    shopping = (Step(4, "*", 8, 32), Step(50, "-", None, 18))  # bill - cost
    assert propagate(shopping, 36) == [36, 14]
    assert apply("/", 7, 2) is None and apply("/", 8, 2) == 4 and apply("-", 3, 5) == -2
    assert propagate((Step(8, "*", 1, 8), Step(None, "/", 4, 2)), 9) == [9, -1]


def test_every_problem_is_consistent() -> None:
    problems = word_problems(6, seed=2)
    assert len(problems) == 6 * len(TEMPLATES)
    for wp in problems:
        it = wp.item
        assert it.options is not None and len(set(it.options)) == 4 and it.answer in it.options
        assert all(int(o) > 0 for o in it.options)
        assert propagate(wp.steps)[-1] == int(it.answer) == wp.steps[-1].value
        assert propagate(wp.steps, wp.mistake_value)[-1] == wp.mistake_answer
        assert wp.mistake_answer != int(it.answer) and str(wp.mistake_answer) in it.options
        assert wp.mistake_value != wp.steps[0].value
        assert word_problem_for(it) == wp
        assert len(wp.chain()) == len(wp.steps) and wp.chain()[-1].endswith(f"= {it.answer}")
    assert word_problems(6, seed=2) == problems  # deterministic
    assert word_problems(6, seed=3) != problems


def test_word_problem_by_hand() -> None:
    wp = word_problem("bakery", 0, 0)
    assert wp.item.question == (
        "A baker fills 6 trays with 9 rolls each and then sells 4 rolls. How many rolls are left?"
    )
    assert wp.chain() == ["6 * 9 = 54", "54 - 4 = 50"]
    assert wp.chain(wp.mistake_value) == [
        f"6 * 9 = {wp.mistake_value}",
        f"{wp.mistake_value} - 4 = {wp.mistake_answer}",
    ]


def test_a_foreign_item_has_no_problem() -> None:
    wp = word_problem("travel", 0, 1)
    other = load_items(["multiple_choice"])[0]
    assert word_problem_for(other) is None
    forged = type(wp.item)(wp.item.id, wp.item.family, "Another question?", "1", ("1", "2"))
    assert word_problem_for(forged) is None


def test_comparison_pairs_disagree_and_stay_whole() -> None:
    items = comparison_pair_items(None)
    pairs: dict[str, list[str]] = {}
    for it in items:
        assert is_yes_no(it) and it.family.endswith("_yes_no")
        pid = pair_id(it)
        assert pid is not None
        pairs.setdefault(pid, []).append(it.answer)
    assert all(sorted(v) == ["No", "Yes"] for v in pairs.values())
    drawn = load_items(["comparison_pairs"], per_family=4, seed=1)
    counts: dict[str, int] = {}
    for it in drawn:
        counts[pair_id(it) or ""] = counts.get(pair_id(it) or "", 0) + 1
    assert set(counts.values()) == {2}
    assert len(drawn) == 4 * len({it.family for it in drawn})
    q = {it.id: it.question for it in drawn}
    some = next(iter(counts))
    assert q[f"{some}-ab"] != q[f"{some}-ba"]


def test_the_banks_load_by_name() -> None:
    assert COT_BANKS == ("word_problems", "comparison_pairs")
    wps = load_items(["word_problems"], per_family=3)
    assert len(wps) == 3 * len(TEMPLATES)
    with pytest.raises(ItemError, match="word_problems"):
        load_items(["no_such_bank"])
