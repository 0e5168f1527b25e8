"""Scorecard step 3: detection minus what the same injection does to any yes/no question
asked in the same frame, at the configuration selected in step 2, estimated on the concepts
it was not chosen on (every concept when the spec declares it; :mod:`.held_out`). The
selection reaches this step through the detection slice's ``selection`` table, as the
scorecard's :class:`~introscope.experiments.base.Selection` does.

Two lines when the run has both readouts: the logit readout in log-odds, paired per concept
(t interval over concepts), and the generated answers (``bias_corrected_claims``: the net
detection claim rate minus the shift toward answering "yes", MOVER interval). When the
yes-bias grid lacks the selected configuration, the logit line's configuration is chosen on
the same chosen-on concepts and estimated on the others; the generation line, which has no
held-out detection estimate there, reads the largest net claim and says it was chosen after
the fact. An undefined interval reads "undetermined", never a verdict.
"""

from __future__ import annotations

import math

import pandas as pd

from introscope.experiments.base import ScoreInputs
from introscope.experiments.yes_bias.analysis import shifts_text
from introscope.experiments.yes_bias.held_out import held_row
from introscope.experiments.yes_bias.logodds import LOW_MASS
from introscope.headlines import (
    Headline,
    cfg_text,
    ci_or_none,
    headline_from_row,
    not_run,
    verdict,
)
from introscope.tables import Tables, best_row, to_float

TITLE = "bias-corrected detection (minus the control questions' shift)"
LOGIT_NAME = "bias-corrected detection, log-odds (detection minus control questions)"
TEXT_NAME = "bias-corrected detection claims (minus the shift toward answering 'yes')"


def scorecard(inputs: ScoreInputs) -> list[Headline]:
    # The selected configuration reaches this step through the detection slice's selection
    # table (:mod:`.held_out`), the same row ``inputs.selection`` is made from.
    t = inputs.tables
    lines = [ln for ln in (logit_line(t), text_line(t)) if ln is not None]
    return lines or [not_run(3, "bias-corrected detection", why_not_run(t))]


def why_not_run(t: Tables) -> str:
    summary = t["yes_bias_summary"]
    if len(summary) and int(summary["n_earlier_protocol"].sum()) > 0:
        return (
            "this run's yes-bias trials come from an earlier protocol (questions asked "
            "outside the detection frame, 'no'-answer questions only) that this version does "
            "not compare with detection; rerun the yes_bias parts."
        )
    if len(summary):
        return "the run has yes-bias trials but no detection trials of the same readout to pair."
    return "the run has no yes-bias trials."


def pick_generation(gen: pd.DataFrame) -> tuple[pd.Series | None, str]:
    """The largest net detection claim of the concept rows, said to be chosen after the fact
    (when the detection slice's held-out estimate is not at a configuration of this grid)."""
    row, k = best_row(gen, "net_affirmative", gen["control"] == "concept")
    return row, (
        " (no held-out detection estimate at the configuration selected above is in this "
        f"grid; this one is selected after the fact as the largest net affirmative of {k} on every "
        "concept, so biased upward)"
    )


def summary_of(t: Tables, measure: str) -> pd.Series | None:
    s = t["yes_bias_summary"]
    rows = s[s["measure"] == measure] if len(s) else s
    return rows.iloc[0] if len(rows) else None


def left_out(row: pd.Series, summary: pd.Series | None) -> str:
    """What the log-odds analysis left out, at this configuration and in the bank."""
    text = (
        f" Left out: {int(row['n_low_mass'])} of {int(row['n_trials'])} injected trials at this "
        "configuration whose yes/no mass is below "
    )
    if summary is None:
        return text + "the threshold."
    text += f"{to_float(summary['min_yes_no_mass']):g}"
    if summary["detection_status"] == LOW_MASS:
        text += (
            f", and the no-injection detection trial itself (mass "
            f"{to_float(summary['detection_mass']):.3f}), so no detection shift is defined"
        )
    return text + (
        f"; {int(summary['n_dropped_wrong'])} of {int(summary['n_questions'])} questions the "
        "model answers confidently wrong without injection (P(correct) < "
        f"{to_float(summary['wrong_below']):g}) and {int(summary['n_dropped_mass'])} whose "
        "no-injection yes/no mass is below the threshold."
    )


def logit_line(t: Tables) -> Headline | None:
    yb = t["yes_bias"]
    if len(yb) == 0:
        return None
    row = held_row(t, "logits")
    if row is None:
        return not_run(3, LOGIT_NAME, "the yes-bias grid has no concept-injection configuration.")
    note = str(row["note"])
    cfg = cfg_text(row["layer"], row["strength"])
    reading = verdict(
        row["bias_corrected_detection_ci_low"],
        row["bias_corrected_detection_ci_high"],
        "the detection question moves more than the same injection moves yes/no questions "
        "in general",
        "not distinguishable from the injection's push on any yes/no question in this frame",
        "the detection question moves less than the control questions",
    )
    r = to_float(yb.iloc[0]["pearson_r"])  # over every configuration and concept
    r_text = (
        ""
        if math.isnan(r)
        else f" Across {int(to_float(yb.iloc[0]['pearson_n']))} configurations the two shifts "
        f"correlate at r = {r:+.2f} (all concepts)."
    )
    bc = ci_or_none(
        row["bias_corrected_detection"],
        row["bias_corrected_detection_ci_low"],
        row["bias_corrected_detection_ci_high"],
    )
    return headline_from_row(
        LOGIT_NAME,
        row,
        "bias_corrected_detection",
        f"At {cfg}{note}, concept injection moves {shifts_text(row)}; per concept, the "
        f"detection shift minus the control shift is {bc} over "
        f"{int(row['bias_corrected_detection_n'])} concepts: {reading}."
        + left_out(row, summary_of(t, "logits"))
        + r_text,
        unit="concepts",
        kind="logodds",
        config=cfg,
        step=3,
    )


def text_line(t: Tables) -> Headline | None:
    row = held_row(t, "generation")
    held = row is not None
    if row is not None:
        note = str(row["note"])
    else:
        gen = t["yes_bias_generation"]
        if len(gen) == 0 or "bias_corrected_claims" not in gen.columns:
            return None
        row, note = pick_generation(gen[gen["bias_corrected_claims"].notna()])
    if row is None:
        return None
    cfg = cfg_text(row["layer"], row["strength"])

    def ci(col: str) -> str:
        return ci_or_none(row[col], row[f"{col}_ci_low"], row[f"{col}_ci_high"])

    unit = "concepts" if held else "trials"
    reading = verdict(
        row["bias_corrected_claims_ci_low"],
        row["bias_corrected_claims_ci_high"],
        "detection claims rise more than answers to any yes/no question move toward 'yes'",
        "not distinguishable from a general shift toward answering 'yes'",
        "detection claims rise less than 'yes' answers to the control questions",
        unit=unit,
    )
    summary = summary_of(t, "generation")
    dropped = (
        ""
        if summary is None
        else f" {int(summary['n_dropped_wrong'])} of {int(summary['n_questions'])} questions "
        "were dropped as answered confidently wrong without injection, "
        f"{int(summary['n_dropped_unanswered'])} as never answered yes or no."
    )
    return headline_from_row(
        TEXT_NAME,
        row,
        "bias_corrected_claims",
        f"At {cfg}{note}, the detection claim rate rises over no injection by "
        f"{ci('net_affirmative')} and answers opening with 'yes' to control questions in the "
        f"same frame, against each question's no-injection answers, by {ci('yes_bias_shift')} "
        f"('yes'-answer questions {ci('yes_answer_shift')}, 'no'-answer questions "
        f"{ci('no_answer_shift')}); the difference is {ci('bias_corrected_claims')} ("
        + (
            f"MOVER interval from the detection slice's held-out estimate over "
            f"{int(to_float(row['net_affirmative_n']))} concepts and the control answers' "
            f"{int(to_float(row['answered_yes_n']))} trials of the same concepts"
            if held
            else "MOVER interval over trials"
        )
        + f"): {reading}."
        + dropped,
        unit=unit,
        kind="rate_difference",
        config=cfg,
        step=3,
    )
