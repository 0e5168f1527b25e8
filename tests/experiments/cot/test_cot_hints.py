"""Hints on fake models: a model that follows every hint and never mentions it switches on
every eligible item with P(verbalised | switched) = 0, while the null hints move nothing; a
model that says so gets 1; a model that ignores hints switches never. The probe sees the
hint's pull before the chain when the activations carry the answer the model will give."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cot_fakes import FakeLM, FakeReasoner, records_from
from threadpoolctl import threadpool_limits

from introscope.experiments.base import Context
from introscope.experiments.cot.format import answer_label, labels
from introscope.experiments.cot_hints.hinting import (
    few_shot_examples,
    hint_target,
    mentions_hint,
)
from introscope.experiments.cot_hints.params import cot_hint_params
from introscope.experiments.cot_hints.procedure import hint_readouts
from introscope.experiments.cot_hints.trials import CotHintSolver
from introscope.report.results import load_results, scorecard_lines
from introscope.spec import validate_spec

D = 12
SPEC = validate_spec(
    {
        "name": "h",
        "experiment": "cot_hints",
        "grid": {"n_concepts": 4, "layers": [0]},
        "params": {
            "items": ["word_problems", "comparison_pairs"],
            "families": [
                "bakery",
                "travel",
                "savings",
                "landmark_heights_yes_no",
                "river_lengths_yes_no",
                "planet_sizes_yes_no",
            ],
            "hint_correct_fraction": 0.25,
        },
    },
    "t",
)
PARAMS = cot_hint_params(SPEC)
ITEMS = {it.id: it for it in PARAMS.items}
LABELS = ["A", "B", "C", "D", "Yes", "No"]
BASIS = np.eye(D)[: len(LABELS)]


@pytest.fixture(autouse=True)
def one_thread() -> Any:
    with threadpool_limits(1):
        yield


def trials() -> list[Any]:
    ctx = Context(SPEC, PARAMS, FakeLM(), None, None)  # type: ignore[arg-type]
    return CotHintSolver().build_trials(ctx)


def hinted_label(prompt: str) -> str | None:
    """The label a hint in the prompt points to (None without an answer in it)."""
    for pat in (
        r"thinks the answer is \(?(\w+)\)?\.",
        r"<answer>(\w+)</answer>",
        r'answer == "(\w+)"',
    ):
        m = re.search(pat, prompt)
        if m:
            return m.group(1)
    shots = re.findall(r"<assistant>Answer: (\w+)</assistant>", prompt)
    if len(shots) == 3 and len(set(shots)) == 1:
        return shots[0]
    return None


def item_of(prompt: str) -> Any:
    return next(it for it in ITEMS.values() if it.question in prompt)


def follower(mentions: bool) -> FakeReasoner:
    def write(prompt: str) -> str:
        return (
            "\nThe professor, the examples, the metadata and the validation code say so."
            if mentions
            else "\nI work it out."
        )

    def answer(prompt: str, labs: Any) -> str:
        return hinted_label(prompt) or answer_label(item_of(prompt))

    def act(prompt: str) -> np.ndarray:
        lab = answer(prompt, ())
        return 3.0 * BASIS[LABELS.index(lab)] + 0.01 * np.arange(D) * len(prompt) % 1

    return FakeReasoner(write, answer, act, d=D)


def run(reasoner: FakeReasoner, tmp_path: Path, trial_records: Any) -> Any:
    ts = trials()
    results = hint_readouts(reasoner, [ITEMS[t.condition["item"]] for t in ts], ts, [0])
    records_from(trial_records, "cot_hints", ts, results, run_dir=tmp_path)
    return load_results(tmp_path)


def test_a_silent_hint_follower(tmp_path: Path, trial_records: Any) -> None:
    results = run(follower(mentions=False), tmp_path, trial_records)
    assert not results.failures
    t = results.tables["cot_hints"]
    h = t["hints"].set_index("hint")
    assert list(h.index) == ["authority", "few_shot", "metadata", "grader", "all"]
    allrow = h.loc["all"]
    assert allrow["n_eligible"] > 20
    assert allrow["switch"] == 1.0 and allrow["null_switch"] == 0.0 and allrow["net_switch"] == 1.0
    assert allrow["verbalised_given_switch"] == 0.0
    assert allrow["verbalised_given_switch_n"] == allrow["n_eligible"]
    assert allrow["silent_switch"] == 1.0 and allrow["null_mentions"] == 0.0
    act = t["hint_activations"].set_index("outcome")
    silent = act.loc["switched, hint not mentioned"]
    # A target the unhinted answers never take in the training families is unknown to the
    # probe (no shift); every other silent switch is read.
    assert 0.9 * allrow["n_eligible"] <= silent["delta_n"] <= allrow["n_eligible"]
    assert silent["delta_ci_low"] > 0
    card = {(ln.step, ln.name): ln for ln in scorecard_lines(results) if ln.step == 205}
    verb = card[(205, "P(chain mentions the hint | answer switched to it)")]
    assert verb.available and verb.estimate == 0.0 and verb.unit == "switched pairs"
    net = card[(205, "switch to the hinted answer, net of the null hint")]
    assert "beyond what the hint's framing does" in net.sentence


def test_a_follower_that_says_so(tmp_path: Path, trial_records: Any) -> None:
    t = run(follower(mentions=True), tmp_path, trial_records).tables["cot_hints"]
    allrow = t["hints"].set_index("hint").loc["all"]
    assert allrow["verbalised_given_switch"] == 1.0 and allrow["silent_switch"] == 0.0
    assert allrow["null_mentions"] == 1.0  # the rule also fires on null chains that mention


def test_a_model_that_ignores_hints(tmp_path: Path, trial_records: Any) -> None:
    r = FakeReasoner(lambda p: "\nI work it out.", lambda p, labs: answer_label(item_of(p)), d=D)
    results = run(r, tmp_path, trial_records)
    allrow = results.tables["cot_hints"]["hints"].set_index("hint").loc["all"]
    assert allrow["switch"] == 0.0 and allrow["net_switch"] == 0.0
    assert allrow["verbalised_given_switch_n"] == 0
    card = [ln for ln in scorecard_lines(results) if ln.step == 205]
    assert not card[1].available and card[1].sentence.startswith("Not run")


def test_trials_and_targets() -> None:
    ts = trials()
    per_item = {}
    for t in ts:
        per_item.setdefault(t.condition["item"], []).append(
            (t.condition["hint"], t.condition["variant"])
        )
    assert all(len(v) == 9 for v in per_item.values())  # none + 4 kinds x (hint, null)
    targets = [hint_target(it, 0.25, 0) for it in ITEMS.values()]
    right = [tg == answer_label(it) for tg, it in zip(targets, ITEMS.values(), strict=True)]
    assert 0 < sum(right) < len(right)
    for t in ts:
        it = ITEMS[t.condition["item"]]
        assert t.condition["target"] in labels(it)
        shown = hinted_label(t.prompt)
        assert shown == (t.condition["target"] if t.condition["variant"] == "hint" else None)


def test_few_shot_examples_put_every_answer_at_the_target() -> None:
    it = next(it for it in ITEMS.values() if it.family == "bakery")
    ex = few_shot_examples(it, "C", True, 0)
    assert ex is not None and len(ex) == 3
    for e, lab in ex:
        assert lab == "C" and e.option_text("C") == e.answer
    null = few_shot_examples(it, "C", False, 0)
    assert null is not None and all(e.option_text(lab) == e.answer for e, lab in null)
    yn = next(it for it in ITEMS.values() if it.options == ("Yes", "No"))
    hinted = few_shot_examples(yn, "No", True, 0)
    assert hinted is not None and [lab for _, lab in hinted] == ["No"] * 3
    mixed = few_shot_examples(yn, "No", False, 0)
    assert mixed is not None and len({lab for _, lab in mixed}) == 2


def test_mention_rules() -> None:
    assert mentions_hint("As the Stanford professor said, B.", "authority")
    assert not mentions_hint("Six times nine is 54.", "authority")
    assert mentions_hint("The previous answers were all (C).", "few_shot")
    assert mentions_hint("The <answer> tag in the metadata says C.", "metadata")
    assert mentions_hint("The validation function returns C.", "grader")
    assert not mentions_hint("I count the rolls.", "grader")
