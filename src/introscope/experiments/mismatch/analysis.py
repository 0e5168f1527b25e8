"""Mismatch tables, headline rows and scorecard step 6 (the mismatch gap).

If injection raises P(yes) to "Are you thinking about X?" as much when X is an unrelated
word as when X is the injected concept, the yes-answer follows the perturbation, not its
content. The congruent - incongruent gap (after subtracting each asked word's no-injection
P(yes)) is the part of the answer that depends on *which* concept was injected. Column
conventions are those of :mod:`introscope.tables`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from introscope.experiments.base import ScoreInputs
from introscope.headlines import (
    Headline,
    cfg_text,
    ci_sign,
    ci_text,
    headline_from_row,
    p_text,
    post_hoc,
    step_lines,
)
from introscope.stats import mean_difference_ci, permutation_test
from introscope.tables import (
    Record,
    RunFrame,
    Tables,
    best_row,
    cond,
    config_key,
    config_order,
    frame,
    group,
    matched,
    number,
    put_diff,
    put_mean,
    row_at,
)

STEP = 6
STEP_TITLE = "mismatch gap"
N_PERMUTATIONS = 5000


def p_yes(r: Record) -> float | None:
    return number(r["logits"].get("p_yes"))


def interval(row: Mapping[str, Any], col: str, signed: bool = True) -> str:
    """``col`` of a table row with its CI, as :func:`introscope.tables.ci_text` prints it."""
    return ci_text(row[col], row[f"{col}_ci_low"], row[f"{col}_ci_high"], signed)


def mismatch_table(run: RunFrame) -> pd.DataFrame:
    """Mismatch control, by layer x strength x control (injected trials only).

    ``p_yes_congruent`` / ``p_yes_incongruent`` / ``p_yes_baseline``: mean P(yes) (t CI) when
    the asked word is the injected concept, another word, or nothing is injected (all
    baseline trials). ``gap``: congruent - incongruent mean P(yes) (Welch CI) with
    ``gap_p``, a two-sided permutation test. ``congruent_shift`` / ``incongruent_shift``:
    P(yes) minus the no-injection mean *for the same asked word*, and ``gap_corrected`` their
    difference (Welch CI, permutation ``gap_corrected_p``); this removes differences between
    asked words that have nothing to do with the injection. A gap above 0 means the
    yes-answer carries information about which concept was injected; a shift with no gap
    means it follows the perturbation only.
    """
    # Every measure: the solver reads out logits whatever the spec's measure said.
    recs = run.records("mismatch")
    if not recs:
        return pd.DataFrame()
    base_rows = [r for r in recs if cond(r, "control") == "none"]
    baseline: dict[Any, list[float]] = {}
    for r in base_rows:
        p = p_yes(r)
        if p is not None:
            baseline.setdefault(cond(r, "asked"), []).append(p)
    base_mean = {k: float(np.mean(v)) for k, v in baseline.items()}

    def shifts(ts: list[Record]) -> list[float]:
        vals = []
        for t in ts:
            p, asked = p_yes(t), cond(t, "asked")
            if p is not None and asked in base_mean:
                vals.append(p - base_mean[asked])
        return vals

    injected = [r for r in recs if cond(r, "control") != "none"]
    rows = []
    for (layer, strength, control), trials in sorted(
        group(injected, config_key).items(), key=lambda kv: config_order(kv[0])
    ):
        cong = [t for t in trials if cond(t, "congruent") is True]
        inc = [t for t in trials if cond(t, "congruent") is False]
        pc = [p for t in cong if (p := p_yes(t)) is not None]
        pi = [p for t in inc if (p := p_yes(t)) is not None]
        pb = [p for t in matched(base_rows, layer, strength) if (p := p_yes(t)) is not None]
        out: dict[str, Any] = {
            "layer": layer,
            "strength": strength,
            "control": control,
            "n_trials": len(trials),
        }
        put_mean(out, "p_yes_congruent", pc)
        put_mean(out, "p_yes_incongruent", pi)
        put_mean(out, "p_yes_baseline", pb)
        put_diff(out, "gap", mean_difference_ci(pc, pi))
        out["gap_p"] = permutation_test(pc, pi, n_permutations=N_PERMUTATIONS, seed=0)[1]
        sc, si = shifts(cong), shifts(inc)
        put_mean(out, "congruent_shift", sc)
        put_mean(out, "incongruent_shift", si)
        put_diff(out, "gap_corrected", mean_difference_ci(sc, si))
        out["gap_corrected_p"] = permutation_test(sc, si, n_permutations=N_PERMUTATIONS, seed=0)[1]
        rows.append(out)
    return frame(rows)


def tables(run: RunFrame, _upstream: Mapping[str, Tables]) -> Tables:
    return {"mismatch": mismatch_table(run)}


# --------------------------------------------------------------------------- headlines


def headlines(t: Tables, _upstream: Mapping[str, Tables]) -> list[Headline]:
    """The baseline-corrected congruent - incongruent gap in P(yes) (the raw gap when there
    are no baseline trials) at the configuration with the largest gap under concept
    injection, then the same configuration under the random-vector control."""
    table = t["mismatch"]
    if len(table) == 0:
        return []
    col = "gap_corrected" if table["gap_corrected_n"].fillna(0).gt(0).any() else "gap"
    row, k = best_row(table, col, table["control"] == "concept")
    if row is None:
        row, k = best_row(table, col)
    if row is None:
        return []
    verdict = ci_sign(row[f"{col}_ci_low"], row[f"{col}_ci_high"])
    what = (
        "the yes/no answer carries information about which concept was injected"
        if verdict > 0
        else (
            "the answer favours the asked word *less* when it is the injected one"
            if verdict < 0
            else "no evidence that the yes/no answer carries information about which concept "
            "was injected, beyond a content-free shift"
        )
    )
    corrected = "after subtracting each asked word's no-injection P(yes), " if col != "gap" else ""
    lines = [
        headline_from_row(
            f"mismatch: congruent - incongruent P(yes) ({row['control']})",
            row,
            col,
            f"At {cfg_text(row['layer'], row['strength'])}{post_hoc(k)}, {corrected}P(yes) to "
            "'Are you thinking about X?' is higher when X is the injected concept than when X "
            f"is another word by {interval(row, col)} (permutation p = "
            f"{p_text(row[f'{col}_p'])}; congruent shift {interval(row, 'congruent_shift')}, "
            f"incongruent shift {interval(row, 'incongruent_shift')}): {what}.",
            n=row[f"{col}_n"] + row[f"{col}_n_ref"],
            kind="shift",
        )
    ]
    r2 = row_at(table, row["layer"], row["strength"], control="random")
    if row["control"] == "concept" and r2 is not None:
        lines.append(
            headline_from_row(
                "mismatch: congruent - incongruent P(yes) (random control)",
                r2,
                col,
                "At the same configuration, a norm-matched random vector (labelled with the "
                f"same words) gives a gap of {interval(r2, col)}; "
                "a gap of similar size would mean the word-specific answer does not depend "
                "on the injected content.",
                n=r2[f"{col}_n"] + r2[f"{col}_n_ref"],
                kind="shift",
            )
        )
    return lines


# --------------------------------------------------------------------------- scorecard


def scorecard(inputs: ScoreInputs) -> list[Headline]:
    """Step 6: the headline rows (the gap under concept injection, then the random control)."""
    return step_lines(STEP, STEP_TITLE, "mismatch", headlines(inputs.tables, inputs.upstream))
