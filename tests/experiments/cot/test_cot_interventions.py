"""The interventions on fake models with known behaviour: an answer that ignores the chain
never follows a corrupted step and never changes under truncation (AOC 0); an answer read
off the chain follows the mistake and changes exactly when the truncation removes it."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from cot_fakes import FakeLM, FakeReasoner, chain_of, option_label

from introscope.experiments.cot.chains import cut_at_cue, filler, plan_mistake, truncated
from introscope.experiments.cot.format import answer_label, labels
from introscope.experiments.cot.prompts import OPENER, reasoning_prompt
from introscope.experiments.cot_interventions.analysis import aoc, tables
from introscope.experiments.cot_interventions.procedure import intervene
from introscope.items import Item, multiple_choice_items
from introscope.items.word_problems import WordProblem, propagate, word_problems
from introscope.stats.intervals import wilson_interval

PROBLEMS = word_problems(4, seed=3)  # 24 problems in six families
LM = FakeLM()


def true_chain(wp: WordProblem, first: int | None = None) -> str:
    steps = " ".join(f"Step {k + 1}: {s}." for k, s in enumerate(wp.chain(first)))
    return f"\n{steps}\nSo the answer is {propagate(wp.steps, first)[-1]}."


def problem_of(prompt: str) -> WordProblem:
    return next(wp for wp in PROBLEMS if wp.item.question in prompt)


def faithful_writer(prompt: str) -> str:
    """Writes the problem's chain; asked to continue a chain that ends in step 1's (possibly
    changed) result, carries that value through the remaining steps."""
    wp = problem_of(prompt)
    so_far = prompt.split(OPENER, 1)[1]
    if not so_far:
        return true_chain(wp)
    first = int(re.findall(r"\d+", so_far)[-1])
    rest = propagate(wp.steps, first)
    tail = " ".join(f"Step {k + 1}: {line}." for k, line in enumerate(wp.chain(first)) if k >= 1)
    return f". {tail}\nSo the answer is {rest[-1]}."


def reads_chain(prompt: str, labs: Any) -> str:
    """The label whose option is the last number after '=' or 'is' in the chain; the first
    label when the chain shows none that is an option."""
    wp = problem_of(prompt)
    for num in reversed(re.findall(r"(?:=|is) (\d+)", chain_of(prompt))):
        lab = option_label(wp.item, num)
        if lab is not None:
            return lab
    return labels(wp.item)[0]


def reads_statement(prompt: str, labs: Any) -> str:
    """The label of the number in "the answer is N" (the first label without one)."""
    wp = problem_of(prompt)
    found = re.findall(r"answer is (\d+)", chain_of(prompt))
    lab = option_label(wp.item, found[-1]) if found else None
    return lab if lab is not None else labels(wp.item)[0]


def ignores_chain(prompt: str, labs: Any) -> str:
    return answer_label(problem_of(prompt).item)


def run(answerer: Any, interventions: list[str], trial_records: Any) -> dict[str, Any]:
    reasoner = FakeReasoner(faithful_writer, answerer)
    items = [wp.item for wp in PROBLEMS]
    prompts = [reasoning_prompt(LM, it) for it in items]  # type: ignore[arg-type]
    chains, readouts = intervene(
        reasoner, items, prompts, list(range(len(items))), interventions, [0, 0.25, 0.5, 0.75, 1]
    )
    recs = trial_records()
    for it, ch, r in zip(items, chains, readouts, strict=True):
        recs.add(
            "cot_interventions",
            {"item": it.id, "family": it.family, "kind": "chain"},
            response=ch.raw,
            logits=r,
        )
    return tables(recs.run(), {})


def test_an_answer_that_ignores_the_chain_never_follows_a_mistake(trial_records: Any) -> None:
    t = run(ignores_chain, ["mistake", "truncate"], trial_records)
    m = t["mistakes"].set_index("source")
    assert m.loc["all", "n_items"] == len(PROBLEMS)
    assert m.loc["own", "n_items"] == len(PROBLEMS)  # every chain writes step 1's result
    assert m.loc["all", "follows"] == 0.0 and m.loc["all", "control_follows"] == 0.0
    assert m.loc["all", "net_follows"] == 0.0 and m.loc["all", "changed"] == 0.0
    assert t["aoc"]["aoc"].iloc[0] == 0.0
    assert (t["early_answering"]["same_answer"] == 1.0).all()
    assert t["accuracy"]["accuracy"].iloc[0] == 1.0


def test_an_answer_read_off_the_chain_follows_the_mistake(trial_records: Any) -> None:
    t = run(reads_chain, ["mistake"], trial_records)
    m = t["mistakes"].set_index("source")
    assert m.loc["all", "follows"] == 1.0 and m.loc["all", "control_follows"] == 0.0
    assert m.loc["all", "net_follows"] == 1.0 and m.loc["all", "changed"] == 1.0
    lo = m.loc["all", "net_follows_ci_low"]
    # Every family follows, so every resample gives 1; the interval is Wilson's for n of n.
    n = int(m.loc["all", "net_follows_n"])
    assert (
        lo == pytest.approx(wilson_interval(n, n)[0]) and m.loc["all", "net_follows_ci_high"] == 1.0
    )


def test_early_answering_when_only_the_last_words_hold_the_answer(trial_records: Any) -> None:
    # The answer shows only in "So the answer is N." at the chain's end: every truncation
    # below 100% removes it, so matches are 0, 0, 0, 0, 1 and the area is 7/8.
    t = run(reads_statement, ["truncate"], trial_records)
    items = t["items"]
    assert (items["full_correct"] == 1.0).all()
    firsts_correct = {wp.item.id for wp in PROBLEMS if labels(wp.item)[0] == answer_label(wp.item)}
    other = items[~items["item"].isin(firsts_correct)]
    assert len(other) > 10
    assert np.allclose(other["aoc"], 0.875)


def test_aoc_by_hand() -> None:
    assert aoc({0.0: 1.0, 0.5: 1.0, 1.0: 1.0}) == 0.0
    assert aoc({0.0: 0.0, 0.25: 0.0, 0.5: 0.0, 0.75: 0.0, 1.0: 1.0}) == 0.875
    assert aoc({0.0: 0.0, 0.5: 1.0, 1.0: 1.0}) == 0.25
    assert np.isnan(aoc({0.0: float("nan"), 1.0: 1.0}))


def test_truncation_filler_and_cut(trial_records: Any) -> None:
    r = FakeReasoner(faithful_writer, ignores_chain)
    chain = "\nStep 1: 6 * 9 = 54. Step 2: 54 - 4 = 50."
    n = len(r.encode(chain))
    assert n == 14
    assert truncated(r, chain, 0.0) == ""
    assert truncated(r, chain, 0.5) == "\nStep 1: 6 * 9 = 54."
    assert truncated(r, chain, 1.0) == chain
    assert len(r.encode(filler(r, n))) == n
    assert cut_at_cue("Step 1. So 5.\nAnswer: B\nmore") == "Step 1. So 5."
    assert cut_at_cue("no cue here  ") == "no cue here"


def test_mistake_plans() -> None:
    wp = PROBLEMS[0]
    own = plan_mistake(wp, true_chain(wp))
    assert own.source == "own" and own.control is None
    assert own.prefix.endswith(f"= {wp.mistake_value}") and str(wp.steps[0].value) not in own.prefix
    assert wp.item.option_text(own.mistake_label) == str(wp.mistake_answer)
    assert wp.item.option_text(own.true_label) == wp.item.answer
    ref = plan_mistake(wp, "I do not write numbers.")
    assert ref.source == "reference"
    assert ref.prefix.endswith(str(wp.mistake_value)) and ref.control is not None
    assert ref.control.endswith(str(wp.steps[0].value))
    assert ref.prefix[: -len(str(wp.mistake_value))] == ref.control[: -len(str(wp.steps[0].value))]


def test_items_without_steps_get_no_mistake_and_open_items_are_answered(trial_records: Any) -> None:
    mc = multiple_choice_items()[:3]
    open_item = Item("o1", "open", "What is 2 plus 3?", "5")
    items = [*mc, open_item]
    r = FakeReasoner(lambda p: "\nIt is five.", lambda p, labs: labs[0] if labs else " 5 apples")
    prompts = [reasoning_prompt(LM, it) for it in items]  # type: ignore[arg-type]
    _, readouts = intervene(
        r, items, prompts, [0, 1, 2, 3], ["mistake", "filler", "paraphrase"], [0, 1]
    )
    assert [x["mistake"] for x in readouts] == [None] * 4
    assert readouts[3]["full"] == "5" and readouts[3]["correct"] == "5"
    assert all(x["paraphrase"] is None for x in readouts)
    assert {x["paraphrase_status"] for x in readouts} == {"no paraphraser endpoint is configured"}
    recs = trial_records()
    for it, x in zip(items, readouts, strict=True):
        recs.add("cot_interventions", {"item": it.id, "family": it.family}, logits=x)
    t = tables(recs.run(), {})
    assert t["mistakes"].empty
    assert t["paraphrase"]["status"].iloc[0] == "not run: no paraphraser endpoint is configured"
    assert t["filler"]["filler_same_answer"].iloc[0] == 1.0


@pytest.mark.parametrize("ok", [True, False])
def test_paraphrased_chains_are_read(ok: bool, trial_records: Any) -> None:
    items = [wp.item for wp in PROBLEMS[:6]]
    r = FakeReasoner(faithful_writer, reads_chain)
    prompts = [reasoning_prompt(LM, it) for it in items]  # type: ignore[arg-type]

    def para(chains: Any) -> list[tuple[str | None, str | None]]:
        # A faithful paraphrase keeps the numbers; a failing endpoint gives errors.
        return [(c.replace("Step", "Stage"), None) if ok else (None, "HTTP 500") for c in chains]

    _, readouts = intervene(r, items, prompts, list(range(6)), ["paraphrase"], [0, 1], para)
    recs = trial_records()
    for it, x in zip(items, readouts, strict=True):
        recs.add("cot_interventions", {"item": it.id, "family": it.family}, logits=x)
    row = tables(recs.run(), {})["paraphrase"].iloc[0]
    if ok:
        assert row["status"] == "ran" and row["same_answer"] == 1.0 and row["n_items"] == 6
    else:
        assert row["status"] == "not run: error: HTTP 500" and row["n_items"] == 0
