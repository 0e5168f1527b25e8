"""Yes-bias tables, headline rows and scorecard step 3.

The control asks whether an injection's effect on the detection question is a push toward
"yes" in general. Logits: the detection P(yes) shift next to the P(yes) shift on questions
whose true answer is "no", and their difference (``bias_corrected_detection``). Generation:
the shift in answers that open with "yes" next to the detection slice's ``net_affirmative``,
and their difference (``bias_corrected_claims``).

The logits table reads the detection slice's *trials* (``run.records("detection",
"logits")``), not its ``detection_logits`` table: the Welch interval of
``bias_corrected_detection`` is over per-trial shifts, which that table (means and intervals
only) does not hold. The generation table reads the detection slice's ``detection`` table
(declared in ``needs``), whose ``net_affirmative`` it subtracts from.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from introscope.experiments.base import ScoreInputs
from introscope.experiments.grader_trust import rules_validation_table
from introscope.experiments.yes_bias.questions import QUESTION_KINDS
from introscope.headlines import (
    Headline,
    cfg_text,
    ci_or_none,
    ci_text,
    excludes_zero,
    headline_from_row,
    not_run,
    post_hoc,
)
from introscope.stats import mean_difference_ci, mover_difference, pearson_with_ci
from introscope.tables import (
    RunFrame,
    Tables,
    best_row,
    by_config,
    cond,
    config_key,
    config_order,
    grade_value,
    group,
    matched,
    number,
    put_diff,
    put_mean,
    put_rate,
    put_rate_diff,
    row_at,
    to_float,
)


def p_yes(r: Mapping[str, Any]) -> float | None:
    """A trial's P(yes) readout, None when missing or not a finite number."""
    return number(r["logits"].get("p_yes"))


def yes_bias_table(run: RunFrame) -> pd.DataFrame:
    """Detection P(yes) shift next to the yes-bias shift, per layer x strength x control.

    ``detection_shift``: per-trial P(yes) on the detection question minus the mean of the
    matched no-injection detection trials (its mean, Welch CI against the controls).
    ``yes_bias_shift``: per-trial P(yes) on a "no"-answer question minus the mean of that
    same question's no-injection trials, averaged over trials (t CI; ``yes_bias_world_shift``
    / ``yes_bias_self_shift`` split by question kind). ``bias_corrected_detection`` =
    detection_shift - yes_bias_shift with a Welch CI on the two sets of per-trial shifts.
    ``pearson_r`` (with ``pearson_ci_low/high`` and ``pearson_n``, the same on every row) is
    the across-configuration correlation of the two shifts (Fisher-z CI): r near 1 means the
    detection shift is largely explained by a general push toward "yes". Only configurations
    present in both experiments (and with detection control trials) get a row.
    """
    det = run.records("detection", "logits")
    yb = run.records("yes_bias", "logits")
    if not det or not yb:
        return pd.DataFrame()
    det_ctrl = [r for r in det if cond(r, "control") == "none"]
    # Per-question baseline from the no-injection trials.
    base: dict[Any, list[float]] = {}
    for r in yb:
        if cond(r, "control") == "none":
            v = p_yes(r)
            if v is not None:
                base.setdefault(cond(r, "question_id"), []).append(v)
    base_mean = {q: float(np.mean(v)) for q, v in base.items() if v}

    det_groups = group((r for r in det if cond(r, "control") != "none"), config_key)
    yb_groups = group((r for r in yb if cond(r, "control") != "none"), config_key)
    rows = []
    for key in sorted(set(det_groups) & set(yb_groups), key=config_order):
        layer, strength, control = key
        ctrl = [v for v in (p_yes(c) for c in matched(det_ctrl, layer, strength)) if v is not None]
        if not ctrl:
            continue
        out: dict[str, Any] = {"layer": layer, "strength": strength, "control": control}
        ctrl_mean = float(np.mean(ctrl))
        det_p = [v for v in (p_yes(t) for t in det_groups[key]) if v is not None]
        det_shifts = [v - ctrl_mean for v in det_p]
        put_diff(out, "detection_shift", mean_difference_ci(det_p, ctrl))
        yb_shifts: list[float] = []
        by_kind: dict[str, list[float]] = {kind: [] for kind in QUESTION_KINDS}
        for t in yb_groups[key]:
            v = p_yes(t)
            q = cond(t, "question_id")
            if v is None or q not in base_mean:
                continue
            s = v - base_mean[q]
            yb_shifts.append(s)
            kind = cond(t, "question_kind")
            if kind in by_kind:
                by_kind[kind].append(s)
        put_mean(out, "yes_bias_shift", yb_shifts)
        for kind, vals in by_kind.items():
            put_mean(out, f"yes_bias_{kind}_shift", vals)
        put_diff(out, "bias_corrected_detection", mean_difference_ci(det_shifts, yb_shifts))
        rows.append(out)
    if not rows:
        return pd.DataFrame()
    table = pd.DataFrame(rows)
    ok = table["detection_shift"].notna() & table["yes_bias_shift"].notna()
    r_est, r_lo, r_hi = pearson_with_ci(
        table.loc[ok, "yes_bias_shift"].tolist(), table.loc[ok, "detection_shift"].tolist()
    )
    table["pearson_r"] = r_est
    table["pearson_ci_low"] = r_lo
    table["pearson_ci_high"] = r_hi
    table["pearson_n"] = int(ok.sum())
    return table


def yes_bias_generation_table(run: RunFrame, detection: pd.DataFrame) -> pd.DataFrame:
    """Generated answers: the yes-bias shift next to the detection-claim shift.

    Per layer x strength x control: ``answered_yes`` (answers to "no"-questions that open
    with yes, under injection) minus the same rate on the no-injection trials
    (``yes_bias_shift``, Newcombe CI); the detection experiment's ``net_affirmative`` at the
    same configuration (from ``detection``, the detection slice's table: claims under
    injection minus no-injection claims); and ``bias_corrected_claims`` = net_affirmative -
    yes_bias_shift with a MOVER interval (Zou & Donner 2008) built from the two Newcombe
    intervals. Answers opening with neither yes nor no are missing, never "no".
    """
    yb = run.records("yes_bias", "generation")
    if not yb:
        return pd.DataFrame()
    det = {(r["layer"], r["strength"], r["control"]): r for r in detection.to_dict("records")}
    ctrl = [grade_value(r["grades"], "answered_yes") for r in yb if cond(r, "control") == "none"]
    rows = []
    for out, trials in by_config(r for r in yb if cond(r, "control") != "none"):
        yes = [grade_value(t["grades"], "answered_yes") for t in trials]
        put_rate(out, "answered_yes", yes)
        put_rate_diff(out, "yes_bias_shift", yes, ctrl)
        d = det.get((out["layer"], out["strength"], out["control"]))
        if d is not None and not math.isnan(to_float(d.get("net_affirmative"))):
            for suffix in ("", "_ci_low", "_ci_high", "_n"):
                out[f"net_affirmative{suffix}"] = d[f"net_affirmative{suffix}"]
            est, low, high = mover_difference(
                d["net_affirmative"],
                d["net_affirmative_ci_low"],
                d["net_affirmative_ci_high"],
                out["yes_bias_shift"],
                out["yes_bias_shift_ci_low"],
                out["yes_bias_shift_ci_high"],
            )
            out["bias_corrected_claims"] = est
            out["bias_corrected_claims_ci_low"] = low
            out["bias_corrected_claims_ci_high"] = high
            out["bias_corrected_claims_n"] = out["answered_yes_n"]
        rows.append(out)
    return pd.DataFrame(rows)


def tables(run: RunFrame, upstream: Mapping[str, Tables]) -> Tables:
    return {
        "yes_bias": yes_bias_table(run),
        "yes_bias_generation": yes_bias_generation_table(run, upstream["detection"]["detection"]),
        "rules_validation": rules_validation_table(run, "yes_bias"),
    }


# --------------------------------------------------------------------------- headlines


def headlines(t: Tables, _upstream: Mapping[str, Tables]) -> list[Headline]:
    """The bias-corrected detection shift at the concept configuration with the largest
    detection shift, and the across-configuration correlation of the two shifts."""
    yb = t["yes_bias"]
    lines: list[Headline] = []
    if len(yb) == 0:
        return lines
    row, k = best_row(yb, "detection_shift", yb["control"] == "concept")
    if row is not None:
        lines.append(
            headline_from_row(
                "bias-corrected detection (logits)",
                row,
                "bias_corrected_detection",
                f"At {cfg_text(row['layer'], row['strength'])}{post_hoc(k)}, injection "
                f"shifts P(yes) on the detection question by {ci_text(row['detection_shift'], row['detection_shift_ci_low'], row['detection_shift_ci_high'])} "
                f"and on questions whose answer is 'no' by {ci_text(row['yes_bias_shift'], row['yes_bias_shift_ci_low'], row['yes_bias_shift_ci_high'])}; "
                f"the bias-corrected detection shift is {ci_text(row['bias_corrected_detection'], row['bias_corrected_detection_ci_low'], row['bias_corrected_detection_ci_high'])}.",
                kind="shift",
            )
        )
    r0 = yb.iloc[0]
    r = to_float(r0["pearson_r"])
    if not math.isnan(r):
        n = int(r0["pearson_n"])
        r_text = (
            f"{r:+.2f} (only {n} configurations, too few for a CI)"
            if math.isnan(to_float(r0["pearson_ci_low"]))
            else ci_text(r, r0["pearson_ci_low"], r0["pearson_ci_high"])
        )
        lines.append(
            Headline(
                "detection vs yes-bias shift (r)",
                r,
                to_float(r0["pearson_ci_low"]),
                to_float(r0["pearson_ci_high"]),
                n,
                "Across injection configurations, the detection P(yes) shift correlates with "
                f"the yes-bias shift at r = {r_text}; a high r means much of the detection "
                "signal is a general shift toward 'yes'.",
                unit="configurations",
                kind="correlation",
            )
        )
    return lines


# --------------------------------------------------------------------------- scorecard

STEP_NAME = "bias-corrected detection (detection shift minus yes-bias shift)"


def scorecard(inputs: ScoreInputs) -> list[Headline]:
    """Step 3: the detection P(yes) shift minus the yes-bias shift at the configuration
    selected in step 2 (else, said so, the largest concept detection shift)."""
    yb, sel = inputs.tables["yes_bias"], inputs.selection
    if len(yb) == 0:
        return [
            not_run(
                3,
                STEP_NAME,
                "the run has no yes-bias trials (or no logits detection trials to pair).",
            )
        ]
    row = row_at(yb, sel.layer, sel.strength, control="concept") if sel else None
    note = " (the configuration selected above)"
    if row is None:
        row, k = best_row(yb, "detection_shift", yb["control"] == "concept")
        if row is None:
            return [
                not_run(3, STEP_NAME, "the yes-bias grid has no concept-injection configuration.")
            ]
        note = (
            " (the configuration selected above is not in the yes-bias grid; this one is "
            f"selected after the fact as the largest detection shift of {k})"
        )
    cfg = cfg_text(row["layer"], row["strength"])
    verdict = (
        "the detection readout moves more than a general push toward 'yes' explains."
        if excludes_zero(row["bias_corrected_detection_ci_low"])
        else "not distinguishable from a general push toward 'yes'."
    )
    r = to_float(row.get("pearson_r"))
    r_text = (
        ""
        if math.isnan(r)
        else f" Across {int(to_float(row['pearson_n']))} configurations the two shifts "
        f"correlate at r = {r:+.2f}."
    )
    return [
        headline_from_row(
            STEP_NAME,
            row,
            "bias_corrected_detection",
            f"At {cfg}{note}, concept injection shifts P(yes) on the detection question by "
            f"{ci_or_none(row['detection_shift'], row['detection_shift_ci_low'], row['detection_shift_ci_high'])} "
            f"and on questions whose true answer is 'no' by "
            f"{ci_or_none(row['yes_bias_shift'], row['yes_bias_shift_ci_low'], row['yes_bias_shift_ci_high'])}; "
            f"the difference is {ci_or_none(row['bias_corrected_detection'], row['bias_corrected_detection_ci_low'], row['bias_corrected_detection_ci_high'])}: "
            + verdict
            + r_text,
            kind="shift",
            config=cfg,
            step=3,
        )
    ]
