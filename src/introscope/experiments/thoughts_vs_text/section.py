"""The thoughts-vs-text report section: identification against the no-injection control,
the table by configuration and its figure."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from introscope.experiments.selection import selection_paragraph
from introscope.render.html import Section, img, paragraph, table_block
from introscope.render.tables import format_table
from introscope.tables import Tables

VS_CONTROL = (
    "identification_vs_control: per concept, the rate at which the injected word is the "
    "top-scoring candidate under injection minus the same rate on its no-injection trials "
    "(same sentences, same candidates); mean over concepts with a t CI (n = concepts), "
    "pooled over every configuration run. Candidates are ranked by summed log-probability; "
    "the per_token columns rank them by mean log-probability per token instead."
)


def sections(t: Tables, figs: Mapping[str, Path]) -> list[Section]:
    tvt = t["thoughts_vs_text"]
    if len(tvt) == 0:
        return []
    vc = t["vs_control"]
    body = ""
    if len(vc):
        body += paragraph(VS_CONTROL) + table_block(
            format_table(vc), "Identification vs the no-injection control"
        )
    return [
        Section(
            "Thoughts vs. text",
            "thoughts-vs-text",
            "Identification of the word injected on an unrelated sentence (the top-scoring "
            "of the candidates, compared with the same concept's no-injection trials) and "
            "exact transcription of that sentence.",
            body
            + selection_paragraph(
                t["selection"], "The identification at the selected configuration is"
            )
            + table_block(format_table(tvt), "Thoughts vs. text by configuration")
            + img(figs.get("thoughts_vs_text"), "thoughts vs text"),
        )
    ]
