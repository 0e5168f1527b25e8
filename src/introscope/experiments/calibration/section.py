"""Calibration's report section."""

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
    "conf_option",
    "sampled_answer",
    "sampled_correct",
    "p_true",
    "verbal",
    "p_ik",
    "entropy",
]


def sections(t: Tables, figs: Mapping[str, Path]) -> list[Section]:
    if len(t["calibration"]) == 0 and len(t["accuracy"]) == 0:
        return []
    items = t["items"]
    shown = items[[c for c in ITEM_COLUMNS if c in items.columns]] if len(items) else items
    return [
        Section(
            "Calibration of self-reports",
            "calibration",
            "Per item: the greedy answer and its correctness; the option-logprob confidence; "
            "P(True) on an answer sampled with the trial's seed (graded against that sample); "
            "a verbal 0-100 confidence after the answer; P(I know) asked before answering. "
            "AUROC for correctness (0.5 = no information), ECE with 10 fixed and 10 "
            "adaptive bins, Brier and AURC (area under the risk-coverage curve), each with a "
            "95% bootstrap interval over item families.",
            paragraph(accuracy_note(t["accuracy"]).strip())
            + table_block(format_table(t["accuracy"]), "Accuracy per family")
            + img(figs.get("calibration_accuracy"), "accuracy per family")
            + table_block(format_table(t["calibration"]), "Calibration per self-report")
            + img(figs.get("calibration_auroc"), "AUROC per self-report")
            + img(figs.get("reliability"), "reliability diagrams")
            + table_block(format_table(shown), "Items"),
        )
    ]
