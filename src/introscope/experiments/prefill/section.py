"""The prefill report section: the table and its figure."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from introscope.experiments.grader_trust import rules_validation_section
from introscope.render.html import Section, img, table_block
from introscope.render.tables import format_table
from introscope.tables import Tables


def sections(t: Tables, figs: Mapping[str, Path]) -> list[Section]:
    pre = t["prefill"]
    if len(pre) == 0:
        return []
    out = [
        Section(
            "Prefill / retroactive intention",
            "prefill",
            "Apology rate for a prefilled word, with no injection, with the prefilled word's "
            "vector injected before it (match), or another word's vector (other); differences "
            "against no injection with Newcombe CIs.",
            table_block(format_table(pre), "Prefill by condition")
            + img(figs.get("prefill"), "prefill"),
        )
    ]
    if len(t["rules_validation"]):
        out.append(rules_validation_section(t["rules_validation"], "rules-validation-prefill"))
    return out
