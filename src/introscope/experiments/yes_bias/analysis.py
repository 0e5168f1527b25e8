"""Yes-bias tables and headline rows (scorecard step 3 is in :mod:`.scorecard`).

The control asks whether an injection's effect on the detection question is a push toward
"yes" on any yes/no question asked in the same frame. Logits (:mod:`.logodds`): per concept,
the detection question's log-odds shift minus the control questions' mean log-odds shift,
with "yes"- and "no"-answer questions apart, t intervals over concepts. Generation
(:mod:`.generation`): the shift in answers that open with "yes" next to the detection
slice's ``net_affirmative``, and their difference (``bias_corrected_claims``, MOVER).

Tables: ``yes_bias`` (per configuration), ``yes_bias_concepts`` (per configuration x
concept), ``yes_bias_questions`` (every question's no-injection baseline and whether it was
kept), ``yes_bias_generation`` (per configuration), ``yes_bias_held_out`` (per readout: the
row at the configuration the detection slice chose, on the concepts it was not chosen on,
:mod:`.held_out`) and ``yes_bias_summary`` (one row per measure: thresholds and what was
left out).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from introscope.experiments.grader_trust import rules_validation_table
from introscope.experiments.yes_bias.generation import generation_tables
from introscope.experiments.yes_bias.held_out import held_out_table, held_row
from introscope.experiments.yes_bias.logodds import logit_tables
from introscope.headlines import Headline, cfg_text, ci_text, headline_from_row, post_hoc
from introscope.tables import RunFrame, Tables, best_row, frame, to_float


def tables(run: RunFrame, upstream: Mapping[str, Tables]) -> Tables:
    logit = logit_tables(run)
    text = generation_tables(run, upstream["detection"]["detection"])
    return {
        "yes_bias": logit.configs,
        "yes_bias_concepts": logit.concepts,
        "yes_bias_questions": frame(
            [{"measure": "logits", **q} for q in logit.questions] + text.questions
        ),
        "yes_bias_generation": text.configs,
        "yes_bias_held_out": held_out_table(run, logit.concepts, upstream["detection"]),
        "yes_bias_summary": frame([s for s in (logit.summary, text.summary) if s]),
        "rules_validation": rules_validation_table(run, "yes_bias"),
    }


# --------------------------------------------------------------------------- headlines


def shifts_text(row: pd.Series) -> str:
    """The detection and control shifts of a ``yes_bias`` row, for a sentence."""

    def ci(col: str) -> str:
        return ci_text(row[col], row[f"{col}_ci_low"], row[f"{col}_ci_high"])

    return (
        f"the log-odds of 'yes' to the detection question by {ci('detection_shift')} and to "
        f"control questions in the same frame by {ci('control_shift')} ('yes'-answer "
        f"questions {ci('control_yes_shift')}, 'no'-answer questions {ci('control_no_shift')}: "
        f"{row['bias_pattern']})"
    )


def headlines(t: Tables, _upstream: Mapping[str, Tables]) -> list[Headline]:
    """The bias-corrected detection log-odds shift at the configuration the detection slice
    chose (on the concepts it was not chosen on, :mod:`.held_out`), the across-configuration
    correlation of the two shifts, and the bias-corrected detection claims of generated
    answers (held out likewise where the detection slice chose on its text trials, else the
    largest net claim, said to be chosen after the fact)."""
    yb, gen = t["yes_bias"], t["yes_bias_generation"]
    lines: list[Headline] = []
    row = held_row(t, "logits")
    if row is not None:
        lines.append(
            headline_from_row(
                "bias-corrected detection (log-odds)",
                row,
                "bias_corrected_detection",
                f"At {cfg_text(row['layer'], row['strength'])}{row['note']}, concept "
                f"injection moves {shifts_text(row)}; per concept, detection minus control is "
                f"{ci_text(row['bias_corrected_detection'], row['bias_corrected_detection_ci_low'], row['bias_corrected_detection_ci_high'])} "
                f"(n={int(row['bias_corrected_detection_n'])} concepts).",
                unit="concepts",
                kind="logodds",
            )
        )
    if len(yb):
        lines += correlation_line(yb)
    row, note, unit = held_row(t, "generation"), "", "concepts"
    if row is not None:
        note = str(row["note"])
    elif len(gen) and "bias_corrected_claims" in gen.columns:
        row, k = best_row(gen, "net_affirmative", gen["control"] == "concept")
        note, unit = post_hoc(k), "trials"
    if row is not None and (
        unit == "concepts" or not math.isnan(to_float(row["bias_corrected_claims"]))
    ):
        lines.append(
            headline_from_row(
                "bias-corrected detection claims (generated answers)",
                row,
                "bias_corrected_claims",
                f"At {cfg_text(row['layer'], row['strength'])}{note}, the "
                "detection claim rate rises over no injection by "
                f"{ci_text(row['net_affirmative'], row['net_affirmative_ci_low'], row['net_affirmative_ci_high'])} "
                "and answers opening with 'yes' to the control questions by "
                f"{ci_text(row['yes_bias_shift'], row['yes_bias_shift_ci_low'], row['yes_bias_shift_ci_high'])}; "
                "the difference is "
                f"{ci_text(row['bias_corrected_claims'], row['bias_corrected_claims_ci_low'], row['bias_corrected_claims_ci_high'])} "
                "(MOVER interval).",
                unit=unit,
                kind="rate_difference",
            )
        )
    return lines


def correlation_line(yb: pd.DataFrame) -> list[Headline]:
    """The across-configuration correlation of detection and control log-odds shifts."""
    r0 = yb.iloc[0]
    r = to_float(r0["pearson_r"])
    if math.isnan(r):
        return []
    n = int(r0["pearson_n"])
    r_text = (
        f"{r:+.2f} (only {n} configurations, too few for a CI)"
        if math.isnan(to_float(r0["pearson_ci_low"]))
        else ci_text(r, r0["pearson_ci_low"], r0["pearson_ci_high"])
    )
    return [
        Headline(
            "detection vs control log-odds shift (r)",
            r,
            to_float(r0["pearson_ci_low"]),
            to_float(r0["pearson_ci_high"]),
            n,
            "Across injection configurations, the detection question's log-odds shift "
            f"correlates with the control questions' at r = {r_text}; a high r means much of "
            "the detection signal moves with a push on any yes/no question.",
            unit="configurations",
            kind="correlation",
        )
    ]
