"""The category-thresholds report section: the dose-response (EC50) per category and layer,
the difference at every strength, the regression on the connection measures and the
figure."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from introscope.render.html import Section, esc, heading, html_table, img, paragraph, table_block
from introscope.render.tables import format_table
from introscope.tables import Tables

INTRO = (
    "Concept vectors from several categories (abstract nouns, concrete nouns, famous "
    "people, countries, verbs) are injected at increasing strengths, and each concept "
    "is paired with a norm-matched random vector at the same strength. Per concept, the "
    "difference in P(yes) to the detection question (concept minus random) says how far "
    "the report carries information about the concept vector over a content-free "
    "perturbation of the same size. Per category and layer, a logistic in log2(strength) "
    "with its bottom at 0 (at strength 0 both vectors vanish) is fitted to every concept's "
    "differences: emax is its plateau, ec50 the strength at half of it, hill its slope per "
    "doubling; 95% intervals resample the category's concepts (n = concepts). "
    "ec50_in_range is false when the EC50 lies outside the tested strengths (an "
    "extrapolation). relative_ec50 and relative_strength express strength as |s·v|/|h|, the "
    "injection's norm over the residual stream's norm at that layer (measured on the trial "
    "prompt without injection), so they compare across layers and models. The regression "
    "asks whether concepts more connected to the "
    "context (the word's log-probability there, the cosine between its vector and the "
    "prompt's activation) need less strength, and whether category differences remain "
    "after adjusting for these measures."
)

REGRESSION_NOTE = (
    "OLS per layer, one row per coefficient (classical 95% CI; n = concepts): outcome "
    "mean_effect = the concept − random difference averaged over strengths; log2_threshold = "
    "log2 of the concept's own threshold (concepts that never pass are set to twice the "
    "largest strength); category terms are relative to the reference category. Per-strength "
    "models are left out."
)


def regression_view(reg: pd.DataFrame) -> pd.DataFrame:
    """The regression without per-strength models and intercepts, its coefficient columns
    named as a ``coef`` family so they format as estimate [CI] (n)."""
    r = reg[(reg["outcome"] != "effect") & (reg["term"] != "intercept")]
    r = r.rename(
        columns={
            "estimate": "coef",
            "ci_low": "coef_ci_low",
            "ci_high": "coef_ci_high",
            "n": "coef_n",
        }
    )
    return r.drop(columns=["se", "strength"]).reset_index(drop=True)


def sections(t: Tables, figs: Mapping[str, Path]) -> list[Section]:
    table = t["thresholds"]
    if len(table) == 0:
        return []
    body = ""
    if len(t["category_thresholds"]):
        body += heading("Dose-response per category and layer") + html_table(
            format_table(t["category_thresholds"])
        )
    body += (
        f"<details><summary>{esc('Concept − random P(yes) difference at every strength')}"
        f"</summary>{html_table(format_table(table))}</details>"
    )
    reg = regression_view(t["regression"])
    if len(reg):
        body += (
            heading("Regression on the connection measures and category")
            + paragraph(REGRESSION_NOTE)
            + table_block(format_table(reg), "Coefficients")
        )
    body += img(figs.get("category_thresholds"), "category thresholds")
    return [Section("Category thresholds", "category-thresholds", INTRO, body)]
