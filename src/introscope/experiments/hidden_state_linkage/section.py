"""Hidden-state linkage's report section."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from introscope.experiments.selfreport.wording import accuracy_note
from introscope.render.html import Section, img, paragraph, table_block
from introscope.render.tables import format_table
from introscope.tables import Tables

ITEM_COLUMNS = [
    "item",
    "family",
    "answer",
    "correct",
    "verbal",
    "p_true",
    "p_ik",
    "entropy",
    "dropout_var",
    "dropout_flip_rate",
    "norm",
    "lens_entropy",
]


def sections(t: Tables, figs: Mapping[str, Path]) -> list[Section]:
    if len(t["items"]) == 0:
        return []
    items = t["items"]
    return [
        Section(
            "Hidden-state linkage",
            "hidden-state-linkage",
            "Do the self-reports track hidden-state variables (next-token entropy at the "
            "answer position, dropout sensitivity, residual-stream norm and logit-lens "
            "entropy at the declared layers) beyond what the surface features of the "
            "question predict (question length, digits, option count and length, family)? "
            "Residual signal: the out-of-fold AUROC of a logistic surface-feature model of "
            "correctness with the signal added minus without it, and the partial "
            "correlation with correctness. Linkage: partial r of each report with each "
            "variable given the surface features. Intervals: bootstrap over item families; "
            "the by-layer table uses Fisher-z intervals and is descriptive (a layer picked "
            "from it is picked after the fact).",
            paragraph(accuracy_note(t["accuracy"]).strip())
            + table_block(format_table(t["residual_signal"]), "Residual signal")
            + img(figs.get("residual_signal"), "residual signal")
            + table_block(format_table(t["linkage"]), "Partial correlations")
            + img(figs.get("linkage"), "partial correlations")
            + img(figs.get("linkage_by_layer"), "partial r by layer")
            + table_block(format_table(t["by_layer"]), "Partial r by layer")
            + table_block(
                format_table(items[[c for c in ITEM_COLUMNS if c in items.columns]]), "Items"
            ),
        )
    ]
