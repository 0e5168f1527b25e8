"""Intentional control's report section: the by-layer table and its three figures."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from introscope.experiments.selection import selection_paragraph
from introscope.render.html import Section, img, table_block
from introscope.render.tables import format_table
from introscope.tables import Tables


def sections(t: Tables, figs: Mapping[str, Path]) -> list[Section]:
    if len(t["intentional_control"]) == 0:
        return []
    return [
        Section(
            "Intentional control",
            "intentional-control",
            "Cosine between the mean sentence-token activation and the word's concept vector "
            "(cos), the mean cosine with other words' vectors (baseline), their per-trial "
            "difference (delta, t CI over trials), and contrasts between instructions, paired "
            "by word (each word's mean delta under one instruction minus under the other, t "
            "interval over words: every word is given under every instruction). The "
            "figures show cos with its baseline by layer; delta by layer for think / don't "
            "think / silent task / mention; and delta by sentence token and layer.",
            selection_paragraph(t["selection"], "The headline contrast is")
            + table_block(format_table(t["intentional_control"]), "Intentional control by layer")
            + img(figs.get("intentional_control"), "intentional control")
            + img(figs.get("instruction_cosines"), "instruction cosines")
            + img(figs.get("intentional_control_tokens"), "intentional control tokens"),
        )
    ]
