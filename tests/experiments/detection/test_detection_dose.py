"""Detection against strength (``dose_response`` table) on constructed runs with a planted
curve: the contrasts, the baseline subtracted, strengths relative to the residual norm, and
the generation measure's claims."""

from __future__ import annotations

import math

import numpy as np
import pytest

from introscope.experiments.detection import EXPERIMENT
from introscope.experiments.detection.dose import CONTRASTS, dose_response_table
from introscope.stats.dose import emax_curve
from support import TrialRecords

STRENGTHS = [1.0, 2.0, 4.0, 8.0]
EC50, EMAX, HILL = 3.0, 0.5, 2.0
BASE = 0.3  # no-injection P(yes)
RESID = 50.0  # the residual norm the control trial records
NORM = 5.0  # every injected vector's norm


def logit_run(n: int = 10) -> TrialRecords:
    """Concept vectors follow the planted curve above the baseline (concepts in pairs whose
    jitters cancel, so the mean is the curve); random vectors do nothing."""
    recs = TrialRecords()
    recs.add(
        "detection",
        {"concept": None, "layer": None, "strength": None, "control": "none"},
        measure="logits",
        logits={"p_yes": BASE, "resid_norm": {"10": RESID}},
    )
    curve = emax_curve(np.array(STRENGTHS), EC50, EMAX, HILL)
    rng = np.random.default_rng(0)
    for i in range(0, n, 2):
        jitter = rng.uniform(0.01, 0.05, len(STRENGTHS))
        for concept, sign in ((f"w{i}", 1.0), (f"w{i + 1}", -1.0)):
            for s, y in zip(STRENGTHS, curve + sign * jitter, strict=True):
                for control, p in (("concept", BASE + y), ("random", BASE)):
                    rec = recs.add(
                        "detection",
                        {"concept": concept, "layer": 10, "strength": s, "control": control},
                        measure="logits",
                        logits={"p_yes": p},
                    )
                    rec.injection = {"strength": s, "vector_norm": NORM}
    return recs


def test_logit_curves_recover_the_planted_ec50() -> None:
    table = dose_response_table(logit_run().run())
    assert list(table["contrast"]) == ["concept - none", "random - none", "concept - random"]
    assert set(table["measure"]) == {"logits"} and set(table["outcome"]) == {"p_yes"}
    rows = table.set_index("contrast")
    for contrast in ("concept - none", "concept - random"):  # random adds nothing
        r = rows.loc[contrast]
        assert r["ec50"] == pytest.approx(EC50, rel=0.02), contrast
        assert r["ec50_ci_low"] <= EC50 <= r["ec50_ci_high"]
        assert r["emax"] == pytest.approx(EMAX, abs=0.01) and r["emax_ci_low"] > 0
        assert r["ec50_n"] == 10 and bool(r["ec50_in_range"])
        assert r["vector_norm"] == NORM and r["resid_norm"] == RESID
        assert r["relative_ec50"] == pytest.approx(r["ec50"] * NORM / RESID)
    flat = rows.loc["random - none"]
    assert flat["emax_ci_low"] <= 0 <= flat["emax_ci_high"]


def test_generation_claims_subtract_the_no_injection_rate() -> None:
    """Claims rise with strength for the concept vector; 2 of 10 control answers claim."""
    recs = TrialRecords()
    for k in range(10):
        recs.add(
            "detection",
            {"concept": None, "layer": None, "strength": None, "control": "none"},
            grades={"rules": {"coherent": True, "affirmative": k < 2}},
        )
    p_claim = 0.2 + emax_curve(np.array(STRENGTHS), EC50, 0.7, HILL)
    for i in range(12):
        for s, p in zip(STRENGTHS, p_claim, strict=True):
            for rep in range(10):  # 10 repeats: a claim rate per concept and strength
                recs.add(
                    "detection",
                    {"concept": f"w{i}", "layer": 10, "strength": s, "control": "concept"},
                    grades={"rules": {"coherent": True, "affirmative": rep < round(10 * p)}},
                )
    table = dose_response_table(recs.run())
    (r,) = table.to_dict("records")
    assert (r["measure"], r["outcome"], r["contrast"]) == (
        "generation",
        "claims_detection",
        "concept - none",
    )
    assert r["ec50"] == pytest.approx(EC50, rel=0.1) and r["emax"] == pytest.approx(0.7, abs=0.05)
    assert math.isnan(r["relative_ec50"])  # no residual norm recorded in this run


def test_the_table_is_part_of_detection_and_its_section() -> None:
    t = EXPERIMENT.tables(logit_run().run(), {})
    assert len(t["dose_response"]) == 3
    titles = [s.title for s in EXPERIMENT.sections(t, {})]
    assert "Detection against strength" in titles
    assert CONTRASTS[:3] == ("concept - none", "random - none", "negated - none")
    assert {"other - none", "matched_random - none"} < set(CONTRASTS)
    assert CONTRASTS[-1] == "concept - random"
