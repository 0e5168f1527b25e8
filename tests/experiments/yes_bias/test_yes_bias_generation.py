"""The yes-bias control on generated answers (constructed runs, no model): the shift toward
answering "yes" against each question's own no-injection answers, the MOVER bias-corrected
claims, dropped questions; and the whole slice through the registry: step 3 shows both
readouts, the figures, the sections and the report."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from yes_bias_builders import CONFIG, Design, add_run, det_cond

from introscope.experiments.base import ScoreInputs, Selection
from introscope.experiments.detection.analysis import detection_table
from introscope.experiments.yes_bias import EXPERIMENT
from introscope.experiments.yes_bias.analysis import tables
from introscope.experiments.yes_bias.figures import figures, plot_yes_bias_scatter
from introscope.experiments.yes_bias.generation import NO_ANSWER, generation_tables
from introscope.experiments.yes_bias.logodds import KEPT, WRONG
from introscope.experiments.yes_bias.params import PROTOCOL
from introscope.experiments.yes_bias.questions import Question, selected
from introscope.experiments.yes_bias.scorecard import LOGIT_NAME, TEXT_NAME, scorecard
from introscope.experiments.yes_bias.section import sections
from introscope.report.document import write_report
from introscope.report.results import load_results, scorecard_lines
from introscope.stats import mover_difference, rate_difference
from introscope.tables import RunFrame, Tables
from support import TrialRecords

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NO_Q = [q for q in selected(3) if q.answer == "no"]
YES_Q = [q for q in selected(3) if q.answer == "yes"]


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def claims(affirmative: bool) -> dict[str, Any]:
    """A detection grade: coherent, affirmative or not, never naming the concept."""
    return {
        "rules": {
            "coherent": True,
            "affirmative": affirmative,
            "correct_concept": False,
            "noticed_first": False,
            "success": False,
            "outcome": "x",
        }
    }


def answered(yes: bool | None) -> dict[str, Any]:
    return {"rules": {"answered_yes": yes}}


def gen_cond(q: Question, config: tuple[Any, ...] | None, concept: str = "c") -> dict[str, Any]:
    layer, strength, control = config or (None, None, "none")
    return {
        "question_id": q.question_id,
        "answer": q.answer,
        "topic": q.topic,
        "protocol": PROTOCOL,
        "concept": None if config is None else concept,
        "layer": layer,
        "strength": strength,
        "control": control,
    }


def gen_tables(b: TrialRecords) -> pd.DataFrame:
    run = b.run()
    return generation_tables(run, detection_table(run)).configs


# --------------------------------------------------------------------------- known answers


@pytest.mark.parametrize(("yes_under_injection", "expected"), [(5, 0.5), (30, 0.0)])
def test_generation_bias_corrected_claims(yes_under_injection: int, expected: float) -> None:
    """Detection claims rise from 5/50 to 30/50 (+0.5). If yes-answers to a 'no' question
    stay at 5/50 the corrected claim shift is +0.5; if they rise just as much it is 0."""
    b = TrialRecords()
    q = NO_Q[0]
    for k in range(50):
        b.add("detection", det_cond(None, None), grades=claims(k < 5))
        b.add("detection", det_cond("c", CONFIG), grades=claims(k < 30))
        b.add("yes_bias", gen_cond(q, None), grades=answered(k < 5))
        b.add("yes_bias", gen_cond(q, CONFIG, f"c{k}"), grades=answered(k < yes_under_injection))
    # Unparseable answers are missing, not "no": they must not change the rates.
    b.add("yes_bias", gen_cond(q, CONFIG), grades=answered(None))
    row = gen_tables(b).iloc[0]
    assert row["answered_yes_n"] == 50
    assert close(row["net_affirmative"], 0.5)
    assert math.isclose(row["bias_corrected_claims"], expected, abs_tol=1e-9)
    low, high = row["bias_corrected_claims_ci_low"], row["bias_corrected_claims_ci_high"]
    assert low < expected < high
    assert (low > 0) == (expected > 0)
    shift = rate_difference(yes_under_injection, 50, 5, 50)
    assert close(row["yes_bias_shift_ci_low"], shift.low)
    assert row["yes_bias_shift_n"] == 50 and row["yes_bias_shift_n_ref"] == 50
    assert close(row["no_answer_shift"], shift.estimate) and row["yes_answer_shift_n"] == 0


def test_baseline_is_the_same_questions() -> None:
    """A configuration that asked only q1 is compared with q1's own no-injection answers (2
    of 10 yes), not with every question's pooled (q2: 8 of 10): +0.3, where pooling read 0."""
    q1, q2 = NO_Q[0], YES_Q[0]
    b = TrialRecords()
    for k in range(10):
        b.add("yes_bias", gen_cond(q1, None), grades=answered(k < 2))
        b.add("yes_bias", gen_cond(q2, None), grades=answered(k < 8))
        b.add("yes_bias", gen_cond(q1, CONFIG, f"c{k}"), grades=answered(k < 5))
    row = gen_tables(b).iloc[0]
    assert close(row["yes_bias_shift"], 0.3) and row["yes_bias_shift_n_ref"] == 10
    assert close(row["no_answer_shift"], 0.3) and math.isnan(row["yes_answer_shift"])
    assert "bias_corrected_claims" not in row.index  # no detection answers to correct


def test_confidently_wrong_and_unanswered_questions_are_dropped() -> None:
    good, wrong, mute = NO_Q[0], NO_Q[1], YES_Q[0]
    b = TrialRecords()
    for k in range(8):
        b.add("yes_bias", gen_cond(good, None), grades=answered(k < 1))
        b.add("yes_bias", gen_cond(wrong, None), grades=answered(True))  # P(correct) = 0
        b.add("yes_bias", gen_cond(mute, None), grades=answered(None))
        for q in (good, wrong, mute):
            b.add("yes_bias", gen_cond(q, CONFIG, f"c{k}"), grades=answered(k < 4))
    run = b.run()
    gt = generation_tables(run, detection_table(run))
    status = {q["question_id"]: q["status"] for q in gt.questions}
    assert status == {good.question_id: KEPT, wrong.question_id: WRONG, mute.question_id: NO_ANSWER}
    row = gt.configs.iloc[0]
    assert row["n_dropped_question"] == 16 and row["answered_yes_n"] == 8
    assert close(row["yes_bias_shift"], 0.5 - 1 / 8)
    assert gt.summary is not None
    assert (gt.summary["n_dropped_wrong"], gt.summary["n_dropped_unanswered"]) == (1, 1)


def test_mover_difference() -> None:
    est, low, high = mover_difference(0.5, 0.3, 0.6, 0.1, 0.0, 0.3)
    assert close(est, 0.4)
    assert close(low, 0.4 - math.hypot(0.2, 0.2))  # a's lower arm, b's upper arm
    assert close(high, 0.4 + math.hypot(0.1, 0.1))  # a's upper arm, b's lower arm
    # b known exactly: the interval is a's, shifted by b.
    est, low, high = mover_difference(0.5, 0.3, 0.6, 0.1, 0.1, 0.1)
    assert close(low, 0.2) and close(high, 0.5)


# --------------------------------------------------------------------------- a whole run


def whole_run() -> TrialRecords:
    """Detection answers (claims 40/50 at layer 10 vs 5/50 without injection), the logit
    design with a real detection signal, and generated yes-bias answers."""
    b = TrialRecords()
    for k in range(50):
        b.add("detection", det_cond(None, None), grades=claims(k < 5))
        b.add("detection", det_cond("c", CONFIG), grades=claims(k < 40))
    for k in range(20):
        b.add("detection", det_cond("c", (20, 4.0, "concept")), grades=claims(k < 4))
    add_run(b, Design(extra=1.0))
    add_run(b, Design(config=(10, 4.0, "random"), seed=1))
    add_run(b, Design(config=(20, 4.0, "concept"), seed=2))
    for q in selected(1):
        for k in range(8):
            b.add(
                "yes_bias",
                gen_cond(q, None),
                grades=answered(k < 4 if q.answer == "no" else k >= 2),
            )
        for k in range(10):
            b.add("yes_bias", gen_cond(q, CONFIG, f"c{k}"), grades=answered(k < 6))
    return b


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return whole_run().write(tmp_path_factory.mktemp("yes_bias_run"))


@pytest.fixture(scope="module")
def t(run_dir: Path) -> Tables:
    run = RunFrame(load_results(run_dir).run.df, run_dir)
    return tables(run, {"detection": {"detection": detection_table(run)}})


def test_step3_shows_both_readouts(t: Tables) -> None:
    lines = scorecard(ScoreInputs(t, {}, Selection(10, 4.0, "text", 2)))
    assert [ln.name for ln in lines] == [LOGIT_NAME, TEXT_NAME]
    logit, text = lines
    assert logit.unit == "concepts" and logit.kind == "logodds" and logit.n == 15
    assert logit.ci_low > 0 and logit.config == text.config == "layer 10, strength 4"
    assert text.unit == "trials" and text.kind == "rate_difference"
    row = t["yes_bias_generation"].iloc[0]
    est, low, high = mover_difference(
        row["net_affirmative"],
        row["net_affirmative_ci_low"],
        row["net_affirmative_ci_high"],
        row["yes_bias_shift"],
        row["yes_bias_shift_ci_low"],
        row["yes_bias_shift_ci_high"],
    )
    assert close(text.estimate, est) and close(text.ci_low, low) and close(text.ci_high, high)
    assert "(MOVER interval over trials)" in text.sentence
    assert "0 of 4 questions were dropped" in text.sentence
    # The fixture's tables have no detection selection: the logit line chooses on this
    # grid's own split, and the generation line (no held-out detection estimate) says its
    # configuration was chosen after the fact.
    assert "(no configuration was selected above; this one has the largest" in logit.sentence
    assert "selected after the fact as the largest net affirmative of 1" in text.sentence
    for ln in lines:
        assert "aware" not in ln.sentence.lower()


def test_step3_in_the_run_reuses_detection_selection(run_dir: Path) -> None:
    """Through the registry: step 2 (detection) selects layer 10 (net claim 0.7 vs 0.1),
    and both step-3 lines report the same configuration."""
    res = load_results(run_dir)
    assert not res.failures, res.failures
    lines = scorecard_lines(res)
    step2 = [ln for ln in lines if ln.step == 2][:1]  # the net detection line (then wordings)
    step3 = [ln for ln in lines if ln.step == 3]
    assert [ln.name for ln in step3] == [LOGIT_NAME, TEXT_NAME]
    assert {ln.config for ln in step2 + step3} == {"layer 10, strength 4"}


def test_figures_are_pngs(t: Tables, tmp_path: Path) -> None:
    figs = figures(t, tmp_path)
    assert set(figs) == {"yes_bias", "yes_bias_concepts", "yes_bias_baselines"}
    for path in figs.values():
        data = path.read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 2000


def test_empty_tables_draw_nothing(tmp_path: Path) -> None:
    empty = tables(RunFrame(None), {"detection": {"detection": pd.DataFrame()}})
    assert figures(empty, tmp_path) == {}
    assert plot_yes_bias_scatter(pd.DataFrame(), tmp_path / "x.png") is None
    assert not list(tmp_path.iterdir())
    assert sections(empty, {}) == []


def test_sections(t: Tables, tmp_path: Path) -> None:
    out = sections(t, figures(t, tmp_path))
    assert [(s.title, s.anchor) for s in out] == [
        ("Yes-bias control", "yes-bias"),
        ("Yes-bias control (generated answers)", "yes-bias-generation"),
        # the rule grader's agreement with hand labels (issue 10)
        ("Grader agreement (rules vs hand labels)", "rules-validation-yes-bias"),
    ]
    logits = out[0]
    assert "log-odds" in logits.intro and "Left out: 0 of" in logits.intro
    assert "correlate at r = " in logits.intro
    assert logits.body.count('src="data:image/png;base64,') == 3
    assert "pearson" not in logits.body and "bias_pattern" in logits.body
    assert "no-world-00" in logits.body
    assert "bias_corrected_claims" in out[1].body


def test_report_has_the_sections(run_dir: Path) -> None:
    text = write_report(run_dir).read_text(encoding="utf-8")
    assert 'id="yes-bias"' in text and 'id="yes-bias-generation"' in text
    for name in ("yes_bias", "yes_bias_concepts", "yes_bias_baselines"):
        assert (run_dir / "plots" / f"{name}.png").exists()


def test_declaration() -> None:
    assert EXPERIMENT.kind == "yes_bias" and EXPERIMENT.needs == ("detection",)
    assert set(EXPERIMENT.steps) == {3}
    assert set(EXPERIMENT.measures) == {"logits", "generation"}


@pytest.mark.slow  # heavy for the default run (CI); make test-all runs it
def test_a_protocol_1_run_is_reported_but_not_analysed() -> None:
    """The fixture battery (written before issue 10): its yes-bias trials are counted, left
    out, and step 3 says why in one sentence."""
    fixture = Path(__file__).parents[2] / "fixtures" / "battery_small"
    res = load_results(fixture)
    assert not res.failures, res.failures
    t = res.tables["yes_bias"]
    n_old = int((res.run.df["experiment"] == "yes_bias").sum())
    assert int(t["yes_bias_summary"]["n_earlier_protocol"].sum()) == n_old > 0
    assert t["yes_bias"].empty and t["yes_bias_generation"].empty
    (line,) = [ln for ln in scorecard_lines(res) if ln.step == 3]
    assert not line.available
    assert line.sentence == (
        "Not run: this run's yes-bias trials come from an earlier protocol (questions asked "
        "outside the detection frame, 'no'-answer questions only) that this version does not "
        "compare with detection; rerun the yes_bias parts."
    )
