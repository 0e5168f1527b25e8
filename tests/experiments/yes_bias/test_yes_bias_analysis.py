"""The yes-bias control in log-odds, on constructed runs with known answers (no model): a
pure push toward "yes" cancels (where the old probability-difference method reported
detection beyond bias), a drift toward 0.5 is told from a push, a real detection signal
survives, low-mass trials and confidently wrong questions are left out and counted, old
protocol trials are never mixed in, and an undefined interval reads "undetermined"."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pandas as pd
import pytest
from yes_bias_builders import (
    CONFIG,
    Design,
    add_run,
    det_cond,
    large_model_baselines,
    logit,
    q_cond,
    readout,
    run_of,
)

from introscope.experiments.base import ScoreInputs, Selection
from introscope.experiments.selection import Choice, selection_frame
from introscope.experiments.yes_bias import scorecard as step3
from introscope.experiments.yes_bias.analysis import headlines, tables
from introscope.experiments.yes_bias.logodds import KEPT, LOW_MASS, WRONG, logit_tables
from introscope.experiments.yes_bias.params import MIN_YES_NO_MASS, WRONG_BELOW
from introscope.experiments.yes_bias.questions import selected
from introscope.headlines import Headline, undetermined
from introscope.stats import Difference, mean_difference_ci
from introscope.tables import RunFrame, Tables, cond
from support import TrialRecords

EMPTY_DETECTION = {"detection": {"detection": pd.DataFrame()}}


def table_of(run: RunFrame, choice: Choice | None = None) -> Tables:
    """The slice's tables, with the detection slice's selection ``choice`` (None: none)."""
    if choice is None:
        return tables(run, EMPTY_DETECTION)
    selection = selection_frame(choice, source="logits")
    return tables(run, {"detection": {"detection": pd.DataFrame(), "selection": selection}})


def declared(config: tuple[Any, ...] = CONFIG) -> Choice:
    return Choice(("layer", "strength"), config[:2], "declared", 1, 0, (), ())


def concept_row(t: Tables, config: tuple[Any, ...] = CONFIG) -> pd.Series:
    yb = t["yes_bias"]
    layer, strength, control = config
    sub = yb[(yb["layer"] == layer) & (yb["strength"] == strength) & (yb["control"] == control)]
    assert len(sub) == 1
    return sub.iloc[0]


def covers_zero(row: pd.Series, col: str) -> bool:
    return bool(row[f"{col}_ci_low"] <= 0 <= row[f"{col}_ci_high"])


def line3(t: Tables, selection: Selection | None = None) -> list[Headline]:
    lines = step3.scorecard(ScoreInputs(t, {}, selection))
    assert all(ln.step == 3 for ln in lines)
    return lines


def old_probability_difference(run: RunFrame) -> Difference:
    """The pre-issue-10 method on the same trials: per-trial P(yes) shifts on the detection
    question minus the P(yes) shifts on the "no"-answer questions (its only kind), Welch."""
    det = run.records("detection", "logits")
    base = next(r["logits"]["p_yes"] for r in det if cond(r, "control") == "none")
    det_shifts = [r["logits"]["p_yes"] - base for r in det if cond(r, "control") != "none"]
    yb = run.records("yes_bias", "logits")
    q_base = {
        cond(r, "question_id"): r["logits"]["p_yes"] for r in yb if cond(r, "control") == "none"
    }
    ctrl = [
        r["logits"]["p_yes"] - q_base[cond(r, "question_id")]
        for r in yb
        if cond(r, "control") != "none" and cond(r, "answer") == "no"
    ]
    return mean_difference_ci(det_shifts, ctrl)


# --------------------------------------------------------------------------- known answers


def test_pure_push_cancels_in_log_odds_but_not_in_probability() -> None:
    """+2 log-odds on every question and on the detection question (a concept-specific push,
    shared by all its questions): bias-corrected detection is about 0 with an interval that
    covers 0, while the probability difference reads as detection beyond the bias."""
    run = run_of(Design(push=2.0))
    row = concept_row(table_of(run))
    assert row["n_concepts"] == 30 and row["bias_corrected_detection_n"] == 30
    assert math.isclose(row["detection_shift"], 2.0, abs_tol=0.15)
    assert math.isclose(row["control_shift"], 2.0, abs_tol=0.15)
    assert abs(row["bias_corrected_detection"]) < 0.06
    assert covers_zero(row, "bias_corrected_detection")
    assert row["bias_pattern"] == "push toward yes"
    assert covers_zero(row, "drift_shift")
    old = old_probability_difference(run)
    assert old.low > 0.05  # the old method: "detection beyond yes-bias" with no introspection
    (line,) = line3(table_of(run), Selection(10, 4.0, "logits", 1))
    assert "not distinguishable from the injection's push" in line.sentence
    assert line.unit == "concepts" and line.n == 30 and line.kind == "logodds"


def test_pure_push_false_positives_stay_rare_over_seeds() -> None:
    """Over 100 seeded repeats of a pure push, the bias-corrected interval (t over 20
    concepts) excludes 0 about 5% of the time (at most 10: the binomial's 99% bound), with no
    systematic sign."""
    excluded = 0
    estimates = []
    for seed in range(100):
        d = Design(push=2.0, seed=seed, n_concepts=20, questions_per_kind=1)
        row = concept_row(table_of(run_of(d)))
        excluded += not covers_zero(row, "bias_corrected_detection")
        estimates.append(row["bias_corrected_detection"])
    assert excluded <= 10
    assert abs(sum(estimates) / len(estimates)) < 0.01


def test_drift_toward_half_is_told_from_a_push() -> None:
    """Every answer pulled halfway toward 0.5 (no push): "no"-answer questions rise,
    "yes"-answer ones fall, the drift is positive; a push leaves the drift at 0."""
    drift = concept_row(table_of(run_of(Design(push=0.0, drift=0.5))))
    assert drift["bias_pattern"] == "drift toward 0.5"
    assert drift["control_no_shift_ci_low"] > 0 and drift["control_yes_shift_ci_high"] < 0
    assert drift["drift_shift_ci_low"] > 1.0
    # the drift moves the detection question (baseline 0.63) down: never a false detection
    assert drift["bias_corrected_detection_ci_high"] < 0.5
    assert (
        "the detection question moves more"
        not in line3(table_of(run_of(Design(drift=0.5))))[0].sentence
    )
    push = concept_row(table_of(run_of(Design(push=1.0))))
    assert push["bias_pattern"] == "push toward yes"
    assert covers_zero(push, "drift_shift")


def test_real_detection_signal_is_above_zero() -> None:
    """The detection question moves 1 log-odds more than the control questions for every
    concept: the interval over concepts lies above 0, and step 3 says so."""
    t = table_of(run_of(Design(push=2.0, extra=1.0)), declared())
    row = concept_row(t)
    assert row["bias_corrected_detection_ci_low"] > 0.8
    concepts = t["yes_bias_concepts"]
    assert (concepts["detection_shift"] > concepts["control_shift"]).all()
    (line,) = line3(t, Selection(10, 4.0, "logits", 1, "declared"))
    assert line.ci_low > 0 and line.n == 30
    assert "the detection question moves more than the same injection moves" in line.sentence
    assert "(the declared configuration, estimated on all 30 concepts)" in line.sentence


def test_concept_table_pairs_each_concept() -> None:
    t = table_of(run_of(Design(extra=0.5)))
    c = t["yes_bias_concepts"]
    assert len(c) == 30 and set(c["n_questions"]) == {12}
    assert (abs(c["bias_corrected"] - (c["detection_shift"] - c["control_shift"])) < 1e-12).all()
    balanced = (c["control_yes_shift"] + c["control_no_shift"]) / 2
    assert (abs(c["control_shift"] - balanced) < 1e-12).all()
    row = concept_row(t)
    assert math.isclose(row["bias_corrected_detection"], c["bias_corrected"].mean(), rel_tol=1e-9)
    assert math.isclose(
        row["bias_corrected_detection"], row["detection_shift"] - row["control_shift"], abs_tol=1e-9
    )


# --------------------------------------------------------------------------- left out, counted


def broken(b: TrialRecords, d: Design, n: int) -> None:
    """``n`` concepts get an extra detection trial and an extra trial on the first question
    whose injection broke the answer format: yes/no mass 0.01, log-odds +10."""
    q = d.questions()[0]
    for c in d.concepts()[:n]:
        b.add("detection", det_cond(c, d.config), measure="logits", logits=readout(10.0, 0.01))
        b.add("yes_bias", q_cond(q, c, d.config), measure="logits", logits=readout(10.0, 0.01))


def test_low_mass_trials_are_left_out_and_counted() -> None:
    d = Design(push=1.0)
    clean = table_of(run_of(d))
    b = add_run(TrialRecords(), d)
    broken(b, d, 5)
    t = table_of(b.run())
    row, ref = concept_row(t), concept_row(clean)
    assert row["n_low_mass"] == 10 and ref["n_low_mass"] == 0
    assert row["n_trials"] == ref["n_trials"] + 10
    for col in ("bias_corrected_detection", "detection_shift", "control_shift"):
        assert math.isclose(row[col], ref[col], rel_tol=1e-12), col
    summary = t["yes_bias_summary"].iloc[0]
    assert summary["n_low_mass"] == 10 and summary["min_yes_no_mass"] == MIN_YES_NO_MASS
    (line,) = line3(t, Selection(10, 4.0, "logits", 1))
    assert f"Left out: 10 of {int(row['n_trials'])} injected trials" in line.sentence
    assert f"below {MIN_YES_NO_MASS:g}" in line.sentence


def test_detection_baseline_below_mass_is_undetermined() -> None:
    b = TrialRecords()
    b.add("detection", det_cond(None, None), measure="logits", logits=readout(0.5, 0.01))
    d = Design()
    add_run(b, d)
    # the design's own no-injection detection trial passes: drop it to keep only the low one
    b.records = [
        r
        for r in b.records
        if not (
            r.experiment == "detection"
            and r.condition["control"] == "none"
            and (r.logits or {}).get("yes_no_mass") == 0.9
        )
    ]
    t = table_of(b.run())
    row = concept_row(t)
    assert row["n_concepts"] == 0 and math.isnan(row["bias_corrected_detection"])
    questions = t["yes_bias_questions"]
    assert questions.iloc[0]["question_id"] == "detection"
    assert questions.iloc[0]["status"] == LOW_MASS
    (line,) = line3(t, Selection(10, 4.0, "logits", 1))
    assert undetermined() in line.sentence and "not distinguishable" not in line.sentence
    assert "the no-injection detection trial itself (mass 0.010)" in line.sentence


def test_confidently_wrong_questions_are_dropped_and_counted() -> None:
    """A "no"-answer question the model answers "yes" with P = 0.9 without injection is
    dropped: its trials count in n_dropped_question and change nothing else."""
    wrong_q = next(q for q in selected(3) if q.answer == "no")
    d = Design(push=1.0, baselines={wrong_q.question_id: 0.9})
    t = table_of(run_of(d))
    q = t["yes_bias_questions"].set_index("question_id")
    assert q.loc[wrong_q.question_id, "status"] == WRONG
    assert math.isclose(q.loc[wrong_q.question_id, "p_correct"], 0.1)
    assert (q.drop(index=["detection", wrong_q.question_id])["status"] == KEPT).all()
    assert q.loc["detection", "status"] == "detection question"
    summary = t["yes_bias_summary"].iloc[0]
    assert summary["n_dropped_wrong"] == 1 and summary["n_kept"] == 11
    assert summary["wrong_below"] == WRONG_BELOW
    row = concept_row(t)
    assert row["n_dropped_question"] == 30
    assert set(t["yes_bias_concepts"]["n_questions"]) == {11}
    (line,) = line3(t, Selection(10, 4.0, "logits", 1))
    assert "1 of 12 questions the model answers confidently wrong" in line.sentence


def test_earlier_protocol_trials_are_never_mixed_in() -> None:
    """Protocol 1 trials (no protocol in the condition) are counted and left out; a run that
    has only those gets no step-3 number, and one sentence why."""
    b = TrialRecords()
    b.add("detection", det_cond(None, None), measure="logits", logits={"p_yes": 0.6})
    b.add("detection", det_cond("c", CONFIG), measure="logits", logits={"p_yes": 0.7})
    for control in ("none", "concept"):
        cfg = None if control == "none" else CONFIG
        c = {"question_id": "world-00", "question_kind": "world", **det_cond("c", cfg)}
        b.add("yes_bias", c, measure="logits", logits={"p_yes": 0.3})
    t = table_of(b.run())
    assert t["yes_bias"].empty
    assert t["yes_bias_summary"].iloc[0]["n_earlier_protocol"] == 2
    (line,) = line3(t)
    assert not line.available
    assert line.sentence.startswith("Not run: this run's yes-bias trials come from an earlier")
    # mixed with protocol 2 trials: the old ones are left out, the new ones analysed
    add_run(b, Design())
    t = table_of(b.run())
    assert t["yes_bias_summary"].iloc[0]["n_earlier_protocol"] == 2
    assert concept_row(t)["n_concepts"] == 30


def test_one_concept_gives_an_undetermined_interval() -> None:
    t = table_of(run_of(Design(n_concepts=1, extra=3.0)))
    row = concept_row(t)
    assert row["bias_corrected_detection_n"] == 1
    assert math.isnan(row["bias_corrected_detection_ci_low"])
    assert row["bias_pattern"] == "undetermined"
    (line,) = line3(t, Selection(10, 4.0, "logits", 1))
    assert line.sentence.count(undetermined()) == 1
    assert "not distinguishable" not in line.sentence


def test_log_odds_without_a_stored_value_come_from_p_yes() -> None:
    """Trials that store only P(yes) (and no mass) are read through the logit of P(yes)."""
    d = Design(push=1.0, extra=0.5)
    b = add_run(TrialRecords(), d)
    for r in b.records:
        r.logits = {"p_yes": (r.logits or {})["p_yes"]}
    t, ref = table_of(b.run()), table_of(run_of(d))
    assert math.isclose(
        concept_row(t)["bias_corrected_detection"],
        concept_row(ref)["bias_corrected_detection"],
        rel_tol=1e-9,
    )


def test_configurations_need_both_experiments() -> None:
    b = TrialRecords()
    add_run(b, Design())
    only_yb = RunFrame(b.frame().query("experiment == 'yes_bias'"))
    lt = logit_tables(only_yb)
    assert lt.configs.empty and lt.summary is not None and lt.summary["n_questions"] == 12
    (line,) = line3(table_of(only_yb))
    assert "no detection trials of the same readout" in line.sentence
    assert logit_tables(RunFrame(b.frame().query("experiment == 'detection'"))).summary is None


def test_bank_baselines_span_the_detection_question() -> None:
    t = table_of(run_of(Design()))
    q = t["yes_bias_questions"]
    det = float(q.loc[q["question_id"] == "detection", "p_yes"].iloc[0])
    ctrl = q[q["question_id"] != "detection"]["p_yes"]
    assert ctrl.min() < det < ctrl.max()
    asked = set(q.loc[q["question_id"] != "detection", "question_id"])
    assert asked == set(large_model_baselines(selected(3)))


# --------------------------------------------------------------------------- headlines


def test_headlines() -> None:
    d = Design(extra=1.0)
    b = add_run(TrialRecords(), d)
    add_run(b, replace(d, config=(20, 4.0, "concept"), extra=0.0, seed=1))
    add_run(b, replace(d, config=(10, 4.0, "random"), extra=0.0, seed=2))
    add_run(b, replace(d, config=(20, 8.0, "concept"), extra=0.2, seed=3))
    t = table_of(b.run())
    lines = headlines(t, {})
    assert [ln.name for ln in lines] == [
        "bias-corrected detection (log-odds)",
        "detection vs control log-odds shift (r)",
    ]
    bc, r = lines
    # no configuration was selected upstream: this grid's own seeded split chooses
    assert bc.unit == "concepts" and bc.kind == "logodds" and bc.n == 15
    assert (
        "layer 10, strength 4 (no configuration was selected above; this one has the largest "
        "detection shift of 3 on 15 concepts and is estimated on 15 other, held-out concepts)"
    ) in bc.sentence
    assert "after the fact" not in bc.sentence
    assert r.unit == "configurations" and r.n == 4 and r.kind == "correlation"
    for ln in lines:
        assert "aware" not in ln.sentence.lower()


def test_scorecard_falls_back_when_the_selection_is_not_in_the_grid() -> None:
    run = run_of(Design(extra=1.0))
    elsewhere = Choice(("layer", "strength"), (5, 2.0), "held out", 4, 0, ("c00",), ("c01",))
    for choice, why in (
        (elsewhere, "the configuration selected above is not in this grid"),
        (None, "no configuration was selected above"),
    ):
        (line,) = line3(table_of(run, choice))
        assert line.available and line.config == "layer 10, strength 4"
        assert f"({why}; the only configuration, estimated on all 30 concepts)" in line.sentence


def test_scorecard_without_yes_bias_trials_says_not_run() -> None:
    (line,) = line3(table_of(RunFrame(None)), Selection(10, 4.0, "text", 2))
    assert not line.available and line.n == 0 and math.isnan(line.estimate)
    assert line.sentence == "Not run: the run has no yes-bias trials."


def test_empty_run() -> None:
    t = table_of(RunFrame(None))
    assert set(t) == {
        "yes_bias",
        "yes_bias_concepts",
        "yes_bias_questions",
        "yes_bias_generation",
        "yes_bias_held_out",
        "yes_bias_summary",
        "rules_validation",
    }
    assert all(v.empty for k, v in t.items() if k != "rules_validation")
    assert headlines(t, {}) == []


@pytest.mark.parametrize("n_concepts", [2, 8])
def test_detection_shift_interval_is_one_sample_against_the_constant(n_concepts: int) -> None:
    """The no-injection detection readout is one deterministic trial: the detection shift's
    interval is a t interval over concepts, defined from two concepts on."""
    t = table_of(run_of(Design(n_concepts=n_concepts)))
    row = concept_row(t)
    assert row["detection_shift_n"] == n_concepts and row["detection_shift_n_ref"] == 1
    assert row["detection_shift_ci_low"] < row["detection_shift"] < row["detection_shift_ci_high"]
    per_concept = t["yes_bias_concepts"]["detection_log_odds"] - logit(0.63)
    assert math.isclose(row["detection_shift"], per_concept.mean(), rel_tol=1e-9)
