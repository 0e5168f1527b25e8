"""The yes-bias control on generated answers: the shift in answers that open with "yes",
against each question's own no-injection answers, next to the detection-claim shift.

Every asked question is answered ``baseline_answers`` times without injection and once per
concept under each configuration (fully crossed), so the pooled no-injection answers of the
questions a configuration asked are that configuration's per-question baseline (protocol 1
pooled every question of the bank while a configuration asked only a few). Answers that open
with neither yes nor no are missing, never "no".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from introscope.experiments.yes_bias.logodds import KEPT, WRONG, current_protocol
from introscope.experiments.yes_bias.params import WRONG_BELOW
from introscope.experiments.yes_bias.questions import by_id
from introscope.stats import mover_difference, rate
from introscope.tables import (
    Record,
    RunFrame,
    by_config,
    cond,
    frame,
    grade_value,
    put_rate,
    put_rate_diff,
    to_float,
)

NO_ANSWER = "dropped: no yes/no answer without injection"


def answered_yes(r: Record) -> bool | None:
    return grade_value(r["grades"], "answered_yes")


@dataclass(frozen=True)
class GenerationTables:
    configs: pd.DataFrame  # ``yes_bias_generation``
    questions: list[dict[str, Any]]  # rows of ``yes_bias_questions`` (measure "generation")
    summary: dict[str, Any] | None  # the row of ``yes_bias_summary`` (measure "generation")


def question_rows(yb: list[Record]) -> list[dict[str, Any]]:
    """Each asked question's no-injection answers: the rate of "yes", P(correct), status."""
    bank = by_id()
    per_q: dict[str, list[bool]] = {}
    for r in yb:
        if cond(r, "control") == "none":
            v = answered_yes(r)
            answers = per_q.setdefault(str(cond(r, "question_id")), [])
            if v is not None:
                answers.append(v)
    rows = []
    for qid in [q for q in bank if q in per_q] + sorted(set(per_q) - set(bank)):
        q = bank.get(qid)
        answers = per_q[qid]
        yes_rate = rate(sum(answers), len(answers))
        answer = q.answer if q else None
        p_correct = yes_rate.estimate if answer == "yes" else 1.0 - yes_rate.estimate
        status = NO_ANSWER if not answers else (WRONG if p_correct < WRONG_BELOW else KEPT)
        rows.append(
            {
                "measure": "generation",
                "question_id": qid,
                "answer": answer,
                "topic": q.topic if q else None,
                "question": q.text if q else "",
                "p_yes": yes_rate.estimate,
                "p_correct": p_correct,
                "n_answers": len(answers),
                "status": status,
            }
        )
    return rows


def put_shifts(
    out: dict[str, Any], trials: list[Record], yb: list[Record], questions: list[dict[str, Any]]
) -> None:
    """``out`` with ``n_dropped_question``, ``answered_yes`` and the three shifts of the
    injected ``trials`` against their questions' no-injection answers (from ``yb``)."""
    status = {q["question_id"]: q["status"] for q in questions}
    answer_of = {q["question_id"]: q["answer"] for q in questions}
    base: dict[str, list[bool | None]] = {}
    for r in yb:
        if cond(r, "control") == "none":
            base.setdefault(str(cond(r, "question_id")), []).append(answered_yes(r))
    kept = [t for t in trials if status.get(str(cond(t, "question_id"))) == KEPT]
    out["n_dropped_question"] = len(trials) - len(kept)
    put_rate(out, "answered_yes", (answered_yes(t) for t in kept))
    for name, answer in (
        ("yes_bias_shift", None),
        ("yes_answer_shift", "yes"),
        ("no_answer_shift", "no"),
    ):
        these = [t for t in kept if answer in (None, answer_of.get(cond(t, "question_id")))]
        asked = sorted({str(cond(t, "question_id")) for t in these})
        put_rate_diff(
            out,
            name,
            (answered_yes(t) for t in these),
            (v for q in asked for v in base.get(q, [])),
        )


def put_corrected(out: dict[str, Any]) -> None:
    """``bias_corrected_claims`` = net_affirmative - yes_bias_shift, MOVER interval (Zou &
    Donner 2008) from the two intervals in ``out``."""
    est, low, high = mover_difference(
        out["net_affirmative"],
        out["net_affirmative_ci_low"],
        out["net_affirmative_ci_high"],
        out["yes_bias_shift"],
        out["yes_bias_shift_ci_low"],
        out["yes_bias_shift_ci_high"],
    )
    out["bias_corrected_claims"] = est
    out["bias_corrected_claims_ci_low"] = low
    out["bias_corrected_claims_ci_high"] = high


def current_generation(run: RunFrame) -> tuple[list[Record], int]:
    """The generated yes-bias trials of this protocol, and how many of an earlier one."""
    return current_protocol(run.records("yes_bias", "generation"))


def generation_tables(run: RunFrame, detection: pd.DataFrame) -> GenerationTables:
    """Per layer x strength x control: ``answered_yes`` (kept questions, under injection),
    ``yes_bias_shift`` = that rate minus the same questions' no-injection rate (Newcombe),
    split into ``yes_answer_shift`` and ``no_answer_shift`` by the questions' true answer; the
    detection slice's ``net_affirmative`` at the same configuration (from ``detection``) and
    ``bias_corrected_claims`` = net_affirmative - yes_bias_shift with a MOVER interval (Zou
    & Donner 2008) from the two Newcombe intervals. ``n_dropped_question`` counts trials of
    questions dropped at baseline (confidently wrong, or never answered yes or no)."""
    yb, earlier = current_generation(run)
    if not yb and not earlier:
        return GenerationTables(pd.DataFrame(), [], None)
    questions = question_rows(yb)
    det = {(r["layer"], r["strength"], r["control"]): r for r in detection.to_dict("records")}
    rows = []
    for out, trials in by_config(r for r in yb if cond(r, "control") != "none"):
        put_shifts(out, trials, yb, questions)
        d = det.get((out["layer"], out["strength"], out["control"]))
        if d is not None and not math.isnan(to_float(d.get("net_affirmative"))):
            for suffix in ("", "_ci_low", "_ci_high", "_n"):
                out[f"net_affirmative{suffix}"] = d[f"net_affirmative{suffix}"]
            put_corrected(out)
            out["bias_corrected_claims_n"] = out["answered_yes_n"]
        rows.append(out)
    statuses = [q["status"] for q in questions]
    summary = {
        "measure": "generation",
        "n_trials": len(yb),
        "n_earlier_protocol": earlier,
        "wrong_below": WRONG_BELOW,
        "n_questions": len(questions),
        "n_kept": statuses.count(KEPT),
        "n_dropped_wrong": statuses.count(WRONG),
        "n_dropped_unanswered": statuses.count(NO_ANSWER),
    }
    return GenerationTables(frame(rows), questions, summary)
