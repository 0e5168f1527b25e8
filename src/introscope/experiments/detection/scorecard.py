"""Detection's scorecard steps: 1 (raw detection), 2 (net of no-injection false positives),
4 (random / negated vectors at the same configuration) and 5 (identification above chance
and mutual information).

The configuration that later steps reuse is chosen here (:func:`select`): the
concept-injection layer x strength with the highest net detection claim (text) or the
highest P(yes) shift (logits-only runs). That choice is post hoc and every sentence built on
it says so.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd

from introscope.experiments.base import ScoreInputs, Selection
from introscope.experiments.detection.leakage import leakage_lines
from introscope.experiments.detection.wordings import wording_lines
from introscope.experiments.steering_check.scorecard import kl_clause
from introscope.grading.validation import low_trust_note
from introscope.headlines import (
    Headline,
    cfg_text,
    ci_or_none,
    excludes_zero,
    headline_from_row,
    interval_verdict,
    low_trust,
    not_run,
    pct,
)
from introscope.tables import NAN, Tables, best_row, clean, number, row_at, to_float


def select(t: Tables) -> Selection | None:
    """The concept-injection configuration with the highest net detection claim (text), else
    the highest P(yes) shift (logits-only runs); None when neither exists."""
    row, k = best_row(t["detection"], "net_affirmative", _is(t["detection"], "concept"))
    if row is not None:
        return Selection(clean(row["layer"]), clean(row["strength"]), "text", k)
    row, k = best_row(t["detection_logits"], "p_yes_shift", _is(t["detection_logits"], "concept"))
    if row is not None:
        return Selection(clean(row["layer"]), clean(row["strength"]), "logits", k)
    return None


def _is(table: pd.DataFrame, control: str) -> pd.Series | None:
    if len(table) == 0 or "control" not in table.columns:
        return None
    return table["control"] == control


def selected_post_hoc(k: int, what: str) -> str:
    if k <= 1:
        return " (the only configuration)"
    return (
        f" (selected after the fact as the highest {what} of {k} configurations, so biased "
        "upward; later lines reuse it)"
    )


RAW_TEXT = "detection claim rate (concept injection)"
NET_TEXT = "net detection claim (minus no-injection false positives)"


def scorecard(s: ScoreInputs) -> list[Headline]:
    """Steps 1 (raw detection), 2 (net of false positives), 4 (random / negated vectors)
    and 5 (identification and mutual information)."""
    return [
        *_detection_lines(s.tables, s.selection),
        *_control_lines(s.tables, s.selection, s.upstream.get("steering_check", {}).get("kl")),
        *content_lines(s.tables, s.selection),
        # issue 10 defects 3 and 12: wordings (step 2) and the leakage controls (step 5)
        *wording_lines(s.tables, s.selection),
        *leakage_lines(s.tables, s.selection),
    ]


def _detection_lines(t: Tables, sel: Selection | None) -> list[Headline]:
    if sel is None:
        why = "the run has no concept-injection detection trials."
        return [not_run(1, RAW_TEXT, why), not_run(2, NET_TEXT, why)]
    if sel.source == "text":
        row = row_at(t["detection"], sel.layer, sel.strength, control="concept")
        assert row is not None
        cfg = cfg_text(row["layer"], row["strength"])
        raw = headline_from_row(
            RAW_TEXT,
            row,
            "claims_detection",
            f"At {cfg}{selected_post_hoc(sel.k, 'net detection claim')}, the answer is coherent "
            f"and affirmative about an injected thought in {pct(row['claims_detection'])} of "
            f"concept-injection trials (rules grader); it names the injected concept in "
            f"{pct(row['identification'])}.",
            kind="rate",
            config=cfg,
            step=1,
        )
        verdict = interval_verdict(
            row["net_affirmative_ci_low"],
            row["net_affirmative_ci_high"],
            "the affirmative report depends on whether a vector was injected here.",
            "not distinguishable from the false-positive rate.",
        )
        net = headline_from_row(
            NET_TEXT,
            row,
            "net_affirmative",
            f"Minus the no-injection false-positive rate "
            f"({ci_or_none(row['false_positive'], row['false_positive_ci_low'], row['false_positive_ci_high'], signed=False)}, "
            f"n={int(to_float(row['false_positive_n']))}), the claim rate is "
            f"{ci_or_none(row['net_affirmative'], row['net_affirmative_ci_low'], row['net_affirmative_ci_high'])}: "
            + verdict,
            kind="rate_difference",
            config=cfg,
            step=2,
        )
        claims = low_trust_note("detection", ("claims_detection",))
        named = low_trust_note("detection", ("claims_detection", "correct_concept"))
        return [low_trust(raw, named), low_trust(net, claims)]
    row = row_at(t["detection_logits"], sel.layer, sel.strength, control="concept")
    assert row is not None
    cfg = cfg_text(row["layer"], row["strength"])
    raw = headline_from_row(
        "P(yes) to the detection question (concept injection)",
        row,
        "p_yes",
        f"At {cfg}{selected_post_hoc(sel.k, 'P(yes) shift')}, the mean normalised P(yes) to "
        "'do you detect an injected thought?' is "
        f"{ci_or_none(row['p_yes'], row['p_yes_ci_low'], row['p_yes_ci_high'], signed=False)} "
        "(no generated answers in this run: logits readout).",
        kind="probability",
        config=cfg,
        step=1,
        null=NAN,
    )
    verdict = interval_verdict(
        row["p_yes_shift_ci_low"],
        row["p_yes_shift_ci_high"],
        "P(yes) depends on whether a vector was injected here.",
        "not distinguishable from no injection.",
    )
    net = headline_from_row(
        "P(yes) shift (minus no-injection trials)",
        row,
        "p_yes_shift",
        "Minus the P(yes) of the no-injection trial (a deterministic readout: one constant), "
        "the shift is "
        f"{ci_or_none(row['p_yes_shift'], row['p_yes_shift_ci_low'], row['p_yes_shift_ci_high'])}"
        f" over {int(to_float(row['p_yes_shift_n']))} concepts: " + verdict,
        unit="concepts",
        kind="shift",
        config=cfg,
        step=2,
    )
    return [raw, net]


CONTROL_NAMES = {
    "random": ("random-vector net detection", "a norm-matched random vector"),
    "negated": ("negated-vector net detection", "the negated concept vector"),
    "other": (
        "other-concept-vector net detection",
        "another concept's vector rescaled to this concept's norm",
    ),
    "matched_random": (
        "matched-random-vector net detection",
        "a covariance-matched random vector (two baseline words' activation difference, "
        "norm-matched)",
    ),
}


def _control_lines(t: Tables, sel: Selection | None, kl: pd.DataFrame | None) -> list[Headline]:
    out = []
    if sel is None:
        for control, (name, _) in CONTROL_NAMES.items():
            out.append(not_run(4, name, f"no detection configuration to test {control} at."))
        return out
    if sel.source == "text":
        table, col, what = t["detection"], "net_affirmative", "claim rate"
    else:
        table, col, what = t["detection_logits"], "p_yes_shift", "P(yes) shift"
    concept = row_at(table, sel.layer, sel.strength, control="concept")
    # Text lines count rules grades: say so when the grader is below its agreement target.
    note = low_trust_note("detection", ("claims_detection",)) if sel.source == "text" else ""
    for control, (name, desc) in CONTROL_NAMES.items():
        row = row_at(table, sel.layer, sel.strength, control=control)
        if row is None or number(row.get(col)) is None:
            out.append(
                replace(
                    not_run(
                        4,
                        name,
                        f"no {name.removesuffix(' net detection')} trials at the selected "
                        "configuration.",
                    ),
                    config=cfg_text(sel.layer, sel.strength),
                )
            )
            continue
        c_text = (
            ""
            if concept is None
            else f" (concept vector: {ci_or_none(concept[col], concept[f'{col}_ci_low'], concept[f'{col}_ci_high'])})"
        )
        cfg = cfg_text(row["layer"], row["strength"])
        out.append(
            low_trust(
                headline_from_row(
                    name,
                    row,
                    col,
                    f"At the same configuration ({cfg}), {desc} changes the detection {what} over "
                    f"no injection by {ci_or_none(row[col], row[f'{col}_ci_low'], row[f'{col}_ci_high'])}"
                    f"{c_text}. A value like the concept vector's means the claim tracks that "
                    "something was injected, not what."
                    + kl_clause(kl, row["layer"], row["strength"], control),
                    unit="trials" if sel.source == "text" else "concepts",
                    kind="rate_difference" if sel.source == "text" else "shift",
                    config=cfg,
                    step=4,
                ),
                note,
            )
        )
    return out


# --------------------------------------------------------------------------- scorecard step 5

SOURCE_TEXT = {
    "logits": ("candidate readout", "the top-ranked candidate after an affirmative prefill"),
    "text": ("text", "the concept named in the generated answer (rules grader)"),
}


def content_lines(t: Tables, sel: Selection | None) -> list[Headline]:
    """Identification above chance and MI, from the candidate readout and from the text."""
    ident = t["identification"]
    mi = t["mutual_information"]
    # Only the rows a line can use: concept injection, at the selected layer when there is one.
    if len(mi):
        mi = mi[mi["control"] == "concept"]
        at_layer = mi if sel is None else mi[mi["layer"].map(clean) == sel.layer]
        have = set(ident["source"]) if len(ident) else set()
        # a source without trials at the selected layer: its line falls back to any layer
        if have <= (set(at_layer["source"]) if len(at_layer) else set()):
            mi = at_layer
    return [
        identification_line(ident, sel, "logits"),
        identification_line(ident, sel, "text"),
        mi_line(mi, sel, "logits"),
        mi_line(mi, sel, "text"),
    ]


def identification_line(ident: pd.DataFrame, sel: Selection | None, source: str) -> Headline:
    label, desc = SOURCE_TEXT[source]
    name = f"identification above chance ({label})"
    t = ident[ident["source"] == source] if len(ident) else ident
    if len(t) == 0:
        what = "logits" if source == "logits" else "generation"
        return not_run(5, name, f"the run has no {what} detection trials.")
    row = row_at(t, sel.layer, sel.strength, control="concept") if sel else None
    note = " (the configuration selected above)"
    if row is None or int(to_float(row.get("identification_n")) or 0) == 0:
        row, k = best_row(t, "identification_vs_chance", t["control"] == "concept")
        if row is None:
            return not_run(5, name, "no concept-injection trials with an identification grade.")
        note = f" (selected after the fact as the best of {k} configurations)"
    cfg = cfg_text(row["layer"], row["strength"])
    among = "affirmative trials" if source == "text" else "trials"
    verdict = (
        "the report carries information about which concept was injected."
        if excludes_zero(row["identification_vs_chance_ci_low"])
        else "not distinguishable from chance."
    )
    trust = (
        low_trust_note("detection", ("affirmative", "correct_concept")) if source == "text" else ""
    )
    line = headline_from_row(
        name,
        row,
        "identification_vs_chance",
        f"At {cfg}{note}, {desc} is the injected concept in "
        f"{ci_or_none(row['identification'], row['identification_ci_low'], row['identification_ci_high'], signed=False)} "
        f"of {among} against chance {to_float(row['chance']):.3f}; above chance by "
        f"{ci_or_none(row['identification_vs_chance'], row['identification_vs_chance_ci_low'], row['identification_vs_chance_ci_high'])}: "
        + verdict,
        kind="rate_difference",
        config=cfg,
        step=5,
    )
    return low_trust(line, trust)


def mi_line(mi: pd.DataFrame, sel: Selection | None, source: str) -> Headline:
    label, desc = SOURCE_TEXT[source]
    name = f"mutual information, bits ({label})"
    t = mi[(mi["source"] == source) & (mi["control"] == "concept")] if len(mi) else mi
    if len(t) == 0:
        what = "logits" if source == "logits" else "generation"
        return not_run(
            5,
            name,
            f"the run has no concept-injection {what} trials with a reported-concept label.",
            "Not available",
        )
    row = None
    note = ""
    if sel is not None:
        cell = t[~t["pooled_strengths"].astype(bool)]
        row = row_at(cell, sel.layer, sel.strength)
        if row is not None:
            note = " (the configuration selected above)"
        else:
            pooled = t[t["pooled_strengths"].astype(bool)]
            row = row_at(pooled, sel.layer, None)
            if row is not None:
                note = (
                    " (the layer selected above, strengths pooled: too few trials per concept "
                    "in the single cell)"
                )
    if row is None:
        row, k = best_row(t, "mi_bits")
        if row is None:
            return not_run(5, name, "no labelled trials.")
        note = f" (selected after the fact as the largest of {k} rows)"
    cfg = (
        f"layer {clean(row['layer'])}, strengths pooled"
        if bool(row["pooled_strengths"])
        else cfg_text(row["layer"], row["strength"])
    )
    p = to_float(row["p_value"])
    informative = not math.isnan(p) and p < 0.05 and excludes_zero(row["mi_bits_ci_low"])
    bits = to_float(row["mi_bits"])
    verdict = (
        f"the report carries {bits:.2f} bits about the injected direction at layer "
        f"{clean(row['layer'])}."
        if informative
        else "not above the shuffled-label baseline, so no detectable information about "
        "which concept was injected."
    )
    none_text = (
        f" {pct(row['none_fraction'])} of answers name no concept (label '<none>')."
        if source == "text"
        else ""
    )
    line = headline_from_row(
        name,
        row,
        "mi_bits",
        f"At {cfg}{note}, MI between the injected concept and {desc} is "
        f"{ci_or_none(row['mi_bits'], row['mi_bits_ci_low'], row['mi_bits_ci_high'], signed=False)} bits "
        f"(Miller-Madow; ceiling log2({int(to_float(row['n_concepts']))}) = {to_float(row['max_bits']):.2f}; "
        f"plug-in {to_float(row['plugin_bits']):.2f} vs shuffled labels {to_float(row['shuffled_mean_bits']):.2f}, "
        f"permutation p = {p:.3f}): " + verdict + none_text,
        kind="bits",
        config=cfg,
        step=5,
    )
    # the text label is the concept the rules find named in the answer
    trust = low_trust_note("detection", ("correct_concept",)) if source == "text" else ""
    return low_trust(line, trust)
