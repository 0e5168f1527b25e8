"""Category-threshold headline rows (per category, and the regression on the connection
measures) and scorecard step 9 (the per-category EC50s at the layer selected in step 2).

When step 2's configuration was chosen on half the concepts, step 9 refits each category's
curve at its layer on the other concepts only (the selection's split: a concept the layer was
chosen on would carry the winner's curse into the EC50); when it was declared in the spec,
every concept is read, and the sentence says which."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pandas as pd

from introscope.experiments.base import ScoreInputs, Selection
from introscope.experiments.category_thresholds.analysis import (
    category_label,
    category_threshold_table,
)
from introscope.experiments.selection import reused_note
from introscope.headlines import Headline, ci_sign, not_run
from introscope.stats.dose import MIN_CLUSTERS, MIN_LEVELS
from introscope.tables import NAN, Tables, to_float

STEP = 9
STEP_TITLE = "category thresholds"
#: Scorecard lines of step 9 at most (one per category).
STEP_LINES = 6


# --------------------------------------------------------------------------- headlines


def signed3(x: Any) -> str:
    v = to_float(x)
    return "nan" if v != v else f"{v:+.3f}"


def interval3(est: Any, low: Any, high: Any) -> str:
    """``+0.123 [-0.045, +0.291]`` (three decimals: P(yes) differences and coefficients)."""
    return f"{signed3(est)} [{signed3(low)}, {signed3(high)}]"


def strength3(x: Any) -> str:
    v = to_float(x)
    return "nan" if v != v else f"{v:.3g}"


def ec50_headline(r: Mapping[str, Any], where: str = "") -> Headline:
    """The headline of one :func:`category_threshold_table` row: the EC50 of the category's
    dose-response. It is undetermined when there is no interval, or when the fitted
    plateau's CI does not exclude 0 (without an effect there is no half-maximal strength):
    then the line carries no number (``available`` False, n 0, "Not available: ..." with the
    concept count in the sentence), never a verdict. ``where``: a parenthetical after the
    layer (how step 9's layer was chosen and the concepts it is estimated on)."""
    cat, layer = category_label(r["category"]), int(r["layer"])
    n = int(to_float(r["ec50_n"])) if to_float(r["ec50_n"]) == to_float(r["ec50_n"]) else 0
    emax = interval3(r["emax"], r["emax_ci_low"], r["emax_ci_high"])
    tested = f"strengths {strength3(r['strength_min'])}-{strength3(r['strength_max'])}"
    name = f"ec50/{r['category']}/L{layer}"
    undetermined = None
    if to_float(r["emax_ci_low"]) != to_float(r["emax_ci_low"]):
        undetermined = (
            f"Not available: at layer {layer}{where}, the dose-response of {cat} is "
            "undetermined: an "
            f"interval needs at least {MIN_CLUSTERS} concepts and {MIN_LEVELS} strengths "
            f"(n={n} concepts, {tested}), so neither its plateau nor its EC50 is read."
        )
    elif ci_sign(r["emax_ci_low"], r["emax_ci_high"]) == 0:
        undetermined = (
            f"Not available: at layer {layer}{where}, the concept-minus-random P(yes) "
            "difference of "
            f"{cat} shows no plateau distinguishable from 0 over {tested} ({emax}), so its "
            f"EC50 is undetermined (n={n} concepts)."
        )
    if undetermined is not None:
        return Headline(
            name, NAN, NAN, NAN, 0, undetermined, unit="concepts", kind="strength", available=False
        )
    ec50 = f"{strength3(r['ec50'])} [{strength3(r['ec50_ci_low'])}, {strength3(r['ec50_ci_high'])}]"
    rel = ""
    if to_float(r["relative_ec50"]) == to_float(r["relative_ec50"]):
        rel = (
            f" (|s·v|/|h| = {to_float(r['relative_ec50']):.2f} "
            f"[{to_float(r['relative_ec50_ci_low']):.2f}, "
            f"{to_float(r['relative_ec50_ci_high']):.2f}] of the residual norm)"
        )
    outside = to_float(r["ec50_ci_low"]) < to_float(r["strength_min"]) or to_float(
        r["ec50_ci_high"]
    ) > to_float(r["strength_max"])
    extrapolated = (
        "; the interval reaches beyond the tested strengths, so it rests on extrapolation"
        if outside
        else ""
    )
    sentence = (
        f"At layer {layer}{where}, the concept-minus-random P(yes) difference of {cat} reaches "
        "half "
        f"of its fitted plateau ({emax}) at strength {ec50}{rel}: a logistic in log2 "
        f"strength fitted over {tested}, intervals resampling concepts (n={n} "
        f"concepts){extrapolated}."
    )
    return Headline(
        name,
        to_float(r["ec50"]),
        to_float(r["ec50_ci_low"]),
        to_float(r["ec50_ci_high"]),
        n,
        sentence,
        unit="concepts",
        kind="strength",
        null=NAN,
    )


def coefficient_headline(name: str, c: Mapping[str, Any], sentence: str) -> Headline:
    """The headline of one :func:`threshold_regression` coefficient row."""
    return Headline(
        name,
        to_float(c["estimate"]),
        to_float(c["ci_low"]),
        to_float(c["ci_high"]),
        int(c["n"]),
        sentence,
        unit="concepts",
        kind="coefficient",
    )


CONNECTION_TERMS = (
    ("word_logprob", "per nat of the concept word's log-probability in the trial context"),
    ("cosine", "per unit cosine between the concept vector and the prompt's activation"),
)


def headlines(t: Tables, _upstream: Mapping[str, Tables]) -> list[Headline]:
    """One row per category x layer (the EC50 of its dose-response), then, per layer, the
    connection measures' coefficients on the mean effect over strengths (``connection``
    model) and the category coefficients with and without the connection measures."""
    out = [ec50_headline(r) for r in t["category_thresholds"].to_dict("records")]
    reg = t["regression"]
    if len(reg) == 0:
        return out
    mean = reg[reg["outcome"] == "mean_effect"]
    for layer, g in mean.groupby("layer"):
        for term, what in CONNECTION_TERMS:
            row = g[(g["model"] == "connection") & (g["term"] == term)]
            if len(row) == 0:
                continue
            c = row.iloc[0]
            out.append(
                coefficient_headline(
                    f"connection/{term}/L{int(layer)}",
                    c,
                    f"At layer {int(layer)}, the concept-minus-random P(yes) difference "
                    f"(mean over strengths) changes by "
                    f"{interval3(c['estimate'], c['ci_low'], c['ci_high'])} {what} "
                    f"(OLS with both connection measures, n={int(c['n'])} concepts).",
                )
            )
        for term in sorted({t for t in g["term"] if str(t).startswith("category[")}):
            alone = g[(g["model"] == "category") & (g["term"] == term)]
            both = g[(g["model"] == "connection+category") & (g["term"] == term)]
            if len(alone) == 0:
                continue
            a = alone.iloc[0]
            name = term[len("category[") : -1]
            ref = category_label(str(a["reference"]))
            adj = ""
            if len(both):
                b = both.iloc[0]
                adj = (
                    f"; {interval3(b['estimate'], b['ci_low'], b['ci_high'])} after adjusting "
                    "for the connection measures"
                )
            out.append(
                coefficient_headline(
                    f"category/{name}/L{int(layer)}",
                    a,
                    f"At layer {int(layer)}, the concept-minus-random P(yes) difference "
                    f"(mean over strengths) of {category_label(name)} differs from {ref} by "
                    f"{interval3(a['estimate'], a['ci_low'], a['ci_high'])}{adj}.",
                )
            )
    return out


# --------------------------------------------------------------------------- scorecard


def step_layer(table: pd.DataFrame, sel: Selection | None) -> tuple[int, str]:
    """The layer whose thresholds step 9 shows: the layer selected earlier in the scorecard
    when the threshold grid has it, else the grid's first layer (and the config text that
    says which)."""
    layers = [int(x) for x in dict.fromkeys(table["layer"])]
    if sel is None or sel.layer is None:
        return layers[
            0
        ], f"layer {layers[0]} (no layer was selected above; first layer of the grid)"
    if sel.layer in layers:
        return int(sel.layer), f"layer {sel.layer} (the layer selected above)"
    return layers[0], (
        f"layer {layers[0]} (the layer selected above is not in the threshold grid; first "
        "layer of that grid)"
    )


def step_rows(
    t: Tables, layer: int, sel: Selection | None
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The ``category_thresholds`` rows step 9 reads at ``layer`` and, per category, the
    parenthetical its sentence puts after the layer. At the layer of a configuration chosen
    on half the concepts, each category's curve is refitted on the concepts it was not
    chosen on; at a declared (or otherwise data-free) one, the table's rows (every
    concept) are read; at a layer that was not selected, nothing is added."""
    table = t["category_thresholds"]
    rows = table[table["layer"] == layer].to_dict("records")
    if sel is None or sel.layer is None or int(sel.layer) != layer:
        return rows, {}
    effects = t["concept_effects"]
    at = effects[effects["layer"] == layer]
    held = sel.how == "held out" and bool(sel.chosen_on)
    if held:
        at = at[~at["concept"].astype(str).isin(set(sel.chosen_on))]
        resid = t.get("residual_norms", pd.DataFrame(columns=["layer", "resid_norm"]))
        norms = {int(a): float(b) for a, b in zip(resid["layer"], resid["resid_norm"], strict=True)}
        rows = category_threshold_table(at, norms).to_dict("records")
    notes = {}
    for cat, g in at.groupby("category", sort=False):
        note = reused_note(sel.how, int(g["concept"].nunique()), sel.k)
        notes[str(cat)] = " (the layer of the" + note[len(" (the") :]
    return rows, notes


def scorecard(s: ScoreInputs) -> list[Headline]:
    """Step 9: the per-category EC50s at one layer (:func:`step_layer`), on the concepts
    the selection was not made on (:func:`step_rows`)."""
    table = s.tables["category_thresholds"]
    if len(table) == 0:
        return [not_run(STEP, STEP_TITLE, "the run has no category-threshold trials.")]
    layer, config = step_layer(table, s.selection)
    rows, notes = step_rows(s.tables, layer, s.selection)
    return [
        replace(ec50_headline(r, notes.get(str(r["category"]), "")), step=STEP, config=config)
        for r in rows[:STEP_LINES]
    ]
