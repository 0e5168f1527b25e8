"""Detection tables on constructed runs with known answers (no model): net scores, missing
grades, the failure taxonomy, the logit readout, identification, mutual information and the
confabulation profile."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import pandas as pd
import pytest

from introscope.experiments.base import ScoreInputs
from introscope.experiments.detection import analysis, confabulation, content, scorecard
from introscope.stats import paired_mean_ci, rate, rate_difference
from introscope.tables import RunFrame, grade_value
from support import TrialRecords

CONCEPTS = ["Oceans", "Bread", "Trees", "Peace", "Silver", "Dust", "Mirrors", "Poetry"]


def det_cond(layer: int | None, strength: float | None, control: str) -> dict[str, Any]:
    concept = None if control == "none" else "oceans"
    return {"concept": concept, "layer": layer, "strength": strength, "control": control}


def rules(
    *, coherent: bool = True, affirmative: bool, correct: bool = False, outcome: str = ""
) -> dict[str, Any]:
    return {
        "rules": {
            "coherent": coherent,
            "affirmative": affirmative,
            "correct_concept": correct,
            "noticed_first": correct,
            "success": coherent and affirmative and correct,
            "outcome": outcome
            or ("correct_detection" if correct else ("false_positive" if affirmative else "miss")),
        }
    }


@pytest.fixture(scope="module")
def run() -> RunFrame:
    b = TrialRecords()
    # layer 10, strength 4, concept: 30 successes, 10 affirmative w/o identification, 10 misses
    for k in range(50):
        if k < 30:
            g = rules(affirmative=True, correct=True)
        elif k < 40:
            g = rules(affirmative=True, outcome="detection_without_identification")
        else:
            g = rules(affirmative=False)
        if k == 0:
            g["judge"] = {"affirmative": {"error": "judge timed out"}, "coherent": True}
        b.add("detection", det_cond(10, 4.0, "concept"), response="r", grades=g)
    # two trials whose rules grading failed: excluded from n, never counted as False
    b.add("detection", det_cond(10, 4.0, "concept"), response="?", grades={"rules": {"error": "x"}})
    b.add(
        "detection",
        det_cond(10, 4.0, "concept"),
        response="??",
        grades={"rules": {"success": {"error": "x"}, "affirmative": {"error": "x"}}},
    )
    # no-injection control: 5 false positives out of 50, plus one with an error
    for k in range(50):
        outcome = "false_positive" if k < 5 else "correct_rejection"
        b.add(
            "detection",
            det_cond(None, None, "none"),
            response="r",
            grades=rules(affirmative=k < 5, outcome=outcome),
        )
    b.add(
        "detection",
        det_cond(None, None, "none"),
        response="err",
        grades={"rules": {"affirmative": {"error": "boom"}, "coherent": True}},
    )
    for k in range(50):  # random: 8 affirmative, never the concept
        b.add(
            "detection", det_cond(10, 4.0, "random"), response="r", grades=rules(affirmative=k < 8)
        )
    for k in range(20):  # negated: 2 affirmative
        b.add(
            "detection", det_cond(10, 4.0, "negated"), response="n", grades=rules(affirmative=k < 2)
        )
    for k in range(20):  # layer 20: 4 successes
        b.add(
            "detection",
            det_cond(20, 4.0, "concept"),
            response="r",
            grades=rules(affirmative=k < 4, correct=k < 4),
        )
    rng = np.random.default_rng(0)
    means = {
        (None, None, "none"): 0.2,
        (10, 4.0, "concept"): 0.6,
        (10, 4.0, "random"): 0.4,
        (20, 4.0, "concept"): 0.5,
    }
    for (layer, strength, control), mu in means.items():
        for k in range(20):
            logits: dict[str, Any] = {"p_yes": float(mu + rng.normal(0, 0.05))}
            if control != "none":
                logits.update(concept_rank=1 if k < 10 else 3, n_candidates=10)
            b.add("detection", det_cond(layer, strength, control), measure="logits", logits=logits)
    return b.run()


def row(table: pd.DataFrame, **match: Any) -> pd.Series:
    m = pd.Series(True, index=table.index)
    for k, v in match.items():
        m &= table[k].isna() if v is None else table[k] == v
    sub = table[m]
    assert len(sub) == 1, f"{match}: {len(sub)} rows"
    return sub.iloc[0]


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def test_detection_table_net_score(run: RunFrame) -> None:
    t = analysis.detection_table(run)
    r = row(t, layer=10, strength=4.0, control="concept")
    assert r["n_trials"] == 52
    assert r["success_n"] == 50 and close(r["success"], 0.6)
    assert r["false_positive_n"] == 50 and close(r["false_positive"], 0.1)
    expected = rate_difference(30, 50, 5, 50)
    assert close(r["net_detection"], 0.5)
    assert close(r["net_detection_ci_low"], expected.low)
    assert close(r["net_detection_ci_high"], expected.high)
    assert r["net_detection_n"] == 50 and r["net_detection_n_ref"] == 50
    w = rate(30, 50)
    assert close(r["success_ci_low"], w.low) and close(r["success_ci_high"], w.high)
    assert r["affirmative_n"] == 50 and close(r["affirmative"], 0.8)  # both errors left out
    assert close(r["identification"], 0.6)
    na = rate_difference(40, 50, 5, 50)
    assert close(r["net_affirmative"], na.estimate) and close(r["net_affirmative_ci_low"], na.low)
    c = row(t, control="none")
    assert c["n_trials"] == 51 and c["claims_detection_n"] == 50
    assert c["success_n"] == 0 and math.isnan(c["net_detection"])
    rnd = row(t, layer=10, strength=4.0, control="random")
    assert close(rnd["net_affirmative"], 8 / 50 - 5 / 50)
    assert list(t["control"][:3]) == ["concept", "random", "negated"]


def test_judge_errors_are_missing(run: RunFrame) -> None:
    t = analysis.detection_table(run, grader="judge")
    r = row(t, layer=10, strength=4.0, control="concept")
    assert r["affirmative_n"] == 0  # the only judge grade for affirmative is an error
    assert grade_value({"judge": {"x": {"error": "e"}}}, "x", "judge") is None
    assert grade_value({"rules": {"error": "e"}}, "x") is None
    assert grade_value({"rules": {"x": False}}, "x") is False


def test_outcome_table(run: RunFrame) -> None:
    t = analysis.outcome_table(run)
    r = row(t, layer=10, strength=4.0, control="concept", outcome="correct_detection")
    assert r["count"] == 30 and r["fraction_n"] == 50 and r["n_ungraded"] == 2
    r = row(
        t, layer=10, strength=4.0, control="concept", outcome="detection_without_identification"
    )
    assert r["count"] == 10


def test_detection_logit_table(run: RunFrame) -> None:
    dl = analysis.detection_logit_table(run)
    r = row(dl, layer=10, strength=4.0, control="concept")
    assert r["top_rank_n"] == 20 and close(r["top_rank"], 0.5) and close(r["chance"], 0.1)
    recs = run.records("detection", "logits")
    ctrl = [t["logits"]["p_yes"] for t in recs if t["condition"]["control"] == "none"]
    conc = [
        t["logits"]["p_yes"]
        for t in recs
        if t["condition"]["control"] == "concept" and t["condition"]["layer"] == 10
    ]
    # one concept ("oceans") against 20 no-injection trials that vary: a Welch interval
    # with one concept is undefined
    assert close(r["p_yes_shift"], float(np.mean(conc)) - float(np.mean(ctrl)))
    assert r["p_yes_shift_n"] == 1 and r["p_yes_shift_n_ref"] == 20
    assert math.isnan(r["p_yes_shift_ci_low"])


def one_control_run(n_concepts: int) -> RunFrame:
    """The shipped logits presets: one no-injection trial (a deterministic readout), one
    trial per concept at the configuration."""
    b = TrialRecords()
    b.add("detection", det_cond(None, None, "none"), measure="logits", logits={"p_yes": 0.3})
    for i, c in enumerate(CONCEPTS[:n_concepts]):
        cond = {**det_cond(10, 4.0, "concept"), "concept": c}
        b.add("detection", cond, measure="logits", logits={"p_yes": 0.5 + 0.02 * i})
    return b.run()


def test_logit_shift_is_one_sample_against_the_constant_control() -> None:
    """One no-injection trial: the shift's interval is a one-sample t interval over the
    concepts against that constant (a Welch interval with one control trial is undefined)."""
    r = row(analysis.detection_logit_table(one_control_run(8)), control="concept")
    expected = paired_mean_ci([0.2 + 0.02 * i for i in range(8)])
    assert close(r["p_yes_shift"], expected.estimate)
    assert close(r["p_yes_shift_ci_low"], expected.low)
    assert close(r["p_yes_shift_ci_high"], expected.high)
    assert r["p_yes_shift_n"] == 8 and r["p_yes_shift_n_ref"] == 1


@pytest.mark.parametrize(("n_concepts", "verdict"), [(1, "undetermined"), (8, "depends on")])
def test_logit_step2_never_reads_a_missing_interval_as_a_verdict(
    n_concepts: int, verdict: str
) -> None:
    t = analysis.tables(one_control_run(n_concepts), {})
    sel = scorecard.select(t)
    assert sel is not None and sel.source == "logits"
    step2 = next(ln for ln in scorecard.scorecard(ScoreInputs(t, {}, sel)) if ln.step == 2)
    assert verdict in step2.sentence and "not distinguishable" not in step2.sentence
    assert step2.unit == "concepts" and step2.n == n_concepts


def test_headlines(run: RunFrame) -> None:
    t = analysis.tables(run, {})
    lines = analysis.headlines(t, {})
    names = [ln.name for ln in lines]
    assert names[0] == "net detection claim (concept)"
    assert "false positives (no injection)" in names
    for ln in lines:
        assert "aware" not in ln.sentence.lower()
    top = next(ln for ln in lines if ln.name == "net detection success (concept)")
    # One concept ("oceans") in this run: the concept is the unit, so n is 1 and the
    # interval over concepts is undefined (issue 10 defect 5).
    assert close(top.estimate, 0.5) and top.n == 1 and top.unit == "concepts"
    assert top.kind == "rate_difference" and math.isnan(top.ci_low)
    assert (
        "layer 10, strength 4" in top.sentence and "no interval: too few concepts" in top.sentence
    )


def test_empty_run_gives_empty_tables() -> None:
    t = analysis.tables(RunFrame(pd.DataFrame()), {})
    assert all(len(v) == 0 for k, v in t.items() if k != "confabulation_summary")
    assert analysis.headlines(t, {}) == []
    assert scorecard.select(t) is None


# --------------------------------------------------------------------------- content


def logits_run(reporter: str, n_rep: int = 40, seed: int = 0) -> RunFrame:
    """K=8 concepts, n_rep trials each, top_candidate perfect or shuffled."""
    rng = random.Random(seed)
    b = TrialRecords()
    injected = [c for c in CONCEPTS for _ in range(n_rep)]
    reported = list(injected)
    if reporter != "perfect":
        rng.shuffle(reported)
    for inj, rep in zip(injected, reported, strict=True):
        b.add(
            "detection",
            {"concept": inj, "layer": 10, "strength": 4.0, "control": "concept"},
            measure="logits",
            logits={
                "p_yes": 0.5,
                "concept_rank": 1 if rep == inj else 2,
                "n_candidates": len(CONCEPTS),
                "top_candidate": rep,
            },
        )
    return b.run()


def text_grade(
    injected: str, reported: str | None, *, affirmative: bool = True, outcome: str | None = None
) -> dict[str, Any]:
    correct = reported == injected
    if outcome is None:
        if not affirmative:
            outcome = "miss"
        elif correct:
            outcome = "correct_detection"
        elif reported is not None:
            outcome = "confabulated_concept"
        else:
            outcome = "detection_without_identification"
    g = rules(affirmative=affirmative, correct=correct, outcome=outcome)
    g["rules"]["reported"] = reported
    return g


def test_perfect_reporter_mi_is_log2_k_and_identification_is_one() -> None:
    run = logits_run("perfect")
    mi = content.mutual_information_table(run)
    r = mi[(mi["source"] == "logits") & (mi["control"] == "concept")].iloc[0]
    assert r["mi_bits_n"] == 8 * 40 and r["n_concepts"] == 8
    assert math.isclose(r["max_bits"], 3.0)
    assert abs(r["mi_bits"] - 3.0) < 0.1
    assert r["mi_bits_ci_low"] <= r["mi_bits"] <= r["mi_bits_ci_high"]
    assert r["p_value"] < 0.01
    i = content.identification_table(run).iloc[0]
    assert i["identification"] == 1.0 and i["identification_n"] == 320
    assert math.isclose(i["chance"], 1 / 8)
    assert math.isclose(i["identification_vs_chance"], 1 - 1 / 8)
    assert math.isclose(i["identification_ci_low"], rate(320, 320).low)


def test_shuffled_reporter_mi_is_zero() -> None:
    r = content.mutual_information_table(logits_run("shuffled", n_rep=60, seed=3)).iloc[0]
    assert abs(r["mi_bits"]) < 0.1
    assert r["p_value"] > 0.05
    assert r["mi_bits_ci_low"] < 0.05


def text_run() -> RunFrame:
    b = TrialRecords()
    # Oceans injected: 4 correct, 3 name Bread, 2 name Trees, 1 unlisted topic, 2 no concept,
    # 3 not affirmative (one naming Bread, which is not a confabulation)
    plan: list[tuple[str | None, bool, str | None]] = (
        [("Oceans", True, None)] * 4
        + [("Bread", True, None)] * 3
        + [("Trees", True, None)] * 2
        + [(None, True, "confabulated_concept")]
        + [(None, True, None)] * 2
        + [("Bread", False, None)]
        + [(None, False, None)] * 2
    )
    cond = {"concept": "Oceans", "layer": 10, "strength": 4.0, "control": "concept"}
    for rep, aff, outcome in plan:
        b.add(
            "detection",
            cond,
            response="r",
            grades=text_grade("Oceans", rep, affirmative=aff, outcome=outcome),
        )
    for _ in range(3):  # a second injected concept so K = 2; Bread named as Bread
        b.add(
            "detection",
            {**cond, "concept": "Bread"},
            response="r",
            grades=text_grade("Bread", "Bread"),
        )
    # random control naming Poetry: excluded from the default (concept) profile
    b.add(
        "detection",
        {**cond, "control": "random"},
        response="r",
        grades=text_grade("Oceans", "Poetry"),
    )
    return b.run()


def fake_vectors(names: list[str], n_layers: int = 12, d: int = 6) -> dict[str, np.ndarray]:
    g = np.random.default_rng(0)
    vecs = {n: g.standard_normal((n_layers, d)).astype(np.float32) for n in names}
    # Bread is Oceans plus a little noise: highly related
    vecs["Bread"] = vecs["Oceans"] + 0.1 * g.standard_normal((n_layers, d)).astype(np.float32)
    return vecs


def test_confabulation_counts() -> None:
    run = text_run()
    conf = confabulation.confabulation_trials(run)
    assert len(conf) == 3 + 2 + 1
    assert conf["named"].value_counts().to_dict() == {"Bread": 3, "Trees": 2, "<other topic>": 1}
    vs = fake_vectors(CONCEPTS)
    table = confabulation.confabulation_table(run, vs)
    assert list(table["named"]) == ["Bread", "Trees", "<other topic>"]
    assert list(table["count"]) == [3, 2, 1]
    assert table["fraction_n"].iloc[0] == 6 and math.isclose(table["fraction"].iloc[0], 0.5)
    assert table["concrete"].iloc[0] is True and table["concrete"].iloc[1] is True
    assert table["concrete"].iloc[2] is None
    o, br = vs["Oceans"][10].astype(float), vs["Bread"][10].astype(float)
    expected = float(o @ br / np.linalg.norm(o) / np.linalg.norm(br))
    assert math.isclose(table["cosine"].iloc[0], expected, rel_tol=1e-9)
    assert table["cosine_n"].iloc[0] == 3
    s = confabulation.confabulation_summary(run, vs)
    assert s["n_affirmative"] == 12 + 3 and s["n_confabulated"] == 6
    assert s["concrete_n"] == 5 and s["concrete_rate"] == 1.0
    assert s["top_named"][0] == ("Bread", 3)
    assert s["cosine_n"] == 5 and s["cosine"] > s["pair_cosine"]
    assert s["vectors_available"] is True
    assert confabulation.confabulation_summary(run, None)["vectors_available"] is False
    # the random control's confabulation shows only when asked for
    assert len(confabulation.confabulation_trials(run, controls=("random",))) == 1
    assert confabulation.is_concrete("Hats") and confabulation.is_concrete("Oceans")
    assert (
        confabulation.is_concrete("Peace") is False
        and confabulation.is_concrete("Justice") is False
    )
    assert confabulation.is_concrete("zebra-stripes") is None


def test_text_identification_and_none_label() -> None:
    run = text_run()
    ident = content.identification_table(run)
    r = ident[(ident["source"] == "text") & (ident["control"] == "concept")].iloc[0]
    # affirmative concept trials: 12 Oceans + 3 Bread; correct: 4 + 3
    assert r["identification_n"] == 15 and math.isclose(r["identification"], 7 / 15)
    assert math.isclose(r["chance"], 0.5)  # two concepts injected
    mi = content.mutual_information_table(run)
    m = mi[(mi["source"] == "text") & (mi["control"] == "concept")].iloc[0]
    assert m["mi_bits_n"] == 18  # every concept trial, "<none>" included
    assert math.isclose(m["none_fraction"], 5 / 18)  # 1 unlisted topic + 2 + 2
    dropped = content.mutual_information_table(run, drop_none=True)
    assert dropped[dropped["control"] == "concept"].iloc[0]["mi_bits_n"] == 13
