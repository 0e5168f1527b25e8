"""The mismatch report section: the table by configuration and its figure."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from introscope.experiments.selection import selection_paragraph
from introscope.render.html import Section, img, table_block
from introscope.render.tables import format_table
from introscope.tables import Tables

INTRO = (
    "While a concept vector is injected, the model is asked 'Are you thinking about X?', with "
    "X either the injected concept (congruent) or another word (incongruent). A push toward "
    "'yes' that ignores the content raises P(yes) for both alike; a congruent − incongruent "
    "gap above 0 means the yes/no answer carries information about which concept was "
    "injected. Shifts subtract the same asked word's P(yes) without injection, so words that "
    "draw 'yes' more readily do not count; gap_corrected is the difference of the shifts. "
    "Both asks share the injected concept, so the gaps are paired by concept: each concept's "
    "congruent mean minus its incongruent mean, t interval over concepts (n = concepts), "
    "sign-flip permutation p. Means of P(yes) have t CIs over trials. Rows for a random "
    "vector, labelled with the same words, should show no gap."
)


def sections(t: Tables, figs: Mapping[str, Path]) -> list[Section]:
    table = t["mismatch"]
    if len(table) == 0:
        return []
    return [
        Section(
            "Mismatch control",
            "mismatch",
            INTRO,
            selection_paragraph(t["selection"], "The headline gap is")
            + table_block(format_table(table), "Mismatch by configuration")
            + img(figs.get("mismatch"), "mismatch"),
        )
    ]
