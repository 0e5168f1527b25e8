"""Mismatch tables, headlines and scorecard step 6 on constructed trials with known answers
(ported from tests/test_controls_a.py and tests/test_scorecard.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from introscope.experiments.base import ScoreInputs
from introscope.experiments.mismatch import EXPERIMENT
from introscope.experiments.mismatch.analysis import headlines, mismatch_table, scorecard, tables
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
        assert line.kind == "shift" and line.unit == "trials"
        assert "aware" not in line.sentence.lower()


def baseline_rows(base: dict[str, float]) -> list[Row]:
    return [
        (
            {
                "concept": None,
                "asked": w,
                "congruent": None,
                "layer": None,
                "strength": None,
                "control": "none",
                "rep": 0,
            },
            {"p_yes": b},
        )
        for w, b in base.items()
    ]


def mismatch_run(
    cong: list[float], inc: list[float], base: dict[str, float], words: list[str]
) -> RunFrame:
    rows = baseline_rows(base)
    for i, (pc, pi) in enumerate(zip(cong, inc, strict=True)):
        y, x = words[i % len(words)], words[(i + 1) % len(words)]
        common = {"concept": y, "layer": 10, "strength": 4.0, "control": "concept", "rep": i}
        rows.append(({**common, "asked": y, "congruent": True}, {"p_yes": pc}))
        rows.append(({**common, "asked": x, "congruent": False}, {"p_yes": pi}))
    return run_of("mismatch", rows)


def test_empty_runs_give_empty_tables_and_no_headlines() -> None:
    other = run_of("detection", [({"control": "none"}, {"p_yes": 0.5})])
    for run in (RunFrame(pd.DataFrame()), other):
        t = tables(run, {})
        assert list(t) == ["mismatch"] and len(t["mismatch"]) == 0
        assert headlines(t, {}) == []


def test_mismatch_identical_p_yes_gives_no_gap() -> None:
    rng = np.random.default_rng(0)
    vals = list(rng.uniform(0.3, 0.7, 20))
    run = mismatch_run(vals, vals[::-1], {"Ocean": 0.5, "Dust": 0.5}, ["Ocean", "Dust"])
    t = mismatch_table(run)
    assert len(t) == 1
    row = t.iloc[0]
    assert abs(row["gap"]) < 1e-12 and row["gap_ci_low"] < 0 < row["gap_ci_high"]
    assert row["gap_p"] > 0.5
    assert row["gap_n"] == 20 and row["gap_n_ref"] == 20
    lines = headlines({"mismatch": t}, {})
    check_headlines(lines)
    assert "no evidence" in lines[0].sentence
    assert lines[0].n == 40  # congruent + incongruent trials


def test_mismatch_gap_is_baseline_corrected() -> None:
    # P(yes) = the asked word's own baseline + 0.1 when congruent, + 0.0 when incongruent.
    # Congruent trials ask the low-baseline word, so the raw gap is negative; the corrected
    # gap recovers +0.1 exactly.
    rng = np.random.default_rng(1)
    base = {"Ocean": 0.2, "Dust": 0.7}
    n = 12
    cong = [base["Ocean"] + 0.1 + e for e in rng.normal(0, 0.01, n)]
    inc = [base["Dust"] + e for e in rng.normal(0, 0.01, n)]
    rows = baseline_rows(base)
    for i in range(n):
        common = {"concept": "Ocean", "layer": 10, "strength": 4.0, "control": "concept", "rep": i}
        rows.append(({**common, "asked": "Ocean", "congruent": True}, {"p_yes": cong[i]}))
        rows.append(({**common, "asked": "Dust", "congruent": False}, {"p_yes": inc[i]}))
    t = mismatch_table(run_of("mismatch", rows))
    row = t.iloc[0]
    assert row["gap"] < -0.3 and row["gap_ci_high"] < 0
    assert row["gap_corrected"] == pytest.approx(0.1, abs=0.01)
    assert row["gap_corrected_ci_low"] > 0 and row["gap_corrected_p"] < 0.01
    assert row["congruent_shift"] == pytest.approx(0.1, abs=0.01)
    line = headlines({"mismatch": t}, {})[0]
    assert line.estimate == pytest.approx(0.1, abs=0.01)
    assert "carries information about which concept was injected" in line.sentence


def test_random_control_line_follows_the_concept_configuration() -> None:
    # The concept vector lifts congruent P(yes) at layer 10 only; the random vector never.
    rows = baseline_rows({"Ocean": 0.3, "Dust": 0.3})
    rng = np.random.default_rng(2)
    for layer, lift in ((5, 0.0), (10, 0.3)):
        for control in ("concept", "random"):
            for i in range(10):
                common = {"concept": "Ocean", "layer": layer, "strength": 4.0, "rep": i}
                up = lift if control == "concept" else 0.0
                noise = rng.normal(0, 0.01, 2)
                rows.append(
                    (
                        {**common, "control": control, "asked": "Ocean", "congruent": True},
                        {"p_yes": 0.4 + up + noise[0]},
                    )
                )
                rows.append(
                    (
                        {**common, "control": control, "asked": "Dust", "congruent": False},
                        {"p_yes": 0.4 + noise[1]},
                    )
                )
    t = tables(run_of("mismatch", rows), {})
    lines = headlines(t, {})
    check_headlines(lines)
    assert [ln.name for ln in lines] == [
        "mismatch: congruent - incongruent P(yes) (concept)",
        "mismatch: congruent - incongruent P(yes) (random control)",
    ]
    assert "At layer 10, strength 4 (the largest of 2 configurations" in lines[0].sentence
    assert lines[0].estimate == pytest.approx(0.3, abs=0.02)
    random_row = t["mismatch"].query("layer == 10 and control == 'random'").iloc[0]
    assert lines[1].estimate == random_row["gap_corrected"]
    assert lines[1].ci_low < 0 < lines[1].ci_high


def test_scorecard_step_6_is_the_headlines() -> None:
    rng = np.random.default_rng(0)
    vals = list(rng.uniform(0.3, 0.7, 20))
    run = mismatch_run(vals, vals[::-1], {"Ocean": 0.5, "Dust": 0.5}, ["Ocean", "Dust"])
    t = tables(run, {})
    card = scorecard(ScoreInputs(t, {}, None))
    rows = headlines(t, {})
    assert [ln.name for ln in card] == [ln.name for ln in rows]
    for ln, row in zip(card, rows, strict=True):
        assert ln.step == 6 and ln.available
        assert (ln.estimate, ln.n, ln.sentence) == (row.estimate, row.n, row.sentence)


def test_scorecard_without_mismatch_trials_says_not_run() -> None:
    card = scorecard(ScoreInputs(tables(RunFrame(pd.DataFrame()), {}), {}, None))
    assert len(card) == 1
    (ln,) = card
    assert (ln.step, ln.name, ln.available, ln.n) == (6, "mismatch gap", False, 0)
    assert ln.sentence == "Not run: the run has no mismatch trials."
    assert EXPERIMENT.steps == {6: "mismatch gap"}
