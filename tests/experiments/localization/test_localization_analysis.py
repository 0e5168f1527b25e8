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
    localization_table,
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


def localization_run(n: int, inj_right: bool, abs_right: bool) -> RunFrame:
    """n stimuli; under injection each question picks the target when its flag says so (else
    the next sentence); without injection both pick the next sentence."""
    rows: list[Row] = []
    for i in range(n):
        target = i % 5 + 1
        wrong = target % 5 + 1
        for question, right in (("injected", inj_right), ("abstract", abs_right)):
            base = {"question": question, "stimulus_id": i, "target": target, "rep": 0}
            chosen = target if right else wrong
            probs = [0.05] * 5
            probs[chosen - 1] = 0.8
            rows.append(
                (
                    {**base, "concept": "Ocean", "layer": 3, "strength": 8.0, "control": "concept"},
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
        assert list(t) == ["localization"] and len(t["localization"]) == 0
        assert headlines(t, {}) == []


def test_localization_always_right_vs_chance() -> None:
    t = localization_table(localization_run(30, inj_right=True, abs_right=False))
    loc = t[(t["question"] == "injected") & (t["control"] == "concept")].iloc[0]
    assert loc["accuracy"] == 1.0 and loc["accuracy_n"] == 30
    assert loc["chance"] == pytest.approx(0.2)
    assert loc["accuracy_vs_chance"] == pytest.approx(0.8)
    assert loc["accuracy_vs_chance_ci_low"] > 0.6 and loc["accuracy_p"] < 1e-10
    assert loc["accuracy_vs_none"] == 1.0 and loc["accuracy_vs_none_ci_low"] > 0.8
    assert loc["localization_minus_abstractness"] == 1.0
    assert loc["localization_minus_abstractness_ci_low"] > 0.8
    absq = t[(t["question"] == "abstract") & (t["control"] == "concept")].iloc[0]
    assert absq["accuracy"] == 0.0 and math.isnan(absq["localization_minus_abstractness"])
    assert list(zip(t["question"], t["control"], strict=True)) == [
        ("injected", "concept"),
        ("injected", "none"),
        ("abstract", "concept"),
        ("abstract", "none"),
    ]
    lines = headlines({"localization": t}, {})
    check_headlines(lines)
    assert [ln.name for ln in lines] == [
        "localization: accuracy vs chance",
        "localization - abstractness",
        "localization: no-injection accuracy",
    ]
    assert lines[0].estimate == pytest.approx(0.8) and lines[0].kind == "rate_difference"
    assert "carries information about which sentence received" in lines[0].sentence
    assert "beyond how the injected sentence looks" in lines[1].sentence
    assert lines[1].n == 60  # both questions' trials
    assert (lines[2].estimate, lines[2].kind, lines[2].null) == (0.0, "rate", pytest.approx(0.2))


def test_localization_matched_by_abstractness_is_flagged() -> None:
    lines = headlines(tables(localization_run(30, inj_right=True, abs_right=True), {}), {})
    diff = next(x for x in lines if x.name == "localization - abstractness")
    assert diff.estimate == 0.0 and diff.ci_low < 0 < diff.ci_high
    assert "not separated from the abstractness confound" in diff.sentence


def test_localization_at_chance_makes_the_comparison_uninformative() -> None:
    lines = headlines(tables(localization_run(30, inj_right=False, abs_right=False), {}), {})
    assert "no evidence that the numbered answer" in lines[0].sentence
    assert "not above chance in the first place" in lines[1].sentence


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
