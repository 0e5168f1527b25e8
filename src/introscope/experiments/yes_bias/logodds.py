"""The yes-bias control on the logit readout, in log-odds, paired per concept.

Every shift is in log-odds of "yes" (the logit of P(yes) renormalised over yes/no): an
injection that adds the same push toward "yes" to every question moves every question's
log-odds by the same amount whatever its baseline, where the probability shift would depend
on the baseline (+2 log-odds is +0.46 from P(yes) = 0.30 but +0.06 from 0.01).

For each configuration (layer, strength, control) and concept ``c``:

* ``detection_shift``: c's log-odds on the detection question minus the no-injection
  detection trial's (a deterministic readout: a constant);
* ``control_yes_shift`` / ``control_no_shift``: the mean over the kept questions whose true
  answer is "yes" / "no" of c's log-odds minus that question's no-injection log-odds;
* ``control_shift``: the mean of those two (each answer kind weighs the same, whatever was
  dropped), the push toward "yes" the injection gives any yes/no question in this frame;
* ``drift_shift`` = (no-answer shift - yes-answer shift) / 2: positive when answers drift
  toward 0.5 (a pure push raises both kinds alike and leaves it at 0);
* ``bias_corrected`` = detection_shift - control_shift.

The configuration table averages these over concepts with t intervals (the concept is the
unit; n counts concepts). Trials whose yes+no mass is below
:data:`~introscope.experiments.yes_bias.params.MIN_YES_NO_MASS` are left out and counted
(``n_low_mass``); questions the model gets confidently wrong without injection are dropped
and counted (``n_dropped_question``, and the question table says which).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from introscope.experiments.yes_bias.params import MIN_YES_NO_MASS, PROTOCOL, WRONG_BELOW
from introscope.experiments.yes_bias.questions import by_id
from introscope.stats import pearson_with_ci, shift_from_constant
from introscope.tables import (
    NAN,
    Key,
    Record,
    RunFrame,
    cond,
    config_key,
    config_order,
    frame,
    number,
    put_diff,
    put_mean,
)

#: P(yes) is clipped to [EPS, 1 - EPS] before its logit when a trial stores no log-odds.
EPS = 1e-6

KEPT = "kept"
WRONG = "dropped: confidently wrong"
LOW_MASS = "dropped: yes/no mass below threshold"
REFERENCE = "detection question"
DETECTION = "detection"  # the detection question's id in the question table


def log_odds(r: Record) -> float | None:
    """A trial's log-odds of "yes" over "no": the stored exact value, else the logit of its
    (clipped) P(yes); None when the trial has neither."""
    lo = number(r["logits"].get("yes_log_odds"))
    if lo is not None:
        return lo
    p = number(r["logits"].get("p_yes"))
    if p is None:
        return None
    p = min(max(p, EPS), 1.0 - EPS)
    return math.log(p / (1.0 - p))


def low_mass(r: Record) -> bool:
    """The trial's yes+no mass is below the threshold (a trial that stores no mass, written
    before the mass was recorded, is not excluded)."""
    m = mass(r)
    return m is not None and m < MIN_YES_NO_MASS


def current_protocol(records: Iterable[Record]) -> tuple[list[Record], int]:
    """The yes-bias trials of this protocol, and how many of an earlier one were left out
    (their questions were asked outside the detection frame: not comparable)."""
    now, earlier = [], 0
    for r in records:
        if cond(r, "protocol") == PROTOCOL:
            now.append(r)
        else:
            earlier += 1
    return now, earlier


def mean(values: Iterable[float | None]) -> float:
    """The mean of the values that are numbers; NaN without any."""
    v = [x for x in values if x is not None]
    return float(np.mean(v)) if v else NAN


def p_yes(r: Record) -> float | None:
    return number(r["logits"].get("p_yes"))


def mass(r: Record) -> float | None:
    return number(r["logits"].get("yes_no_mass"))


# --------------------------------------------------------------------------- baselines


@dataclass(frozen=True)
class Baseline:
    """A question's no-injection readout and whether the analysis keeps it."""

    question_id: str
    answer: str | None  # None for the detection question
    topic: str | None
    question: str
    p_yes: float
    log_odds: float
    yes_no_mass: float
    p_correct: float
    status: str


def question_status(answer: str, p_yes: float, mass: float | None) -> tuple[float, str]:
    """(P(correct answer), status) of a question from its no-injection readout."""
    p_correct = p_yes if answer == "yes" else 1.0 - p_yes
    if mass is not None and mass < MIN_YES_NO_MASS:
        return p_correct, LOW_MASS
    return p_correct, (WRONG if p_correct < WRONG_BELOW else KEPT)


def question_baselines(yb: list[Record]) -> dict[str, Baseline]:
    """Every question asked without injection (current protocol), by id."""
    bank = by_id()
    per_q: dict[str, list[Record]] = {}
    for r in yb:
        if cond(r, "control") == "none" and log_odds(r) is not None:
            per_q.setdefault(str(cond(r, "question_id")), []).append(r)
    out = {}
    in_bank_order = [qid for qid in bank if qid in per_q] + sorted(set(per_q) - set(bank))
    for qid in in_bank_order:
        rs = per_q[qid]
        q = bank.get(qid)
        answer = q.answer if q else str(cond(rs[0], "answer"))
        m = mean(mass(r) for r in rs)
        p = mean(p_yes(r) for r in rs)
        p_correct, status = question_status(answer, p, None if math.isnan(m) else m)
        out[qid] = Baseline(
            qid,
            answer,
            q.topic if q else cond(rs[0], "topic"),
            q.text if q else "",
            p,
            mean(log_odds(r) for r in rs),
            m,
            p_correct,
            status,
        )
    return out


def detection_baseline(det: list[Record]) -> tuple[Baseline | None, list[float]]:
    """The no-injection detection readout (a row for the question table) and the log-odds of
    its trials that pass the mass threshold (the constant every detection shift is taken
    from; empty when none passes)."""
    ctrl = [r for r in det if cond(r, "control") == "none" and log_odds(r) is not None]
    if not ctrl:
        return None, []
    m = mean(mass(r) for r in ctrl)
    row = Baseline(
        DETECTION,
        None,
        None,
        "the detection question",
        mean(p_yes(r) for r in ctrl),
        mean(log_odds(r) for r in ctrl),
        m,
        NAN,
        LOW_MASS if m < MIN_YES_NO_MASS else REFERENCE,
    )
    return row, [lo for r in ctrl if not low_mass(r) and (lo := log_odds(r)) is not None]


def question_table(det: list[Record], yb: list[Record]) -> list[dict[str, Any]]:
    """Rows of the question table: the detection question, then every asked question."""
    ref, _ = detection_baseline(det)
    rows = [asdict(b) for b in question_baselines(yb).values()]
    return ([asdict(ref)] if ref is not None else []) + rows


# --------------------------------------------------------------------------- per concept


@dataclass
class Cell:
    """One configuration's trials, gathered per concept."""

    detection: dict[str, list[float]]  # concept -> log-odds of its detection trials
    questions: dict[str, dict[str, list[float]]]  # concept -> question -> shifts
    n_trials: int = 0
    n_low_mass: int = 0
    n_dropped_question: int = 0


def gather(
    det: list[Record], yb: list[Record], baselines: Mapping[str, Baseline]
) -> dict[Key, Cell]:
    """Every injected trial of both experiments, by configuration and concept: mass-passing
    detection log-odds, and mass-passing control-question shifts of kept questions."""
    cells: dict[Key, Cell] = {}
    for r in det:
        if cond(r, "control") == "none" or (lo := log_odds(r)) is None:
            continue
        cell = cells.setdefault(config_key(r), Cell({}, {}))
        cell.n_trials += 1
        if low_mass(r):
            cell.n_low_mass += 1
            continue
        cell.detection.setdefault(str(cond(r, "concept")), []).append(lo)
    for r in yb:
        if cond(r, "control") == "none" or (lo := log_odds(r)) is None:
            continue
        cell = cells.setdefault(config_key(r), Cell({}, {}))
        cell.n_trials += 1
        base = baselines.get(str(cond(r, "question_id")))
        if base is None or base.status != KEPT:
            cell.n_dropped_question += 1
            continue
        if low_mass(r):
            cell.n_low_mass += 1
            continue
        per_q = cell.questions.setdefault(str(cond(r, "concept")), {})
        per_q.setdefault(base.question_id, []).append(lo - base.log_odds)
    return cells


def concept_row(
    concept: str,
    detection: list[float] | None,
    shifts: Mapping[str, list[float]],
    baselines: Mapping[str, Baseline],
    det_base: list[float],
) -> dict[str, Any]:
    """One concept's shifts at one configuration (NaN where a side is missing)."""
    kinds: dict[str, list[float]] = {"yes": [], "no": []}
    for qid, vals in shifts.items():
        answer = baselines[qid].answer
        if answer in kinds:
            kinds[answer].append(mean(vals))
    yes, no = mean(kinds["yes"]), mean(kinds["no"])
    control = mean(v for v in (yes, no) if not math.isnan(v))
    det_lo = mean(detection) if detection else NAN
    det = det_lo - mean(det_base) if det_base else NAN
    return {
        "concept": concept,
        "detection_log_odds": det_lo,
        "detection_shift": det,
        "control_shift": control,
        "control_yes_shift": yes,
        "control_no_shift": no,
        "drift_shift": (no - yes) / 2.0,
        "bias_corrected": det - control,
        "n_questions": len(kinds["yes"]) + len(kinds["no"]),
    }


def concept_rows(
    cell: Cell, baselines: Mapping[str, Baseline], det_base: list[float]
) -> list[dict[str, Any]]:
    """One configuration's rows, one per concept of either experiment."""
    return [
        concept_row(
            concept,
            cell.detection.get(concept),
            cell.questions.get(concept, {}),
            baselines,
            det_base,
        )
        for concept in sorted(set(cell.detection) | set(cell.questions))
    ]


# --------------------------------------------------------------------------- per configuration


def bias_pattern(out: Mapping[str, Any]) -> str:
    """How the control questions move, from the yes- and no-answer intervals: a push moves
    both kinds the same way; a drift toward 0.5 raises "no"-answer questions' log-odds and
    lowers "yes"-answer ones'."""
    y_lo, y_hi = out["control_yes_shift_ci_low"], out["control_yes_shift_ci_high"]
    n_lo, n_hi = out["control_no_shift_ci_low"], out["control_no_shift_ci_high"]
    if any(math.isnan(x) for x in (y_lo, y_hi, n_lo, n_hi)):
        return "undetermined"
    yes = 1 if y_lo > 0 else (-1 if y_hi < 0 else 0)
    no = 1 if n_lo > 0 else (-1 if n_hi < 0 else 0)
    return {
        (1, 1): "push toward yes",
        (-1, -1): "push toward no",
        (-1, 1): "drift toward 0.5",
        (1, -1): "drift away from 0.5",
        (0, 0): "no shift detected",
        (0, 1): "'no'-answer questions rise, 'yes'-answer ones undetermined",
        (0, -1): "'no'-answer questions fall, 'yes'-answer ones undetermined",
        (1, 0): "'yes'-answer questions rise, 'no'-answer ones undetermined",
        (-1, 0): "'yes'-answer questions fall, 'no'-answer ones undetermined",
    }[(yes, no)]


def config_row(
    key: Key, concepts: list[dict[str, Any]], cell: Cell, det_base: list[float]
) -> dict[str, Any]:
    """Means over the concepts paired at this configuration (a detection shift and a control
    shift both defined), t intervals over those concepts; so bias_corrected_detection is
    detection_shift - control_shift on the same concepts."""
    layer, strength, control = key
    paired = [c for c in concepts if not math.isnan(c["bias_corrected"])]
    out: dict[str, Any] = {"layer": layer, "strength": strength, "control": control}
    out["n_concepts"] = len(paired)
    detection = [c["detection_log_odds"] for c in paired]
    put_diff(out, "detection_shift", shift_from_constant(detection, det_base))
    for name in ("control_shift", "control_yes_shift", "control_no_shift", "drift_shift"):
        put_mean(out, name, (c[name] for c in paired if not math.isnan(c[name])))
    out["bias_pattern"] = bias_pattern(out)
    put_mean(out, "bias_corrected_detection", (c["bias_corrected"] for c in paired))
    out["n_trials"] = cell.n_trials
    out["n_low_mass"] = cell.n_low_mass
    out["n_dropped_question"] = cell.n_dropped_question
    return out


def with_correlation(table: pd.DataFrame) -> pd.DataFrame:
    """``pearson_r`` (with its Fisher-z interval and n, the same on every row): the
    across-configuration correlation of detection and control shifts."""
    ok = table["detection_shift"].notna() & table["control_shift"].notna()
    r, lo, hi = pearson_with_ci(
        table.loc[ok, "control_shift"].tolist(), table.loc[ok, "detection_shift"].tolist()
    )
    table["pearson_r"], table["pearson_ci_low"], table["pearson_ci_high"] = r, lo, hi
    table["pearson_n"] = int(ok.sum())
    return table


# --------------------------------------------------------------------------- the tables


@dataclass(frozen=True)
class LogitTables:
    configs: pd.DataFrame  # ``yes_bias``
    concepts: pd.DataFrame  # ``yes_bias_concepts``
    questions: list[dict[str, Any]]  # rows of ``yes_bias_questions`` (measure "logits")
    summary: dict[str, Any] | None  # the row of ``yes_bias_summary`` (measure "logits")


def injected_configs(records: list[Record]) -> set[Key]:
    return {config_key(r) for r in records if cond(r, "control") != "none"}


def logit_inputs(run: RunFrame) -> tuple[list[Record], list[Record], int]:
    """(detection trials, yes-bias trials of this protocol, how many of an earlier one)."""
    # The paper's detection trials only: other grid.variants (wordings, windows) name
    # themselves in the condition and have their own baselines.
    det = [r for r in run.records("detection", "logits") if cond(r, "variant") is None]
    yb, earlier = current_protocol(run.records("yes_bias", "logits"))
    return det, yb, earlier


def row_on_concepts(run: RunFrame, key: Key, concepts: Collection[str]) -> dict[str, Any] | None:
    """The ``yes_bias`` row of configuration ``key`` computed from the injected trials of
    ``concepts`` only (every no-injection trial still gives the baselines; the trial counts
    are those concepts' trials); None when the configuration has no such trial."""
    det, yb, _ = logit_inputs(run)
    keep = {str(c) for c in concepts}

    def kept(r: Record) -> bool:
        return cond(r, "control") == "none" or str(cond(r, "concept")) in keep

    baselines = question_baselines(yb)
    _, det_base = detection_baseline(det)
    both = injected_configs(det) & injected_configs(yb)
    cell = gather([r for r in det if kept(r)], [r for r in yb if kept(r)], baselines).get(key)
    if cell is None or key not in both:
        return None
    return config_row(key, concept_rows(cell, baselines, det_base), cell, det_base)


def logit_tables(run: RunFrame) -> LogitTables:
    """The logit readout's tables; a configuration needs trials of both experiments."""
    det, yb, earlier = logit_inputs(run)
    if not yb and not earlier:
        return LogitTables(pd.DataFrame(), pd.DataFrame(), [], None)
    baselines = question_baselines(yb)
    ref, det_base = detection_baseline(det)
    both = injected_configs(det) & injected_configs(yb)
    cells = {k: c for k, c in gather(det, yb, baselines).items() if k in both}
    concept_out, config_out = [], []
    for key in sorted(cells, key=config_order):
        rows = concept_rows(cells[key], baselines, det_base)
        layer, strength, control = key
        concept_out += [
            {"layer": layer, "strength": strength, "control": control, **r} for r in rows
        ]
        config_out.append(config_row(key, rows, cells[key], det_base))
    statuses = [b.status for b in baselines.values()]
    summary = {
        "measure": "logits",
        "n_trials": len(yb),
        "n_earlier_protocol": earlier,
        "min_yes_no_mass": MIN_YES_NO_MASS,
        "wrong_below": WRONG_BELOW,
        "n_questions": len(baselines),
        "n_kept": statuses.count(KEPT),
        "n_dropped_wrong": statuses.count(WRONG),
        "n_dropped_mass": statuses.count(LOW_MASS),
        "n_injected": sum(c.n_trials for c in cells.values()),
        "n_low_mass": sum(c.n_low_mass for c in cells.values()),
        "detection_p_yes": NAN if ref is None else ref.p_yes,
        "detection_mass": NAN if ref is None else ref.yes_no_mass,
        "detection_status": None if ref is None else ref.status,
        "median_question_mass": (
            float(np.median([b.yes_no_mass for b in baselines.values()])) if baselines else NAN
        ),
    }
    configs = with_correlation(frame(config_out)) if config_out else pd.DataFrame()
    return LogitTables(configs, frame(concept_out), question_table(det, yb), summary)
