"""The thoughts-vs-text report section: the table and its figure."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from introscope.experiments.selection import selection_paragraph
from introscope.render.html import Section, img, table_block
from introscope.render.tables import format_table
from introscope.tables import Tables


def sections(t: Tables, figs: Mapping[str, Path]) -> list[Section]:
    tvt = t["thoughts_vs_text"]
    if len(tvt) == 0:
        return []
    return [
        Section(
            "Thoughts vs. text",
            "thoughts-vs-text",
            "Identification of the word injected on an unrelated sentence (pick among "
            "candidates; chance = 1/n_candidates) and exact transcription of that sentence.",
            selection_paragraph(t["selection"], "The headline identification is")
            + table_block(format_table(tvt), "Thoughts vs. text by configuration")
            + img(figs.get("thoughts_vs_text"), "thoughts vs text"),
        )
    ]
