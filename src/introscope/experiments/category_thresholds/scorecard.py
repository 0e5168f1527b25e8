"""Category-threshold headline rows (per category, and the regression on the connection
measures) and scorecard step 9 (the per-category thresholds at the layer selected in step
2)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pandas as pd

from introscope.experiments.base import ScoreInputs, Selection
from introscope.experiments.category_thresholds.analysis import category_label
from introscope.headlines import Headline, headline_from_row, not_run
from introscope.tables import Tables, number, to_float

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


def threshold_headline(r: Mapping[str, Any]) -> Headline:
    """The headline of one :func:`category_threshold_table` row: the difference at the
    threshold (or at the highest strength when none passes)."""
    cat, layer, thr = category_label(r["category"]), int(r["layer"]), number(r["threshold"])
    ci = interval3(r["diff"], r["diff_ci_low"], r["diff_ci_high"])
    if thr is not None:
        sentence = (
            f"At layer {layer}, {cat} need strength ≥ {thr:g} before P(yes) to the "
            f"detection question under the concept vector exceeds a norm-matched random "
            f"vector (difference {ci}, n={int(r['diff_n'])} concepts)."
        )
    else:
        sentence = (
            f"At layer {layer}, P(yes) under the concept vectors of {cat} does not exceed "
            f"a norm-matched random vector at any strength up to "
            f"{float(r['strength_shown']):g} (difference there {ci}, n={int(r['diff_n'])} "
            "concepts)."
        )
    return headline_from_row(
        f"threshold/{r['category']}/L{layer}", r, "diff", sentence, unit="concepts"
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
    """One row per category x layer (the threshold; estimate = the difference at the
    threshold, or at the highest strength when none passes), then, per layer, the
    connection measures' coefficients on the mean effect over strengths (``connection``
    model) and the category coefficients with and without the connection measures."""
    out = [threshold_headline(r) for r in t["category_thresholds"].to_dict("records")]
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


def scorecard(s: ScoreInputs) -> list[Headline]:
    """Step 9: the per-category thresholds at one layer (:func:`step_layer`)."""
    table = s.tables["category_thresholds"]
    if len(table) == 0:
        return [not_run(STEP, STEP_TITLE, "the run has no category-threshold trials.")]
    layer, config = step_layer(table, s.selection)
    rows = table[table["layer"] == layer].to_dict("records")
    return [replace(threshold_headline(r), step=STEP, config=config) for r in rows[:STEP_LINES]]
