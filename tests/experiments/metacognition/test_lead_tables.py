"""Lead sensitivity on constructed runs with known answers (no model): a report pushed by
the lead more than it moves with the hidden state is scored as led; one that tracks the
state and ignores the lead is not."""

from __future__ import annotations

import numpy as np
import pytest
from metacog_synthetic import (
    add_item,
    fewer_resamples,  # noqa: F401  (autouse: 200 resamples)
    item_readout,
)

from conftest import TrialRecords
from introscope.experiments.base import ScoreInputs
from introscope.experiments.lead_sensitivity import analysis


def test_led_and_state_following_reports() -> None:
    rng = np.random.default_rng(5)
    recs = TrialRecords()
    for f in range(10):
        for i in range(30):
            ent = float(rng.normal(2, 0.5))
            sfc = item_readout(rng)["surface"]
            for lead in ("none", "suggested", "challenge"):
                # verbal: +0.3 under a suggestion, flat in entropy -> led;
                # p_ik: -0.2 per unit of entropy (0.1 per SD), no lead effect -> follows the state
                verbal = 0.5 + (0.3 if lead == "suggested" else 0.0) + float(rng.normal(0, 0.02))
                p_ik = 0.6 - 0.2 * (ent - 2) + float(rng.normal(0, 0.01))
                r = item_readout(
                    rng,
                    entropy=ent,
                    verbal=verbal,
                    p_ik=p_ik,
                    surface=sfc,
                    answer="X" if lead != "suggested" else "Y",
                    suggestion="Y",
                    lead=lead,
                )
                add_item(recs, "lead_sensitivity", f"q{f}-{i}", f"fam{f}", r, lead=lead)
    t = analysis.tables(recs.run(), {})
    sh = t["shift"].set_index(["report", "lead"])
    v = sh.loc[("verbal", "suggested")]
    assert v["shift"] == pytest.approx(0.3, abs=0.01) and v["verdict"] == "led"
    assert v["led_margin_ci_low"] > 0.25
    p = sh.loc[("p_ik", "suggested")]
    assert p["state_effect"] == pytest.approx(0.1, abs=0.02)
    assert p["verdict"] == "follows the state" and abs(p["shift"]) < 0.01
    assert ("conf_option", "challenge") not in sh.index  # the answer comes before a challenge
    ans = t["answers"].set_index("lead")
    assert ans.loc["suggested", "rate"] == 1.0 and ans.loc["suggested", "rate_no_lead"] == 0.0
    lines = analysis.scorecard(ScoreInputs(t, {}, None))
    led = next(ln for ln in lines if "verbal confidence under suggested" in ln.name)
    assert led.step == 106 and "(led)" in led.name and "scored as led" in led.sentence
    assert "300 items in 10 families" in led.sentence


def test_a_constant_report_is_undetermined() -> None:
    rng = np.random.default_rng(5)
    recs = TrialRecords()
    for f in range(6):
        for i in range(5):
            for lead in ("none", "anchor"):
                r = item_readout(rng, verbal=1.0, lead=lead)
                add_item(recs, "lead_sensitivity", f"q{f}-{i}", f"fam{f}", r, lead=lead)
    t = analysis.tables(recs.run(), {})
    row = t["shift"].set_index(["report", "lead"]).loc[("verbal", "anchor")]
    assert row["constant"] and row["verdict"] == "undetermined"
    line = next(ln for ln in analysis.headlines(t, {}) if "verbal" in ln.name)
    assert "1.00 on every item with and without the lead" in line.sentence
