"""The prefill report section: the match - other contrast, the table against no injection,
and its figure."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from introscope.experiments.grader_trust import rules_validation_section
from introscope.experiments.selection import selection_paragraph
from introscope.render.html import Section, img, paragraph, table_block
from introscope.render.tables import format_table
from introscope.tables import Tables

MATCH_VS_OTHER = (
    "match_minus_other: per prefilled word, the apology rate among coherent answers after "
    "its own vector minus after another word's vector rescaled to the same norm, at the same "
    "configuration; mean over words with a t CI (n = words). The last row averages each "
    "word's differences over every configuration (none selected). apology_*: apology rates "
    "among coherent answers (Wilson); coherent_*: coherent rates over all trials."
)


def sections(t: Tables, figs: Mapping[str, Path]) -> list[Section]:
    pre = t["prefill"]
    if len(pre) == 0:
        return []
    mvo = t["match_vs_other"]
    body = ""
    if len(mvo):
        body += paragraph(MATCH_VS_OTHER) + table_block(
            format_table(mvo), "Match - other, coherent answers"
        )
    out = [
        Section(
            "Prefill / retroactive intention",
            "prefill",
            "Apology rate for a prefilled word, with no injection, with the prefilled word's "
            "vector injected before it (match), or another word's vector of the same norm "
            "(other). The contrast that isolates content is match - other at the same "
            "configuration; each against no injection follows, with Newcombe CIs over trials, "
            "and paired by prefilled word (each word's rate minus its own no-injection rate, "
            "t interval over words).",
            body
            + selection_paragraph(t["selection"], "The held-out headline contrasts are")
            + table_block(format_table(pre), "Prefill by condition")
            + img(figs.get("prefill"), "prefill"),
        )
    ]
    if len(t["rules_validation"]):
        out.append(rules_validation_section(t["rules_validation"], "rules-validation-prefill"))
    return out
