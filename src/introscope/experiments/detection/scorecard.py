"""Detection's scorecard steps: 1 (raw detection), 2 (net of no-injection false positives),
4 (the concept vector against each control vector at the same configuration, paired by
concept, with the control's KL from the steering check) and 5 (identification above chance
and mutual information); the wording (step 2) and leakage (step 5) lines come from
:mod:`.wordings` and :mod:`.leakage`.

The configuration every step reads (and later steps reuse, :func:`select`) is the one the
spec declares, or the one with the largest net detection claim (text; logits-only runs: the
largest P(yes) shift) on half the concepts; every estimate is then made on the other half
(:mod:`introscope.experiments.detection.held_out`), as a mean over concepts with a t
interval over concepts. Each sentence says which protocol chose the configuration, and an
interval that cannot be computed reads "undetermined", never a verdict.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd

from introscope.experiments.base import ScoreInputs, Selection
from introscope.experiments.detection.analysis import concept_ci, held_row
from introscope.experiments.detection.leakage import leakage_lines
from introscope.experiments.detection.wordings import wording_lines
from introscope.experiments.selection import concept_list
from introscope.experiments.steering_check.scorecard import kl_clause
from introscope.grading.validation import low_trust_note
from introscope.headlines import (
    Headline,
    cfg_text,
    ci_or_none,
    headline_from_row,
    low_trust,
    not_run,
    pct,
    undetermined,
    verdict,
)
from introscope.tables import Tables, clean, to_float


def select(t: Tables) -> Selection | None:
    """The scorecard's configuration (the ``selection`` table's row), None without one."""
    sel = t["selection"]
    if len(sel) == 0:
        return None
    r = sel.iloc[0]
    return Selection(
        clean(r["layer"]),
        clean(r["strength"]),
        str(r["source"]),
        int(r["k"]),
        str(r["how"]),
        str(r["note"]),
        concept_list(r["chosen_on"]),
        concept_list(r["estimated_on"]),
    )


RAW_TEXT = "detection claim rate (concept injection)"
NET_TEXT = "net detection claim (minus no-injection false positives)"


def scorecard(s: ScoreInputs) -> list[Headline]:
    """Steps 1 (raw detection), 2 (net of false positives), 4 (concept against random /
    negated vectors) and 5 (identification and mutual information)."""
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
    raw, net = held_row(t, sel.source, "raw"), held_row(t, sel.source, "net")
    assert raw is not None and net is not None
    cfg = cfg_text(raw["layer"], raw["strength"])
    n = int(raw["value_n"])
    if sel.source == "text":
        named = held_row(t, "text", "identification")
        raw_line = headline_from_row(
            RAW_TEXT,
            raw,
            "value",
            f"At {cfg}{sel.note}, the answer is coherent and affirmative about an injected "
            f"thought in {pct(raw['value'])} of concept-injection trials (rules grader; "
            f"per-concept rates averaged over {n} concepts, "
            f"{concept_ci(raw, signed=False)}); it names the injected concept in "
            f"{'n/a' if named is None else pct(named['value'])}.",
            unit="concepts",
            kind="rate",
            config=cfg,
            step=1,
        )
        net_line = headline_from_row(
            NET_TEXT,
            net,
            "value",
            "Minus the no-injection false-positive rate "
            f"(n={int(net['value_n_ref'])} trials), the claim rate is {concept_ci(net)} "
            f"(Welch, n={int(net['value_n'])} concepts): "
            + verdict(
                net["value_ci_low"],
                net["value_ci_high"],
                "the affirmative report depends on whether a vector was injected here",
                "not distinguishable from the false-positive rate",
                "the report claims a detection less often under injection than without",
            )
            + ".",
            unit="concepts",
            kind="rate_difference",
            config=cfg,
            step=2,
        )
        claims = low_trust_note("detection", ("claims_detection",))
        named_note = low_trust_note("detection", ("claims_detection", "correct_concept"))
        return [low_trust(raw_line, named_note), low_trust(net_line, claims)]
    raw_line = headline_from_row(
        "P(yes) to the detection question (concept injection)",
        raw,
        "value",
        f"At {cfg}{sel.note}, the mean normalised P(yes) to 'do you detect an injected "
        f"thought?' is {concept_ci(raw, signed=False)} over {n} concepts (no generated "
        "answers in this run: logits readout).",
        unit="concepts",
        kind="probability",
        config=cfg,
        step=1,
        null=math.nan,
    )
    net_line = headline_from_row(
        "P(yes) shift (minus no-injection trials)",
        net,
        "value",
        "Minus the mean P(yes) of no-injection trials "
        f"(n={int(net['value_n_ref'])}; a deterministic readout, so a constant when they "
        f"agree), the shift is {concept_ci(net)} (n={int(net['value_n'])} concepts): "
        + verdict(
            net["value_ci_low"],
            net["value_ci_high"],
            "P(yes) depends on whether a vector was injected here",
            "not distinguishable from no injection",
            "injection lowers P(yes) here",
        )
        + ".",
        unit="concepts",
        kind="shift",
        config=cfg,
        step=2,
    )
    return [raw_line, net_line]


CONTROL_NAMES = {
    "random": (
        "concept - random vector (paired by concept)",
        "a norm-matched random vector",
        "random-vector",
    ),
    "negated": (
        "concept - negated vector (paired by concept)",
        "the negated concept vector",
        "negated-vector",
    ),
    "other": (
        "concept - other-concept vector (paired by concept)",
        "another concept's vector rescaled to this concept's norm",
        "other-concept-vector",
    ),
    "matched_random": (
        "concept - matched-random vector (paired by concept)",
        "a covariance-matched random vector (two baseline words' activation difference, "
        "norm-matched)",
        "matched-random-vector",
    ),
}


def _control_lines(t: Tables, sel: Selection | None, kl: pd.DataFrame | None) -> list[Headline]:
    out = []
    if sel is None:
        for control, (name, _, _) in CONTROL_NAMES.items():
            out.append(not_run(4, name, f"no detection configuration to test {control} at."))
        return out
    what = "claim rate" if sel.source == "text" else "P(yes)"
    # Text lines count rules grades: say so when the grader is below its agreement target.
    note = low_trust_note("detection", ("claims_detection",)) if sel.source == "text" else ""
    for control, (name, desc, label) in CONTROL_NAMES.items():
        row = held_row(t, sel.source, f"concept_minus_{control}")
        own = held_row(t, sel.source, f"{control}_net")
        if row is None or int(row["value_n"]) == 0:
            out.append(
                replace(
                    not_run(
                        4,
                        name,
                        f"no {label} trials at the selected configuration.",
                    ),
                    config=cfg_text(sel.layer, sel.strength),
                )
            )
            continue
        cfg = cfg_text(row["layer"], row["strength"])
        own_text = "" if own is None else f" ({desc} alone: {concept_ci(own)} over no injection)"
        out.append(
            low_trust(
                headline_from_row(
                    name,
                    row,
                    "value",
                    f"At the same configuration ({cfg}) and concepts, the detection {what} "
                    f"under each concept's own vector minus under {desc}{own_text}, averaged "
                    f"over {int(row['value_n'])} concepts, is {concept_ci(row)}: "
                    + verdict(
                        row["value_ci_low"],
                        row["value_ci_high"],
                        "the report depends on which direction was injected, not only on a "
                        "perturbation of that size",
                        "no evidence that the report depends on the injected content rather "
                        "than on a perturbation of that size",
                        f"{desc} moves the report more than the concept's own vector",
                    )
                    + "."
                    + kl_clause(kl, row["layer"], row["strength"], control),
                    unit="concepts",
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
    """Identification above chance and MI, from the candidate readout and from the text, at
    the scorecard's configuration (its layer, for MI) on the held-out concepts."""
    return [
        identification_line(t, sel, "logits"),
        identification_line(t, sel, "text"),
        mi_line(t["held_out_mi"], sel, "logits"),
        mi_line(t["held_out_mi"], sel, "text"),
    ]


def no_trials(source: str) -> str:
    return f"the run has no {'logits' if source == 'logits' else 'generation'} detection trials."


def identification_line(t: Tables, sel: Selection | None, source: str) -> Headline:
    label, desc = SOURCE_TEXT[source]
    name = f"identification above chance ({label})"
    ident = t["identification"]
    if len(ident) == 0 or source not in set(ident["source"]):
        return not_run(5, name, no_trials(source))
    row = held_row(t, source, "identification_vs_chance")
    if sel is None or row is None or int(row["value_n"]) == 0:
        return not_run(5, name, "no concept-injection trials with an identification grade.")
    cfg = cfg_text(row["layer"], row["strength"])
    among = "affirmative trials" if source == "text" else "trials"
    chance = to_float(row["chance"])
    rate = to_float(row["value"]) + chance
    trust = (
        low_trust_note("detection", ("affirmative", "correct_concept")) if source == "text" else ""
    )
    line = headline_from_row(
        name,
        row,
        "value",
        f"At {cfg}{row['note']}, {desc} is the injected concept in {pct(rate)} of {among} "
        f"(per-concept rates averaged over {int(row['value_n'])} concepts) against chance "
        f"{chance:.3f}; above chance by {concept_ci(row)}: "
        + verdict(
            row["value_ci_low"],
            row["value_ci_high"],
            "the report carries information about which concept was injected",
            "not distinguishable from chance",
        )
        + ".",
        unit="concepts",
        kind="rate_difference",
        config=cfg,
        step=5,
    )
    return low_trust(line, trust)


def mi_line(mi: pd.DataFrame, sel: Selection | None, source: str) -> Headline:
    label, desc = SOURCE_TEXT[source]
    name = f"mutual information, bits ({label})"
    t = mi[mi["source"] == source] if len(mi) else mi
    if sel is None or len(t) == 0:
        what = "logits" if source == "logits" else "generation"
        return not_run(
            5,
            name,
            f"the run has no concept-injection {what} trials with a reported-concept label.",
            "Not available",
        )
    cell = t[~t["pooled_strengths"].astype(bool)]
    first = t.iloc[0]
    row = cell.iloc[0] if len(cell) else first
    note = str(row["note"])
    if len(cell) and bool(first["pooled_strengths"]) and sel.strength is not None:
        exact = cell[cell["strength"].map(clean) == clean(sel.strength)]
        row = exact.iloc[0] if len(exact) else first
    if bool(row["pooled_strengths"]) and len(t) > 1:
        note += " (its layer, strengths pooled: too few trials per concept in the single cell)"
    cfg = (
        f"layer {clean(row['layer'])}, strengths pooled"
        if bool(row["pooled_strengths"])
        else cfg_text(row["layer"], row["strength"])
    )
    p = to_float(row["p_value"])
    bits = to_float(row["mi_bits"])
    if math.isnan(to_float(row["mi_bits_ci_low"])):
        reading = undetermined() + "."
    elif not math.isnan(p) and p < 0.05 and to_float(row["mi_bits_ci_low"]) > 0:
        reading = (
            f"the report carries {bits:.2f} bits about the injected direction at layer "
            f"{clean(row['layer'])}."
        )
    else:
        reading = (
            "not above the shuffled-label baseline, so no detectable information about "
            "which concept was injected."
        )
    none_text = (
        f" {pct(row['none_fraction'])} of answers name no concept (label '<none>')."
        if source == "text"
        else ""
    )
    n_concepts = int(to_float(row["n_concepts"]))
    line = headline_from_row(
        name,
        row,
        "mi_bits",
        f"At {cfg}{note}, MI between the injected concept and {desc} is "
        f"{ci_or_none(row['mi_bits'], row['mi_bits_ci_low'], row['mi_bits_ci_high'], signed=False, unit='concepts')} bits "
        f"(Miller-Madow, bootstrap over {n_concepts} concepts; ceiling log2({n_concepts}) = "
        f"{to_float(row['max_bits']):.2f}; plug-in {to_float(row['plugin_bits']):.2f} vs "
        f"shuffled labels {to_float(row['shuffled_mean_bits']):.2f}, permutation p = "
        f"{p:.3f}; {int(to_float(row['mi_bits_n']))} trials): " + reading + none_text,
        n=n_concepts,
        unit="concepts",
        kind="bits",
        config=cfg,
        step=5,
    )
    # the text label is the concept the rules find named in the answer
    trust = low_trust_note("detection", ("correct_concept",)) if source == "text" else ""
    return low_trust(line, trust)
