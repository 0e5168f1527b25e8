"""Mismatch tables, headlines and scorecard step 6 on constructed trials with known answers
(ported from tests/test_controls_a.py and tests/test_scorecard.py); the concept is the unit
and the configuration is declared or chosen on held-out concepts (issue 10)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from introscope.experiments.base import ScoreInputs
from introscope.experiments.mismatch import EXPERIMENT
from introscope.experiments.mismatch.analysis import headlines, mismatch_table, scorecard, tables
from introscope.headlines import Headline
from introscope.stats import mean_difference_ci
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


WORDS = [f"W{i:02d}" for i in range(12)]


def check_headlines(lines: list[Headline]) -> None:
    assert lines
    for line in lines:
        assert line.step is None and line.available and line.n > 0
        assert line.kind == "shift" and line.unit == "concepts"
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


def pair_rows(
    concept: str, other: str, pc: float, pi: float, layer: int = 10, control: str = "concept"
) -> list[Row]:
    common = {"concept": concept, "layer": layer, "strength": 4.0, "control": control, "rep": 0}
    return [
        ({**common, "asked": concept, "congruent": True}, {"p_yes": pc}),
        ({**common, "asked": other, "congruent": False}, {"p_yes": pi}),
    ]


def mismatch_run(cong: list[float], inc: list[float], base: dict[str, float]) -> RunFrame:
    """Concept i (of WORDS) asked about itself (``cong[i]``) and about the next word."""
    rows = baseline_rows(base)
    for i, (pc, pi) in enumerate(zip(cong, inc, strict=True)):
        rows += pair_rows(WORDS[i], WORDS[(i + 1) % len(cong)], pc, pi)
    return run_of("mismatch", rows)


def test_empty_runs_give_empty_tables_and_no_headlines() -> None:
    other = run_of("detection", [({"control": "none"}, {"p_yes": 0.5})])
    for run in (RunFrame(pd.DataFrame()), other):
        t = tables(run, {})
        assert list(t) == ["mismatch", "mismatch_concepts", "selection", "held_out"]
        assert all(len(v) == 0 for v in t.values())
        assert headlines(t, {}) == []


def test_mismatch_identical_p_yes_gives_no_gap() -> None:
    rng = np.random.default_rng(0)
    vals = list(rng.uniform(0.3, 0.7, 12))
    run = mismatch_run(
        vals,
        [v + e for v, e in zip(vals, rng.normal(0, 0.01, 12), strict=True)],
        {w: 0.5 for w in WORDS},
    )
    t = mismatch_table(run)
    assert len(t) == 1
    row = t.iloc[0]
    assert abs(row["gap"]) < 0.01 and row["gap_ci_low"] < 0 < row["gap_ci_high"]
    assert row["gap_p"] > 0.05
    assert row["gap_n"] == 12 and row["gap_n_ref"] == 12  # concepts, paired
    lines = headlines(tables(run, {}), {})
    check_headlines(lines)
    assert "no evidence" in lines[0].sentence
    assert lines[0].n == 12 and "(the only configuration)" in lines[0].sentence


def test_mismatch_gap_is_baseline_corrected() -> None:
    # P(yes) = the asked word's own baseline + 0.1 when congruent, + 0.0 when incongruent.
    # Congruent trials ask low-baseline words and incongruent ones high-baseline words, so
    # the raw gap is negative; the corrected gap recovers +0.1.
    rng = np.random.default_rng(1)
    low, high = WORDS[:6], WORDS[6:]
    base = {**{w: 0.2 for w in low}, **{w: 0.7 for w in high}}
    rows = baseline_rows(base)
    for i, w in enumerate(low):
        e = rng.normal(0, 0.01, 2)
        rows += pair_rows(w, high[i], base[w] + 0.1 + e[0], base[high[i]] + e[1])
    t = tables(run_of("mismatch", rows), {})
    row = t["mismatch"].iloc[0]
    assert row["gap"] < -0.3 and row["gap_ci_high"] < 0
    assert row["gap_corrected"] == pytest.approx(0.1, abs=0.01)
    assert row["gap_corrected_ci_low"] > 0 and row["gap_corrected_p"] < 0.05
    assert row["congruent_shift"] == pytest.approx(0.1, abs=0.01)
    line = headlines(t, {})[0]
    assert line.estimate == pytest.approx(0.1, abs=0.01)
    assert "carries information about which concept was injected" in line.sentence


def test_the_gap_is_paired_by_concept() -> None:
    # Concepts differ a lot in how readily they get a "yes" (sd 0.2); within a concept the
    # congruent ask is 0.05 higher. Pairing by concept removes the concept effect.
    rng = np.random.default_rng(3)
    level = rng.normal(0.5, 0.2, 12)
    cong = list(level + 0.05 + rng.normal(0, 0.01, 12))
    inc = list(level + rng.normal(0, 0.01, 12))
    rows = baseline_rows({w: 0.5 for w in WORDS})
    for i, w in enumerate(WORDS):
        rows += pair_rows(w, w, cong[i], inc[i])  # the "other" word's baseline is the same
    row = mismatch_table(run_of("mismatch", rows)).iloc[0]
    assert row["gap"] == pytest.approx(0.05, abs=0.01) and row["gap_ci_low"] > 0
    welch = mean_difference_ci(cong, inc)
    assert welch.low < 0 < welch.high  # unpaired, the concept spread hides the gap


def test_random_control_line_follows_the_concept_configuration() -> None:
    # The concept vector lifts congruent P(yes) at layer 10 only; the random vector never.
    rows = baseline_rows({w: 0.3 for w in WORDS})
    rng = np.random.default_rng(2)
    for layer, lift in ((5, 0.0), (10, 0.3)):
        for control in ("concept", "random"):
            for i, w in enumerate(WORDS):
                up = lift if control == "concept" else 0.0
                noise = rng.normal(0, 0.01, 2)
                rows += pair_rows(
                    w, WORDS[(i + 1) % 12], 0.4 + up + noise[0], 0.4 + noise[1], layer, control
                )
    t = tables(run_of("mismatch", rows), {})
    lines = headlines(t, {})
    check_headlines(lines)
    assert [ln.name for ln in lines] == [
        "mismatch: congruent - incongruent P(yes) (concept)",
        "mismatch: congruent - incongruent P(yes) (random control)",
    ]
    assert (
        "At layer 10, strength 4 (chosen among 2 configurations on 6 concepts and estimated "
        "on the other 6; split seed 0)" in lines[0].sentence
    )
    assert lines[0].estimate == pytest.approx(0.3, abs=0.02) and lines[0].n == 6
    sel = t["selection"].iloc[0]
    held_out = set(str(sel["estimated_on"]).split(", "))
    per = t["mismatch_concepts"]
    random_gaps = per[
        (per["layer"] == 10) & (per["control"] == "random") & per["concept"].isin(held_out)
    ]["gap_corrected"]
    assert lines[1].estimate == pytest.approx(random_gaps.mean())
    assert lines[1].ci_low < 0 < lines[1].ci_high
    assert "paired by concept, is +0.3" in lines[1].sentence


def test_a_declared_configuration_is_read_on_every_concept() -> None:
    rows = baseline_rows({w: 0.3 for w in WORDS})
    for layer, lift in ((5, 0.0), (10, 0.3)):
        for i, w in enumerate(WORDS):
            rows += pair_rows(w, WORDS[(i + 1) % 12], 0.4 + lift + 0.001 * i, 0.4, layer)
    run = run_of("mismatch", rows)
    run.manifest = {"specs": [{"experiment": "mismatch", "primary": {"layer": 5, "strength": 4.0}}]}
    t = tables(run, {})
    line = headlines(t, {})[0]
    assert "At layer 5, strength 4 (declared in the spec before the run)" in line.sentence
    assert line.n == 12 and line.estimate == pytest.approx(0.0055)


def test_scorecard_step_6_is_the_headlines() -> None:
    rng = np.random.default_rng(0)
    vals = list(rng.uniform(0.3, 0.7, 12))
    run = mismatch_run(vals, vals[::-1], {w: 0.5 for w in WORDS})
    t = tables(run, {})
    card = scorecard(ScoreInputs(t, {}, None))
    rows = headlines(t, {})
    assert [ln.name for ln in card] == [ln.name for ln in rows]
    for ln, row in zip(card, rows, strict=True):
        assert ln.step == 6 and ln.available
        assert (ln.estimate, ln.n, ln.sentence) == (row.estimate, row.n, row.sentence)


def test_one_held_out_concept_is_undetermined() -> None:
    rows = baseline_rows({w: 0.5 for w in WORDS[:2]})
    for layer in (5, 10):
        rows += pair_rows(WORDS[0], WORDS[1], 0.6, 0.4, layer)
        rows += pair_rows(WORDS[1], WORDS[0], 0.6, 0.3, layer)
    (line,) = headlines(tables(run_of("mismatch", rows), {}), {})
    assert line.n == 1 and "undetermined" in line.sentence and "no evidence" not in line.sentence


def test_scorecard_without_mismatch_trials_says_not_run() -> None:
    card = scorecard(ScoreInputs(tables(RunFrame(pd.DataFrame()), {}), {}, None))
    assert len(card) == 1
    (ln,) = card
    assert (ln.step, ln.name, ln.available, ln.n) == (6, "mismatch gap", False, 0)
    assert ln.sentence == "Not run: the run has no mismatch trials."
    assert EXPERIMENT.steps == {6: "mismatch gap"}
