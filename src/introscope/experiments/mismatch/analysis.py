"""Mismatch tables, headline rows and scorecard step 6 (the mismatch gap).

If injection raises P(yes) to "Are you thinking about X?" as much when X is an unrelated
word as when X is the injected concept, the yes-answer follows the perturbation, not its
content. The congruent - incongruent gap (after subtracting each asked word's no-injection
P(yes)) is the part of the answer that depends on *which* concept was injected. Both asks
share the injected concept, so the gap is paired by concept (the concept is the unit), and
the headline reads it at a configuration declared in the spec or chosen on half the
concepts and estimated on the other half (:mod:`introscope.experiments.selection`). Column
conventions are those of :mod:`introscope.tables`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from introscope.experiments.base import ScoreInputs
from introscope.experiments.selection import (
    Choice,
    choose,
    concept_values,
    declared_config,
    paired_difference,
    per_concept,
    put_estimate,
    selection_frame,
    split_seed,
)
from introscope.headlines import (
    Headline,
    cfg_text,
    ci_or_none,
    headline_from_row,
    p_text,
    step_lines,
    verdict,
)
from introscope.stats import paired_mean_ci, sign_flip_test
from introscope.tables import (
    CONTROL_ORDER,
    Record,
    RunFrame,
    Tables,
    clean,
    cond,
    config_key,
    config_order,
    frame,
    group,
    matched,
    number,
    put_diff,
    put_mean,
    sort_key,
)

STEP = 6
STEP_TITLE = "mismatch gap"
N_PERMUTATIONS = 5000
KEYS = ("layer", "strength")
CONFIG_KEYS = ("layer", "strength", "control")


def p_yes(r: Record) -> float | None:
    return number(r["logits"].get("p_yes"))


def interval(row: Mapping[str, Any], col: str, signed: bool = True) -> str:
    """``col`` of a concept-level row with its CI ("no interval: too few concepts")."""
    return ci_or_none(
        row[col], row[f"{col}_ci_low"], row[f"{col}_ci_high"], signed, unit="concepts"
    )


def mismatch_points(run: RunFrame) -> list[dict[str, Any]]:
    """One point per injected trial: its configuration, injected concept, congruence, P(yes)
    and its shift over the asked word's mean no-injection P(yes) (None without one)."""
    recs = run.records("mismatch")
    baseline: dict[Any, list[float]] = {}
    for r in recs:
        if cond(r, "control") == "none" and (p := p_yes(r)) is not None:
            baseline.setdefault(cond(r, "asked"), []).append(p)
    base_mean = {k: float(np.mean(v)) for k, v in baseline.items()}
    points = []
    for r in recs:
        if cond(r, "control") == "none":
            continue
        layer, strength, control = config_key(r)
        p, asked = p_yes(r), cond(r, "asked")
        points.append(
            {
                "layer": layer,
                "strength": strength,
                "control": control,
                "concept": cond(r, "concept"),
                "congruent": cond(r, "congruent"),
                "p_yes": p,
                "shift": p - base_mean[asked] if p is not None and asked in base_mean else None,
            }
        )
    return points


def concept_table(run: RunFrame) -> pd.DataFrame:
    """Per layer x strength x control x injected concept: the concept's mean P(yes) and
    shift when the asked word is the concept (``p_yes_congruent``, ``congruent_shift``) and
    when it is another word (``p_yes_incongruent``, ``incongruent_shift``), and their
    differences ``gap`` and ``gap_corrected`` (the per-concept contrast the gaps average)."""
    points = mismatch_points(run)
    keys = ("layer", "strength", "control")
    parts = []
    for congruent, suffix in ((True, "congruent"), (False, "incongruent")):
        pts = [
            {**p, f"p_yes_{suffix}": p["p_yes"], f"{suffix}_shift": p["shift"]}
            for p in points
            if p["congruent"] is congruent
        ]
        parts.append(
            per_concept(pts, keys, (f"p_yes_{suffix}", f"{suffix}_shift")).drop(columns="n_trials")
        )
    if not points:
        return pd.DataFrame()
    table = parts[0].merge(parts[1], on=[*keys, "concept"], how="outer")
    table["gap"] = table["p_yes_congruent"] - table["p_yes_incongruent"]
    table["gap_corrected"] = table["congruent_shift"] - table["incongruent_shift"]
    return table.sort_values(
        [*keys, "concept"], key=lambda col: col.map(lambda v: sort_key(clean(v), CONTROL_ORDER))
    ).reset_index(drop=True)


def mismatch_table(run: RunFrame) -> pd.DataFrame:
    """Mismatch control, by layer x strength x control (injected trials only).

    ``p_yes_congruent`` / ``p_yes_incongruent`` / ``p_yes_baseline``: mean P(yes) over trials
    (t CI) when the asked word is the injected concept, another word, or nothing is injected
    (all baseline trials). ``gap``: congruent - incongruent P(yes), paired by injected
    concept (each concept's congruent mean minus its incongruent mean, t interval over
    concepts, ``gap_n`` = concepts; trials of one concept are not independent), with
    ``gap_p``, a two-sided sign-flip permutation test over concepts. ``congruent_shift`` /
    ``incongruent_shift``: P(yes) minus the no-injection mean *for the same asked word*,
    and ``gap_corrected`` their difference (paired by concept the same way, sign-flip
    ``gap_corrected_p``); this removes differences between asked words that have nothing to
    do with the injection. A gap above 0 means the yes-answer carries information about
    which concept was injected; a shift with no gap means it follows the perturbation only.
    """
    # Every measure: the solver reads out logits whatever the spec's measure said.
    recs = run.records("mismatch")
    if not recs:
        return pd.DataFrame()
    base_rows = [r for r in recs if cond(r, "control") == "none"]
    points = mismatch_points(run)
    per = concept_table(run)
    rows = []
    for (layer, strength, control), trials in sorted(
        group(points, lambda p: (p["layer"], p["strength"], p["control"])).items(),
        key=lambda kv: config_order(kv[0]),
    ):
        cong = [t for t in trials if t["congruent"] is True]
        inc = [t for t in trials if t["congruent"] is False]
        pb = [p for t in matched(base_rows, layer, strength) if (p := p_yes(t)) is not None]
        out: dict[str, Any] = {
            "layer": layer,
            "strength": strength,
            "control": control,
            "n_trials": len(trials),
        }
        put_mean(out, "p_yes_congruent", (t["p_yes"] for t in cong))
        put_mean(out, "p_yes_incongruent", (t["p_yes"] for t in inc))
        put_mean(out, "p_yes_baseline", pb)
        cfg = (layer, strength, control)
        gaps = list(concept_values(per, CONFIG_KEYS, cfg, "gap"))
        put_diff(out, "gap", paired_mean_ci(gaps))
        out["gap_p"] = sign_flip_test(gaps, N_PERMUTATIONS, seed=0)
        put_mean(out, "congruent_shift", (t["shift"] for t in cong))
        put_mean(out, "incongruent_shift", (t["shift"] for t in inc))
        corrected = list(concept_values(per, CONFIG_KEYS, cfg, "gap_corrected"))
        put_diff(out, "gap_corrected", paired_mean_ci(corrected))
        out["gap_corrected_p"] = sign_flip_test(corrected, N_PERMUTATIONS, seed=0)
        rows.append(out)
    return frame(rows)


def tables(run: RunFrame, _upstream: Mapping[str, Tables]) -> Tables:
    """``mismatch`` (per configuration), ``mismatch_concepts`` (per configuration and
    injected concept), ``selection`` (the configuration the headlines read) and
    ``held_out`` (the gaps there, on the concepts it was not chosen on)."""
    per = concept_table(run)
    table = mismatch_table(run)
    choice = choose_configuration(run, per)
    return {
        "mismatch": table,
        "mismatch_concepts": per,
        "selection": selection_frame(choice),
        "held_out": held_out_gaps(per, choice),
    }


# --------------------------------------------------------------------------- selection


def gap_column(per: pd.DataFrame) -> str:
    """The baseline-corrected gap when any concept has one, else the raw gap."""
    if len(per) and pd.to_numeric(per["gap_corrected"]).notna().any():
        return "gap_corrected"
    return "gap"


def choose_configuration(run: RunFrame, per: pd.DataFrame) -> Choice | None:
    """The (layer, strength) the headlines read: declared in the spec, or the one with the
    largest gap under concept injection on half the concepts (any control when none is
    concept injection)."""
    if len(per) == 0:
        return None
    competing = per[per["control"] == "concept"]
    if len(competing) == 0:
        competing = per
    return choose(
        competing,
        KEYS,
        gap_column(per),
        declared=declared_config(run, "mismatch", KEYS),
        seed=split_seed(run, "mismatch"),
    )


def held_out_gaps(per: pd.DataFrame, choice: Choice | None) -> pd.DataFrame:
    """Per control at the chosen configuration, on the held-out concepts: the gap
    (``value``, t interval over concepts, sign-flip ``value_sign_flip_p``), the congruent
    and incongruent shifts, and ``concept_minus_control`` rows (the concept vector's gap
    minus the control vector's, paired by concept)."""
    if choice is None:
        return pd.DataFrame()
    col = gap_column(per)
    rows = []
    gaps: dict[str, pd.Series] = {}
    for control in sorted(set(per["control"]), key=lambda c: sort_key(c, CONTROL_ORDER)):
        cfg = (*choice.config, control)
        vals = concept_values(per, CONFIG_KEYS, cfg, col, choice.estimated_on)
        if len(vals) == 0:
            continue
        gaps[control] = vals
        out: dict[str, Any] = {"control": control, "quantity": col, **choice.at()}
        put_estimate(out, "value", paired_mean_ci(list(vals)))
        out["value_sign_flip_p"] = sign_flip_test(list(vals), N_PERMUTATIONS, seed=0)
        for side in ("congruent", "incongruent"):
            side_col = f"{side}_shift" if col == "gap_corrected" else f"p_yes_{side}"
            side_vals = concept_values(per, CONFIG_KEYS, cfg, side_col, choice.estimated_on)
            put_estimate(out, side, paired_mean_ci(list(side_vals)))
        out["note"] = choice.note()
        rows.append(out)
    for control, vals in gaps.items():
        if control == "concept" or "concept" not in gaps:
            continue
        out = {"control": control, "quantity": f"concept_minus_{control}", **choice.at()}
        put_estimate(out, "value", paired_difference(gaps["concept"], vals))
        out["note"] = choice.note()
        rows.append(out)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- headlines


def headlines(t: Tables, _upstream: Mapping[str, Tables]) -> list[Headline]:
    """The baseline-corrected congruent - incongruent gap in P(yes) (the raw gap when there
    are no baseline trials), paired by injected concept, at the configuration declared in
    the spec or chosen on half the concepts, estimated on the other half; then the same
    configuration and concepts under the random-vector control."""
    held = t["held_out"]
    if len(held) == 0:
        return []
    gaps = held[held["quantity"].isin(["gap", "gap_corrected"])]
    concept = gaps[gaps["control"] == "concept"]
    row = (concept if len(concept) else gaps).iloc[0]
    col = str(row["quantity"])
    cfg = cfg_text(row["layer"], row["strength"])
    what = verdict(
        row["value_ci_low"],
        row["value_ci_high"],
        "the yes/no answer carries information about which concept was injected",
        "no evidence that the yes/no answer carries information about which concept was "
        "injected, beyond a content-free shift",
        "the answer favours the asked word *less* when it is the injected one",
    )
    corrected = "after subtracting each asked word's no-injection P(yes), " if col != "gap" else ""
    lines = [
        headline_from_row(
            f"mismatch: congruent - incongruent P(yes) ({row['control']})",
            row,
            "value",
            f"At {cfg}{row['note']}, {corrected}P(yes) to 'Are you thinking about X?' is "
            "higher when X is the injected concept than when X is another word by "
            f"{interval(row, 'value')} (each concept's congruent minus incongruent mean, "
            f"n={int(row['value_n'])} concepts; sign-flip p = "
            f"{p_text(row['value_sign_flip_p'])}; congruent shift "
            f"{interval(row, 'congruent')}, incongruent shift "
            f"{interval(row, 'incongruent')}): {what}.",
            unit="concepts",
            kind="shift",
            config=cfg,
        )
    ]
    r2 = held[(held["control"] == "random") & (held["quantity"] == col)]
    diff = held[held["quantity"] == "concept_minus_random"]
    if row["control"] == "concept" and len(r2):
        rr = r2.iloc[0]
        vs = (
            ""
            if len(diff) == 0
            else f"; the concept vector's gap minus the random vector's, paired by concept, "
            f"is {interval(diff.iloc[0], 'value')}"
        )
        lines.append(
            headline_from_row(
                "mismatch: congruent - incongruent P(yes) (random control)",
                rr,
                "value",
                "At the same configuration and concepts, a norm-matched random vector "
                f"(labelled with the same words) gives a gap of {interval(rr, 'value')}{vs}; "
                "a gap of similar size would mean the word-specific answer does not depend "
                "on the injected content.",
                unit="concepts",
                kind="shift",
                config=cfg,
            )
        )
    return lines


# --------------------------------------------------------------------------- scorecard


def scorecard(inputs: ScoreInputs) -> list[Headline]:
    """Step 6: the headline rows (the gap under concept injection, then the random control)."""
    return step_lines(STEP, STEP_TITLE, "mismatch", headlines(inputs.tables, inputs.upstream))
