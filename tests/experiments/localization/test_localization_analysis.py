"""Localization tables, headlines and scorecard step 7 on constructed trials with known
answers (ported from tests/test_controls_a.py and tests/test_scorecard.py)."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest

from introscope.experiments.base import ScoreInputs
from introscope.experiments.localization import EXPERIMENT
from introscope.experiments.localization.analysis import (
    headlines,
    scorecard,
    tables,
)
from introscope.headlines import Headline
from introscope.tables import RunFrame

Row = tuple[dict[str, Any], dict[str, Any]]


def run_of(experiment: str, rows: list[Row]) -> RunFrame:
    return RunFrame(
        pd.DataFrame(
            [
                {
                    "experiment": experiment,
                    "measure": "logits",
                    "condition": c,
                    "logits": lg,
                    "grades": {},
                }
                for c, lg in rows
            ]
        )
    )


def check_headlines(lines: list[Headline]) -> None:
    assert lines
    for line in lines:
        assert line.step is None and line.available and line.n > 0
        assert "aware" not in line.sentence.lower()


def localization_run(n: int, inj_right: bool | None, abs_right: bool) -> RunFrame:
    """n stimuli over 10 concepts (stimulus i shows concept C{i % 10}); under injection each
    question picks the target when its flag says so (else the next sentence; ``inj_right``
    None: right on the stimuli with i % 5 == 0, i.e. always for two concepts of the ten and
    never for the others, chance on average); without injection both pick the next
    sentence."""
    rows: list[Row] = []
    for i in range(n):
        target = i % 5 + 1
        wrong = target % 5 + 1
        concept = f"C{i % 10}"
        loc_right = i % 5 == 0 if inj_right is None else inj_right
        for question, right in (("injected", loc_right), ("abstract", abs_right)):
            base = {"question": question, "stimulus_id": i, "target": target, "rep": 0}
            chosen = target if right else wrong
            probs = [0.05] * 5
            probs[chosen - 1] = 0.8
            rows.append(
                (
                    {**base, "concept": concept, "layer": 3, "strength": 8.0, "control": "concept"},
                    {
                        "chosen": chosen,
                        "target": target,
                        "p_target": probs[target - 1],
                        "probs": probs,
                    },
                )
            )
            rows.append(
                (
                    {**base, "concept": None, "layer": None, "strength": None, "control": "none"},
                    {"chosen": wrong, "target": target, "p_target": 0.05, "probs": probs},
                )
            )
    return run_of("localization", rows)


def test_empty_runs_give_empty_tables_and_no_headlines() -> None:
    other = run_of("detection", [({"control": "none"}, {"p_yes": 0.5})])
    for run in (RunFrame(pd.DataFrame()), other):
        t = tables(run, {})
        assert list(t) == ["localization", "localization_concepts", "selection", "held_out"]
        assert all(len(v) == 0 for v in t.values())
        assert headlines(t, {}) == []


def test_localization_always_right_vs_chance() -> None:
    t = tables(localization_run(30, inj_right=True, abs_right=False), {})
    table = t["localization"]
    loc = table[(table["question"] == "injected") & (table["control"] == "concept")].iloc[0]
    assert loc["accuracy"] == 1.0 and loc["accuracy_n"] == 30
    assert loc["chance"] == pytest.approx(0.2)
    assert loc["accuracy_vs_chance"] == pytest.approx(0.8)
    assert loc["accuracy_vs_chance_ci_low"] > 0.6 and loc["accuracy_p"] < 1e-10
    assert loc["accuracy_vs_none"] == 1.0 and loc["accuracy_vs_none_ci_low"] > 0.8
    assert loc["localization_minus_abstractness"] == 1.0
    assert loc["localization_minus_abstractness_ci_low"] > 0.8
    assert loc["accuracy_by_concept"] == 1.0 and loc["accuracy_by_concept_n"] == 10
    assert loc["localization_minus_abstractness_by_concept"] == 1.0
    assert loc["localization_minus_abstractness_by_concept_n"] == 10  # concepts, paired
    absq = table[(table["question"] == "abstract") & (table["control"] == "concept")].iloc[0]
    assert absq["accuracy"] == 0.0 and math.isnan(absq["localization_minus_abstractness"])
    assert list(zip(table["question"], table["control"], strict=True)) == [
        ("injected", "concept"),
        ("injected", "none"),
        ("abstract", "concept"),
        ("abstract", "none"),
    ]
    lines = headlines(t, {})
    check_headlines(lines)
    assert [ln.name for ln in lines] == [
        "localization: accuracy vs chance",
        "localization - abstractness",
        "localization: no-injection accuracy",
    ]
    assert lines[0].estimate == pytest.approx(0.8) and lines[0].kind == "rate_difference"
    assert lines[0].unit == "concepts" and lines[0].n == 10
    assert "(the only configuration)" in lines[0].sentence
    assert "carries information about which sentence received" in lines[0].sentence
    assert "beyond how the injected sentence looks" in lines[1].sentence
    assert lines[1].n == 10 and lines[1].unit == "concepts"
    assert (lines[2].estimate, lines[2].kind, lines[2].null) == (0.0, "rate", pytest.approx(0.2))


def test_localization_matched_by_abstractness_is_flagged() -> None:
    lines = headlines(tables(localization_run(30, inj_right=True, abs_right=True), {}), {})
    diff = next(x for x in lines if x.name == "localization - abstractness")
    assert diff.estimate == 0.0 and diff.ci_low <= 0 <= diff.ci_high
    assert "not separated from the abstractness confound" in diff.sentence


def test_localization_at_chance_makes_the_comparison_uninformative() -> None:
    lines = headlines(tables(localization_run(30, inj_right=None, abs_right=False), {}), {})
    assert lines[0].estimate == pytest.approx(0.0) and lines[0].ci_low < 0 < lines[0].ci_high
    assert "no evidence that the numbered answer" in lines[0].sentence
    assert "not above chance in the first place" in lines[1].sentence


def test_one_concept_is_undetermined_not_a_verdict() -> None:
    run = localization_run(10, inj_right=False, abs_right=False)
    only_c0 = RunFrame(run.df[run.df["condition"].map(lambda c: c["stimulus_id"] % 10 == 0)])
    (acc, diff, _none) = headlines(tables(only_c0, {}), {})
    assert acc.n == 1 and "undetermined" in acc.sentence and "no evidence" not in acc.sentence
    assert "undetermined" in diff.sentence


def test_scorecard_step_7_is_the_headlines() -> None:
    t = tables(localization_run(30, inj_right=True, abs_right=False), {})
    card = scorecard(ScoreInputs(t, {}, None))
    rows = headlines(t, {})
    assert len(card) == len(rows) == 3
    for ln, row in zip(card, rows, strict=True):
        assert ln.step == 7 and ln.available and ln.name == row.name
        assert (ln.estimate, ln.n, ln.sentence) == (row.estimate, row.n, row.sentence)


def test_scorecard_without_localization_trials_says_not_run() -> None:
    (ln,) = scorecard(ScoreInputs(tables(RunFrame(pd.DataFrame()), {}), {}, None))
    assert (ln.step, ln.name, ln.available, ln.n) == (7, "localization vs abstractness", False, 0)
    assert ln.sentence == "Not run: the run has no localization trials."
    assert EXPERIMENT.steps == {7: "localization vs abstractness"}
