"""Calibration tables and step 101 on constructed runs with known answers (no model)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from metacog_synthetic import (
    add_item,
    fewer_resamples,  # noqa: F401  (autouse: 200 resamples)
    item_readout,
)

from conftest import TrialRecords
from introscope.experiments.base import ScoreInputs
from introscope.experiments.calibration import analysis
from introscope.stats import auroc, ece


def build(n_fam: int = 8, per: int = 25, seed: int = 0) -> tuple[TrialRecords, dict[str, list]]:
    rng = np.random.default_rng(seed)
    recs = TrialRecords()
    truth: dict[str, list] = {"verbal": [], "correct": [], "p_ik": []}
    for f in range(n_fam):
        for i in range(per):
            correct = bool(rng.random() < 0.6)
            # verbal: perfectly separating; p_ik: no information; P(True) graded on samples.
            verbal = 0.7 + 0.3 * rng.random() if correct else 0.3 * rng.random()
            p_ik = float(rng.random())
            readout = item_readout(rng, correct=correct, verbal=verbal, p_ik=p_ik)
            add_item(recs, "calibration", f"q{f}-{i}", f"fam{f}", readout)
            truth["verbal"].append(verbal)
            truth["correct"].append(correct)
            truth["p_ik"].append(p_ik)
    return recs, truth


def test_calibration_table_matches_direct_metrics() -> None:
    recs, truth = build()
    t = analysis.tables(recs.run(), {})
    cal = t["calibration"].set_index("signal")
    assert set(cal.index) == {"option", "p_true", "verbal", "p_ik"}
    v = cal.loc["verbal"]
    assert v["auroc"] == pytest.approx(1.0) and v["auroc_ci_low"] == pytest.approx(1.0)
    assert v["ece"] == pytest.approx(ece(truth["verbal"], truth["correct"]))
    assert v["auroc_n"] == 200 and v["n_families"] == 8
    p = cal.loc["p_ik"]
    assert p["auroc"] == pytest.approx(auroc(truth["p_ik"], truth["correct"]))
    assert p["auroc_ci_low"] < 0.5 < p["auroc_ci_high"]  # no information: covers 0.5
    assert cal.loc["p_true", "graded_against"] == "sampled_correct"
    acc = t["accuracy"].set_index("family")
    assert acc.loc["all", "n_items"] == 200 and acc.loc["all", "chance"] == pytest.approx(0.25)
    assert acc.loc["all", "accuracy"] == pytest.approx(np.mean(truth["correct"]))
    rel = t["reliability"]
    assert rel[rel["signal"] == "verbal"]["accuracy_n"].sum() == 200


def test_step_101_lines_and_chance_warning() -> None:
    recs, _ = build()
    t = analysis.tables(recs.run(), {})
    lines = analysis.scorecard(ScoreInputs(t, {}, None))
    assert [ln.step for ln in lines] == [101] * 4
    verbal = next(ln for ln in lines if "verbal" in ln.name)
    assert verbal.unit == "items" and verbal.n == 200 and verbal.null == 0.5
    assert "200 items in 8 families" in verbal.sentence
    assert "carries information about whether the answer is correct" in verbal.sentence
    pik = next(ln for ln in lines if "P(I know)" in ln.name)
    assert "no detectable information" in pik.sentence
    # At chance: every answer wrong on 4-option items -> the sentence says so.
    rng = np.random.default_rng(3)
    recs2 = TrialRecords()
    for i in range(40):
        add_item(
            recs2, "calibration", f"q{i}", f"f{i % 4}", item_readout(rng, correct=bool(i % 4 == 0))
        )
    t2 = analysis.tables(recs2.run(), {})
    line = analysis.scorecard(ScoreInputs(t2, {}, None))[0]
    assert "at chance" in line.sentence and "license nothing" in line.sentence


def test_empty_run_gives_empty_tables_and_not_run() -> None:
    t = analysis.tables(TrialRecords().run(), {})
    assert all(len(v) == 0 for v in t.values())
    (line,) = analysis.scorecard(ScoreInputs(t, {}, None))
    assert not line.available and line.step == 101 and math.isnan(line.estimate)
