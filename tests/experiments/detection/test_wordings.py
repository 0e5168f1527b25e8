"""Detection under other wordings and windows (issue 10 defect 12) on constructed runs with
known answers: the variants table's concept-level numbers, log-odds rather than probability
differences across baselines, the step-2 lines saying when a claim appears under one wording
only, and the paper's tables ignoring the other variants."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from introscope.experiments.detection import analysis
from introscope.experiments.detection.wordings import logit, variants_table, wording_lines
from introscope.headlines import Headline
from introscope.stats import mover_difference, paired_mean_ci, rate, rate_difference
from introscope.tables import RunFrame
from introscope.words import word_list
from support import TrialRecords

CONCEPTS = word_list("main")[:16]


def expit(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def add_logits(
    b: TrialRecords,
    variant: str,
    base: float,
    push: float,
    *,
    noise: float = 0.3,
    seed: int = 0,
    strength: float = 4.0,
) -> None:
    """One no-injection trial at P(yes) = expit(base), and one concept trial per concept at
    expit(base + push + noise)."""
    tag = {} if variant == "default" else {"variant": variant}
    rng = np.random.default_rng(seed)
    b.add(
        "detection",
        {"concept": None, "layer": None, "strength": None, "control": "none", **tag},
        measure="logits",
        logits={"p_yes": expit(base)},
    )
    for c in CONCEPTS:
        p = expit(base + push + noise * float(rng.normal()))
        b.add(
            "detection",
            {"concept": c, "layer": 15, "strength": strength, "control": "concept", **tag},
            measure="logits",
            logits={"p_yes": p, "concept_rank": 1, "n_candidates": len(CONCEPTS)},
        )


def lines_by_name(run: RunFrame) -> dict[str, Headline]:
    t = analysis.tables(run, {})
    return {ln.name: ln for ln in wording_lines(t, None)}


def row(table: pd.DataFrame, **match: Any) -> pd.Series:
    m = pd.Series(True, index=table.index)
    for k, v in match.items():
        m &= table[k] == v
    sub = table[m]
    assert len(sub) == 1, match
    return sub.iloc[0]


def test_logits_rows_by_hand() -> None:
    b = TrialRecords()
    add_logits(b, "default", 0.5, 1.0, seed=1)
    add_logits(b, "skeptical", -1.5, 1.0, seed=2)
    recs = b.run().records("detection", "logits")
    t = variants_table(b.run())
    assert list(t["variant"]) == ["default", "skeptical"]
    r = row(t, variant="skeptical")
    p = [x["logits"]["p_yes"] for x in recs[-len(CONCEPTS) :]]
    base = expit(-1.5)
    shifts = paired_mean_ci([v - base for v in p])
    lo = paired_mean_ci([logit(v) - logit(base) for v in p])
    assert r["n_concepts"] == len(CONCEPTS) and r["n_trials"] == len(CONCEPTS)
    assert math.isclose(r["detection"], float(np.mean(p)))
    assert math.isclose(r["false_positive"], base) and r["false_positive_n"] == 1
    assert math.isclose(r["net"], shifts.estimate) and math.isclose(r["net_ci_low"], shifts.low)
    assert math.isclose(r["net_logodds"], lo.estimate)
    assert math.isclose(r["net_logodds_ci_high"], lo.high)
    assert r["net_logodds_n"] == len(CONCEPTS) and r["net_logodds_n_ref"] == 1
    d = row(t, variant="default")
    assert math.isnan(d["net_vs_default"])


def test_equal_log_odds_pushes_at_different_baselines_compare_equal() -> None:
    """The same +2 log-odds push from baselines 0.5 and 0.007: the probability shifts differ
    a lot (0.38 vs 0.04), the log-odds shifts do not, and the difference from the paper's
    wording is 0 in log-odds."""
    b = TrialRecords()
    add_logits(b, "default", 0.0, 2.0, noise=0.0)
    add_logits(b, "skeptical", -5.0, 2.0, noise=0.0)
    t = variants_table(b.run())
    d, s = row(t, variant="default"), row(t, variant="skeptical")
    assert d["net"] - s["net"] > 0.3  # probability differences: unequal
    assert math.isclose(d["net_logodds"], 2.0, abs_tol=1e-6)
    assert math.isclose(s["net_logodds"], 2.0, abs_tol=1e-6)
    assert abs(s["net_vs_default"]) < 1e-6


@pytest.mark.slow  # heavy for the default run (CI); make test-all runs it
def test_a_claim_under_one_wording_only_is_called_so() -> None:
    """Over seeded repeats: a push under the paper's wording only (the others: noise around
    no shift) is reported as a claim that appears under one wording, except where a null
    wording's interval happens to exclude 0 (about 1 - 0.95**3 of repeats); a push under
    every wording as holding under all."""
    one_only = 0
    for seed in range(20):
        b = TrialRecords()
        add_logits(b, "default", 0.5, 1.5, seed=seed)
        add_logits(b, "skeptical", -1.0, 0.0, seed=seed + 100)
        add_logits(b, "uninformed", 0.0, 0.0, seed=seed + 200)
        add_logits(b, "persona", 0.8, 0.0, seed=seed + 300)
        add_logits(b, "internal", 0.5, 0.0, seed=seed + 400)
        lines = lines_by_name(b.run())
        summary = lines["net detection across wordings"]
        one_only += "only under the paper's wording: a claim that appears under one wording" in (
            summary.sentence
        )
        assert lines["net detection (paper's wording)"].ci_low > 0  # never missed
        assert summary.unit == "concepts" and summary.n == len(CONCEPTS) and summary.step == 2
        assert summary.kind == "logodds"
        assert "earlier-turn" not in summary.sentence  # a window, not a wording
        assert set(lines) == {
            "net detection (paper's wording)",
            "net detection (earlier-turn injection)",
            "net detection (skeptical preamble)",
            "net detection (preamble without injection)",
            "net detection (third-party question)",
            "net detection across wordings",
        }
        b = TrialRecords()
        for k, v in enumerate(("default", "skeptical", "uninformed", "persona")):
            add_logits(b, v, 0.5 - k, 1.5, seed=seed + 10 * k)
        summary = lines_by_name(b.run())["net detection across wordings"]
        assert "above zero under every wording tested" in summary.sentence
    assert one_only >= 15, one_only


def test_generation_rows_by_hand() -> None:
    """Text claims: per-concept claim rates (t over concepts) minus the variant's own
    false-positive rate (Wilson), combined by MOVER; the difference from the paper's wording
    pairs the claim rates per concept and takes the false-positive difference by Newcombe."""
    b = TrialRecords()
    claims = {"default": [1, 1, 0, 1, 1, 0, 1, 1], "persona": [1, 0, 0, 1, 0, 0, 1, 0]}
    fps = {"default": (2, 10), "persona": (5, 10)}
    for variant, hits in claims.items():
        tag = {} if variant == "default" else {"variant": variant}
        k, n = fps[variant]
        for i in range(n):
            g = {"rules": {"coherent": True, "affirmative": i < k}}
            b.add("detection", {"concept": None, "control": "none", **tag}, grades=g)
        for c, hit in zip(CONCEPTS, hits, strict=False):
            for rep in range(2):  # two trials per concept: rates 1, 0.5 or 0
                g = {"rules": {"coherent": True, "affirmative": bool(hit) or rep == 0}}
                cond = {"concept": c, "layer": 15, "strength": 8.0, "control": "concept"}
                b.add("detection", {**cond, "rep": rep, **tag}, grades=g)
    t = variants_table(b.run())
    assert list(t["measure"]) == ["generation", "generation"]
    r = row(t, variant="persona")
    per = [1.0 if h else 0.5 for h in claims["persona"]]
    mean = paired_mean_ci(per)
    fp = rate(5, 10)
    want = mover_difference(mean.estimate, mean.low, mean.high, fp.estimate, fp.low, fp.high)
    assert math.isclose(r["detection"], mean.estimate)
    assert math.isclose(r["false_positive"], 0.5) and r["false_positive_n"] == 10
    assert math.isclose(r["net"], want[0]) and math.isclose(r["net_ci_low"], want[1])
    assert math.isclose(r["net_ci_high"], want[2])
    assert math.isnan(r["net_logodds"])
    paper = [1.0 if h else 0.5 for h in claims["default"]]
    diffs = paired_mean_ci([a - b for a, b in zip(per, paper, strict=True)])
    fpd = rate_difference(5, 10, 2, 10)
    vs = mover_difference(diffs.estimate, diffs.low, diffs.high, fpd.estimate, fpd.low, fpd.high)
    assert math.isclose(r["net_vs_default"], vs[0])
    assert math.isclose(r["net_vs_default_ci_low"], vs[1])
    line = lines_by_name(b.run())["net detection (third-party question)"]
    assert line.kind == "rate_difference" and line.unit == "concepts" and line.n == 8


def test_the_papers_tables_ignore_the_other_variants() -> None:
    paper = TrialRecords()
    add_logits(paper, "default", 0.5, 1.0, seed=1)
    both = TrialRecords()
    add_logits(both, "default", 0.5, 1.0, seed=1)
    add_logits(both, "persona", -2.0, 3.0, seed=2)
    add_logits(both, "internal", 0.5, -1.0, seed=3)
    a, b = analysis.tables(paper.run(), {}), analysis.tables(both.run(), {})
    for name in ("detection_logits", "identification", "mutual_information"):
        pd.testing.assert_frame_equal(a[name], b[name])
    assert len(a["variants"]) == 0 and len(b["variants"]) == 3


def test_no_variants_is_one_not_run_line() -> None:
    b = TrialRecords()
    add_logits(b, "default", 0.5, 1.0)
    (line,) = wording_lines(analysis.tables(b.run(), {}), None)
    assert not line.available and line.step == 2
    assert line.sentence.startswith("Not run: the run has no detection trials under other")


@pytest.mark.parametrize("undetermined", [True, False])
def test_a_wording_with_one_concept_is_undetermined(undetermined: bool) -> None:
    b = TrialRecords()
    add_logits(b, "default", 0.5, 1.5, seed=4)
    tag = {"variant": "skeptical"}
    b.add(
        "detection",
        {"concept": None, "layer": None, "strength": None, "control": "none", **tag},
        measure="logits",
        logits={"p_yes": 0.3},
    )
    for c in CONCEPTS[: 1 if undetermined else 3]:
        b.add(
            "detection",
            {"concept": c, "layer": 15, "strength": 4.0, "control": "concept", **tag},
            measure="logits",
            logits={"p_yes": 0.31},
        )
    summary = lines_by_name(b.run())["net detection across wordings"]
    # Wordings are compared on the concepts they share, so one shared concept leaves every
    # wording without an interval.
    assert ("Undetermined (too few concepts)" in summary.sentence) is undetermined
    assert summary.n == (1 if undetermined else 3)
