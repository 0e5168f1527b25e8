"""The prefill report section: the table and its figure."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from introscope.experiments.selection import selection_paragraph
from introscope.render.html import Section, img, table_block
from introscope.render.tables import format_table
from introscope.tables import Tables


def sections(t: Tables, figs: Mapping[str, Path]) -> list[Section]:
    pre = t["prefill"]
    if len(pre) == 0:
        return []
    return [
        Section(
            "Prefill / retroactive intention",
            "prefill",
            "Apology rate for a prefilled word, with no injection, with the prefilled word's "
            "vector injected before it (match), or another word's vector (other); differences "
            "against no injection with Newcombe CIs over trials, and paired by prefilled word "
            "(each word's rate minus its own no-injection rate, t interval over words).",
            selection_paragraph(t["selection"], "The headline contrasts are")
            + table_block(format_table(pre), "Prefill by condition")
            + img(figs.get("prefill"), "prefill"),
        )
    ]
