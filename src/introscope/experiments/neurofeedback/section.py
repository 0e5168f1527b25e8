"""Neurofeedback's report section."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from introscope.experiments.neurofeedback.analysis import control_sentence
from introscope.render.html import Section, img, paragraph, table_block
from introscope.render.tables import format_table
from introscope.tables import Tables


def sections(t: Tables, figs: Mapping[str, Path]) -> list[Section]:
    if len(t["report"]) == 0 and len(t["control"]) == 0:
        return []
    notes = "".join(paragraph(control_sentence(r)) for _, r in t["control"].iterrows())
    return [
        Section(
            "Neurofeedback: reporting and controlling an activation axis",
            "neurofeedback",
            "Sentences are labelled A or B by the median of their score on an axis: mean "
            "residual-stream activation over the sentence projected on a logistic-regression "
            "axis (indoor/outdoor tag), a principal component or a random direction; the "
            "norm of that activation; the next-token entropy after the sentence; or its "
            "length in tokens (a surface feature). Given N labelled examples, does the model "
            "report the label of a new sentence (chance 50%), better than on the random axis "
            "and better than on the length axis? Control: does a sentence the model writes "
            "for a target label, or a given sentence read with a target in mind, move along "
            "the axis? Wilson and t intervals over query sentences.",
            table_block(format_table(t["report"]), "Report accuracy")
            + img(figs.get("neurofeedback_report"), "report accuracy against examples")
            + table_block(format_table(t["control"]), "Control")
            + notes
            + img(figs.get("neurofeedback_control"), "control shifts")
            + table_block(format_table(t["axes"]), "Axes")
            + table_block(t["written"], "Sentences written for a target label"),
        )
    ]
