"""Yes-bias tables, headline rows, scorecard step 3, figure and sections, on constructed runs
with known answers. No model needed."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from introscope.experiments.base import ScoreInputs, Selection
from introscope.experiments.detection.analysis import detection_table
from introscope.experiments.yes_bias import EXPERIMENT
from introscope.experiments.yes_bias.analysis import (
    headlines,
    mover_difference,
    scorecard,
    tables,
    yes_bias_generation_table,
    yes_bias_table,
)
from introscope.experiments.yes_bias.figures import figures, plot_yes_bias_scatter
from introscope.experiments.yes_bias.questions import questions
from introscope.experiments.yes_bias.section import sections
from introscope.report.document import write_report
from introscope.report.results import load_results, scorecard_lines
from introscope.stats import mean_difference_ci, rate_difference
from introscope.store import RunStore, TrialRecord, load_run
from introscope.tables import RunFrame, Tables

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_ids = itertools.count()


def rec(
    experiment: str,
    measure: str,
    cond: dict[str, Any],
    *,
    p_yes: float | None = None,
    grades: dict[str, Any] | None = None,
) -> TrialRecord:
    i = next(_ids)
    return TrialRecord(
        trial_id=f"t{i:06d}",
        run_id="r",
        experiment=experiment,
        cell_id="c",
        condition={**cond, "rep": i},
        prompt="p",
        measure=measure,  # type: ignore[arg-type]
        seed=i,
        logits=None if p_yes is None else {"p_yes": p_yes},
        grades=grades or {},
    )


def write(run_dir: Path, records: list[TrialRecord]) -> RunFrame:
    with RunStore(run_dir) as store:
        store.write_batch(records)
    return RunFrame(load_run(run_dir), run_dir)


def cfg(control: str, layer: int = 10, strength: float = 4.0, **extra: Any) -> dict[str, Any]:
    inj = control != "none"
    return {
        "concept": "Dust" if inj else None,
        "layer": layer if inj else None,
        "strength": strength if inj else None,
        "control": control,
        **extra,
    }


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


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


# --------------------------------------------------------------------------- known answers


def test_identical_rise_gives_zero_bias_corrected_detection(tmp_path: Path) -> None:
    """P(yes) rises by exactly +0.2 on the detection question and on every 'no' question:
    the detection shift is entirely a push toward 'yes'."""
    recs = []
    for k in range(20):
        base = 0.3 + 0.01 * (k % 5)
        recs.append(rec("detection", "logits", cfg("none"), p_yes=base))
        recs.append(rec("detection", "logits", cfg("concept"), p_yes=base + 0.2))
    for qid, _kind, _text in questions()[:20]:
        recs.append(rec("yes_bias", "logits", cfg("none", question_id=qid), p_yes=0.1))
        recs.append(rec("yes_bias", "logits", cfg("concept", question_id=qid), p_yes=0.3))
    t = yes_bias_table(write(tmp_path, recs))
    row = t[t["control"] == "concept"].iloc[0]
    assert math.isclose(row["detection_shift"], 0.2, abs_tol=1e-9)
    assert math.isclose(row["yes_bias_shift"], 0.2, abs_tol=1e-9)
    assert abs(row["bias_corrected_detection"]) < 1e-9
    assert row["bias_corrected_detection_ci_low"] <= 0 <= row["bias_corrected_detection_ci_high"]


@pytest.mark.parametrize(("yes_under_injection", "expected"), [(5, 0.5), (30, 0.0)])
def test_generation_bias_corrected_claims(
    tmp_path: Path, yes_under_injection: int, expected: float
) -> None:
    """Detection claims rise from 5/50 to 30/50 (+0.5). If yes-answers to 'no' questions stay
    at 5/50 the corrected claim shift is +0.5; if they rise just as much it is 0."""
    recs = []
    for k in range(50):
        recs.append(rec("detection", "generation", cfg("none"), grades=claims(k < 5)))
        recs.append(rec("detection", "generation", cfg("concept"), grades=claims(k < 30)))
        q = f"world-{k:02d}"
        recs.append(
            rec("yes_bias", "generation", cfg("none", question_id=q), grades=answered(k < 5))
        )
        recs.append(
            rec(
                "yes_bias",
                "generation",
                cfg("concept", question_id=q),
                grades=answered(k < yes_under_injection),
            )
        )
    # Unparseable answers are missing, not "no": they must not change the rates.
    recs.append(
        rec("yes_bias", "generation", cfg("concept", question_id="x"), grades=answered(None))
    )
    run = write(tmp_path, recs)
    t = yes_bias_generation_table(run, detection_table(run))
    row = t[t["control"] == "concept"].iloc[0]
    assert row["answered_yes_n"] == 50
    assert math.isclose(row["net_affirmative"], 0.5, abs_tol=1e-9)
    assert math.isclose(row["bias_corrected_claims"], expected, abs_tol=1e-9)
    low, high = row["bias_corrected_claims_ci_low"], row["bias_corrected_claims_ci_high"]
    assert low < expected < high
    if expected == 0.0:
        assert low < 0 < high
    else:
        assert low > 0  # 25 more claims out of 50 is well outside the interval around 0
    shift = rate_difference(yes_under_injection, 50, 5, 50)
    assert close(row["yes_bias_shift_ci_low"], shift.low)
    assert row["yes_bias_shift_n"] == 50 and row["yes_bias_shift_n_ref"] == 50


def test_generation_without_detection_has_no_correction(tmp_path: Path) -> None:
    """Without detection answers at the configuration there is nothing to correct: the row
    keeps the yes-bias shift and no bias_corrected_claims."""
    recs = [
        rec("yes_bias", "generation", cfg("none", question_id="q"), grades=answered(k < 2))
        for k in range(10)
    ]
    recs += [
        rec("yes_bias", "generation", cfg("concept", question_id="q"), grades=answered(k < 6))
        for k in range(10)
    ]
    run = write(tmp_path, recs)
    t = yes_bias_generation_table(run, detection_table(run))
    assert len(t) == 1
    assert close(t.iloc[0]["yes_bias_shift"], 0.4)
    assert "net_affirmative" not in t.columns and "bias_corrected_claims" not in t.columns


def test_mover_difference() -> None:
    est, low, high = mover_difference(0.5, 0.3, 0.6, 0.1, 0.0, 0.3)
    assert close(est, 0.4)
    assert close(low, 0.4 - math.hypot(0.2, 0.2))  # a's lower arm, b's upper arm
    assert close(high, 0.4 + math.hypot(0.1, 0.1))  # a's upper arm, b's lower arm
    # b known exactly: the interval is a's, shifted by b.
    est, low, high = mover_difference(0.5, 0.3, 0.6, 0.1, 0.1, 0.1)
    assert close(low, 0.2) and close(high, 0.5)


def test_questions_are_no_questions_of_both_kinds() -> None:
    qs = questions()
    assert len(qs) >= 40
    kinds = {k for _, k, _ in qs}
    assert kinds == {"world", "self"}
    assert len({q for q, _, _ in qs}) == len(qs)
    assert all(q.startswith(kind) for q, kind, _ in qs)


# --------------------------------------------------------------------------- a synthetic run

#: Detection P(yes) means by (layer, strength, control) and yes-bias shifts by configuration.
DET_LOGIT_MEANS = {
    (None, None, "none"): 0.2,
    (10, 4.0, "concept"): 0.6,
    (10, 4.0, "random"): 0.4,
    (20, 4.0, "concept"): 0.5,
}
YB_SHIFT = {(10, 4.0, "concept"): 0.3, (10, 4.0, "random"): 0.15, (20, 4.0, "concept"): 0.25}
QUESTIONS = (("q1", "world", 0.1), ("q2", "self", 0.2))


def synthetic_records() -> list[TrialRecord]:
    recs = []
    # detection answers: layer 10 claims 40/50, layer 20 4/20, no injection 5/50
    for k in range(50):
        recs.append(rec("detection", "generation", cfg("none"), grades=claims(k < 5)))
        recs.append(rec("detection", "generation", cfg("concept"), grades=claims(k < 40)))
    for k in range(20):
        recs.append(rec("detection", "generation", cfg("concept", 20), grades=claims(k < 4)))
    rng = np.random.default_rng(0)
    for (layer, strength, control), mu in DET_LOGIT_MEANS.items():
        for _ in range(20):
            c = cfg(control, layer or 0, strength or 0.0)
            recs.append(rec("detection", "logits", c, p_yes=float(mu + rng.normal(0, 0.05))))
    # yes-bias: two questions, baseline 0.1 / 0.2, a fixed shift per configuration with
    # symmetric jitter (so the mean shift is exact)
    for q, kind, base in QUESTIONS:
        extra = {"question_id": q, "question_kind": kind}
        recs.append(rec("yes_bias", "logits", cfg("none", **extra), p_yes=base))
        for (layer, strength, control), s in YB_SHIFT.items():
            for k in range(5):
                p = base + s + 0.01 * (k - 2)
                recs.append(
                    rec("yes_bias", "logits", cfg(control, layer, strength, **extra), p_yes=p)
                )
    # yes-bias answers: 10/40 yes without injection, 20/40 under concept injection at layer 10
    for k in range(40):
        q = {"question_id": f"world-{k % 4:02d}", "question_kind": "world"}
        recs.append(rec("yes_bias", "generation", cfg("none", **q), grades=answered(k < 10)))
        recs.append(rec("yes_bias", "generation", cfg("concept", **q), grades=answered(k < 20)))
    return recs


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("yes_bias_run")
    with RunStore(d) as store:
        store.write_batch(synthetic_records())
    return d


@pytest.fixture(scope="module")
def run(run_dir: Path) -> RunFrame:
    return RunFrame(load_run(run_dir), run_dir)


@pytest.fixture(scope="module")
def t(run: RunFrame) -> Tables:
    return tables(run, {"detection": {"detection": detection_table(run)}})


def row(table: pd.DataFrame, **match: Any) -> pd.Series:
    m = pd.Series(True, index=table.index)
    for k, v in match.items():
        m &= table[k] == v
    sub = table[m]
    assert len(sub) == 1, f"{match}: {len(sub)} rows"
    return sub.iloc[0]


def test_yes_bias_table(run: RunFrame, t: Tables) -> None:
    yb = t["yes_bias"]
    assert len(yb) == 3
    assert [tuple(r) for r in yb[["layer", "strength", "control"]].itertuples(index=False)] == [
        (10, 4.0, "concept"),
        (10, 4.0, "random"),
        (20, 4.0, "concept"),
    ]
    det = run.records("detection", "logits")
    p_none = [r["logits"]["p_yes"] for r in det if r["condition"]["control"] == "none"]
    pc = [
        r["logits"]["p_yes"]
        for r in det
        if r["condition"]["control"] == "concept" and r["condition"]["layer"] == 10
    ]
    expected = mean_difference_ci(pc, p_none)
    y = row(yb, layer=10, strength=4.0, control="concept")
    assert close(y["detection_shift"], expected.estimate)
    assert close(y["detection_shift_ci_low"], expected.low)
    # yes-bias shifts are baseline + 0.3 + symmetric jitter -> mean shift exactly 0.3
    assert math.isclose(y["yes_bias_shift"], 0.3, abs_tol=1e-9)
    assert y["yes_bias_shift_n"] == 10 and y["yes_bias_world_shift_n"] == 5
    assert math.isclose(y["yes_bias_self_shift"], 0.3, abs_tol=1e-9)
    ctrl_mean = float(np.mean(p_none))
    yb_shifts = [0.3 + 0.01 * (k - 2) for k in range(5)] * 2
    bc = mean_difference_ci([v - ctrl_mean for v in pc], yb_shifts)
    assert close(y["bias_corrected_detection"], bc.estimate)
    assert math.isclose(y["bias_corrected_detection_ci_low"], bc.low, abs_tol=1e-9)
    assert not math.isnan(y["pearson_r"]) and y["pearson_n"] == 3
    assert (yb["pearson_r"] == y["pearson_r"]).all()


def test_detection_logits_alone_or_yes_bias_alone_give_no_table(run: RunFrame) -> None:
    for experiment in ("detection", "yes_bias"):
        only = RunFrame(run.df[run.df["experiment"] == experiment])
        assert yes_bias_table(only).empty


def test_generation_table(t: Tables) -> None:
    g = row(t["yes_bias_generation"], layer=10, strength=4.0, control="concept")
    assert g["n_trials"] == 40 and close(g["answered_yes"], 0.5)
    assert close(g["yes_bias_shift"], 0.25)
    assert close(g["net_affirmative"], 40 / 50 - 5 / 50)
    assert close(g["bias_corrected_claims"], 0.7 - 0.25)


def test_headlines(t: Tables) -> None:
    lines = headlines(t, {})
    assert [ln.name for ln in lines] == [
        "bias-corrected detection (logits)",
        "detection vs yes-bias shift (r)",
    ]
    bc, r = lines
    # the concept configuration with the largest detection shift: layer 10 (0.6 vs 0.5)
    y = row(t["yes_bias"], layer=10, strength=4.0, control="concept")
    assert close(bc.estimate, y["bias_corrected_detection"]) and bc.n == 20
    assert "layer 10, strength 4 (the largest of 2 configurations" in bc.sentence
    assert bc.kind == "shift" and bc.step is None
    assert close(r.estimate, y["pearson_r"]) and r.n == 3 and r.unit == "configurations"
    assert r.kind == "correlation"
    assert "too few for a CI" in r.sentence  # 3 configurations: no Fisher-z interval
    for ln in lines:
        assert "aware" not in ln.sentence.lower()


# --------------------------------------------------------------------------- scorecard step 3


def step3(t: Tables, selection: Selection | None) -> Any:
    (line,) = scorecard(ScoreInputs(t, {}, selection))
    assert line.step == 3
    return line


def test_scorecard_reuses_the_selected_configuration(t: Tables) -> None:
    line = step3(t, Selection(20, 4.0, "text", 2))
    y = row(t["yes_bias"], layer=20, strength=4.0, control="concept")
    assert line.available and line.config == "layer 20, strength 4"
    assert "(the configuration selected above)" in line.sentence
    assert close(line.estimate, y["bias_corrected_detection"])
    assert line.n == y["bias_corrected_detection_n"] > 0
    assert line.ci_low <= line.estimate <= line.ci_high
    assert "Across 3 configurations the two shifts correlate" in line.sentence


@pytest.mark.parametrize("selection", [Selection(5, 2.0, "text", 4), None])
def test_scorecard_falls_back_to_the_largest_detection_shift(
    t: Tables, selection: Selection | None
) -> None:
    line = step3(t, selection)
    assert line.available and line.config == "layer 10, strength 4"
    assert "not in the yes-bias grid" in line.sentence
    assert "largest detection shift of 2" in line.sentence


def test_scorecard_without_yes_bias_trials_says_not_run(tmp_path: Path) -> None:
    empty = tables(RunFrame(None), {"detection": {"detection": pd.DataFrame()}})
    line = step3(empty, Selection(10, 4.0, "text", 2))
    assert not line.available and line.n == 0 and math.isnan(line.estimate)
    assert line.sentence.startswith("Not run: the run has no yes-bias trials")
    only_random = {
        **empty,
        "yes_bias": pd.DataFrame(
            [{"control": "random", "layer": 10, "strength": 4.0, "detection_shift": 0.1}]
        ),
    }
    line = step3(only_random, None)
    assert not line.available and "no concept-injection configuration" in line.sentence


def test_scorecard_in_the_run_reuses_detection_selection(run_dir: Path) -> None:
    """Through the registry: step 2 (detection) selects layer 10 (net claim 0.7 vs 0.1), and
    step 3 reports the yes-bias comparison at the same configuration."""
    res = load_results(run_dir)
    assert not res.failures, res.failures
    lines = scorecard_lines(res)
    by_step = {ln.step: ln for ln in lines}
    assert by_step[2].config == by_step[3].config == "layer 10, strength 4"
    assert by_step[3].available and "(the configuration selected above)" in by_step[3].sentence


# --------------------------------------------------------------------------- figure, sections


def test_figure_is_a_png(t: Tables, tmp_path: Path) -> None:
    figs = figures(t, tmp_path)
    assert set(figs) == {"yes_bias"}
    data = figs["yes_bias"].read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 2000


def test_empty_run(tmp_path: Path) -> None:
    empty = tables(RunFrame(None), {"detection": {"detection": pd.DataFrame()}})
    assert set(empty) == {"yes_bias", "yes_bias_generation", "rules_validation"}
    assert all(v.empty for v in empty.values())
    assert headlines(empty, {}) == []
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
    assert "answered_yes" in out[2].body
    logits = out[0]
    assert "correlate at r = " in logits.intro
    assert "(no CI with fewer than 4 configurations; n=3 configurations)" in logits.intro
    assert 'src="data:image/png;base64,' in logits.body and "pearson" not in logits.body
    assert "bias_corrected_claims" in out[1].body


def test_report_has_the_sections(run_dir: Path) -> None:
    text = write_report(run_dir).read_text(encoding="utf-8")
    assert 'id="yes-bias"' in text and 'id="yes-bias-generation"' in text
    assert (run_dir / "plots" / "yes_bias.png").exists()


def test_declaration() -> None:
    assert EXPERIMENT.kind == "yes_bias" and EXPERIMENT.needs == ("detection",)
    assert set(EXPERIMENT.steps) == {3}
    assert set(EXPERIMENT.measures) == {"logits", "generation"}
