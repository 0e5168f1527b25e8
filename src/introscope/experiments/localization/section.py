"""The localization report section: the table by question and configuration, and its
figure."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from introscope.experiments.selection import selection_paragraph
from introscope.render.html import Section, img, table_block
from introscope.render.tables import format_table
from introscope.tables import Tables

INTRO = (
    "The model sees numbered sentences with the concept injected on one of them and is asked "
    "which sentence it was injected on (question 'injected'); on the same stimuli it is asked "
    "which sentence is the most abstract (question 'abstract'). Localization accuracy above "
    "chance (1/N; exact binomial p) means the numbered answer carries information about where "
    "the injection happened. If the abstractness question picks the injected sentence as "
    "often, the answer may follow how the perturbed sentence reads rather than the injection "
    "site: localization_minus_abstractness is the difference (Newcombe CI). accuracy_vs_none "
    "subtracts the same question's accuracy without injection on the same stimuli, which "
    "cancels positional bias. Accuracy has Wilson CIs over trials; the *_by_concept columns "
    "take the concept as the unit (per-concept accuracies averaged, t interval over concepts; "
    "the two questions paired by concept). Rows with control 'none' carry no injection."
)


def sections(t: Tables, figs: Mapping[str, Path]) -> list[Section]:
    table = t["localization"]
    if len(table) == 0:
        return []
    return [
        Section(
            "Localization vs abstractness",
            "localization",
            INTRO,
            selection_paragraph(t["selection"], "The headline accuracy is")
            + table_block(format_table(table), "Localization by question and configuration")
            + img(figs.get("localization"), "localization"),
        )
    ]
