"""Shared wording helpers of :mod:`introscope.tables`: headline rows as a scorecard step
(the rule the pre-reshape scorecard applied to steps 6-9), interval signs and p-values."""

from __future__ import annotations

import math

from introscope.headlines import Headline, ci_sign, p_text, step_lines
from introscope.tables import NAN


def row(name: str, n: int, sentence: str = "A sentence.", config: str = "") -> Headline:
    return Headline(name, 0.1, 0.0, 0.2, n, sentence, kind="rate", config=config, null=0.2)


def test_no_rows_is_one_not_run_line() -> None:
    (ln,) = step_lines(6, "mismatch gap", "mismatch", [])
    assert (ln.step, ln.name, ln.available, ln.n) == (6, "mismatch gap", False, 0)
    assert ln.sentence == "Not run: the run has no mismatch trials."
    assert math.isnan(ln.estimate) and math.isnan(ln.ci_low) and math.isnan(ln.ci_high)


def test_first_rows_become_the_step() -> None:
    rows = [row(f"r{i}", 10 + i, config="layer 3" if i == 0 else "") for i in range(6)]
    out = step_lines(7, "title", "localization", rows)
    assert [ln.name for ln in out] == ["r0", "r1", "r2", "r3"]
    for ln, r in zip(out, rows[:4], strict=True):
        assert ln.step == 7 and ln.available
        assert (ln.estimate, ln.ci_low, ln.ci_high, ln.n, ln.sentence, ln.config) == (
            r.estimate,
            r.ci_low,
            r.ci_high,
            r.n,
            r.sentence,
            r.config,
        )
        assert (ln.kind, ln.unit, ln.null) == ("rate", "trials", 0.2)
    assert [ln.name for ln in step_lines(9, "t", "x", rows, limit=6)] == [r.name for r in rows]


def test_rows_without_trials_are_not_run() -> None:
    rows = [
        row("counted", 5),
        row("empty", 0, "Too few trials here."),
        row("said", 0, "not run: already says so."),
        row("blank", 0, ""),
    ]
    out = step_lines(8, "title", "natural-states", rows)
    assert [ln.available for ln in out] == [True, False, False, False]
    assert [ln.sentence for ln in out] == [
        "A sentence.",
        "Not run: Too few trials here.",
        "not run: already says so.",
        "Not run: no natural-states trials.",
    ]


def test_ci_sign() -> None:
    assert ci_sign(0.1, 0.3) == 1
    assert ci_sign(-0.3, -0.1) == -1
    assert ci_sign(-0.1, 0.1) == 0
    assert ci_sign(0.0, 0.1) == 0  # touching 0 is not excluding it
    assert ci_sign(NAN, 0.1) == 0 and ci_sign(0.1, NAN) == 0 and ci_sign(None, "x") == 0


def test_p_text() -> None:
    assert p_text(0.7134) == "0.713"
    assert p_text(0.001) == "0.001"
    assert p_text(0.0009) == "< 0.001"
    assert p_text(NAN) == "n/a" and p_text(None) == "n/a"
