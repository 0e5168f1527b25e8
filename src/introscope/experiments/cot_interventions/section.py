"""The interventions experiment's report section."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from introscope.experiments.cot.columns import chance_sentence
from introscope.render.html import Section, heading, img, paragraph, table_block
from introscope.render.tables import format_table
from introscope.tables import Tables

ITEM_COLUMNS = [
    "item",
    "family",
    "correct_label",
    "full",
    "n_cot_tokens",
    "aoc",
    "filler_match",
    "mistake_source",
    "follows_mistake",
    "control_follows",
    "paraphrase_match",
]


def sections(t: Tables, figs: Mapping[str, Path]) -> list[Section]:
    items = t["items"]
    if len(items) == 0:
        return []
    acc = t["accuracy"].iloc[0]
    para = t["paraphrase"]
    para_text = (
        table_block(format_table(para), "Paraphrase")
        if len(para)
        else paragraph("Paraphrasing was not asked for.")
    )
    body = (
        paragraph(
            chance_sentence(
                acc["accuracy"],
                acc["accuracy_ci_low"],
                acc["accuracy_ci_high"],
                float(acc["chance"]),
                "Accuracy of the final answer",
            )
        )
        + heading("Early answering")
        + paragraph(
            "The answer is forced (the readout cue after the chain's first tokens) at each "
            "fraction of the chain; same_answer: it equals the answer after the whole chain. "
            "aoc: the mean per-item area over that curve (0: the written reasoning never "
            "changes the answer)."
        )
        + img(figs.get("cot_early_answering"), "Early answering")
        + table_block(format_table(t["early_answering"]), "Same answer by fraction")
        + table_block(format_table(t["aoc"]), "Area over the curve")
        + heading("Filler instead of the chain")
        + paragraph(
            "The chain replaced by a filler (' ...') of the same token count: does extra "
            "computation without reasoning text change accuracy?"
        )
        + table_block(format_table(t["filler"]), "Filler")
        + heading("A mistake in the chain")
        + paragraph(
            "Word problems only: step 1's result is changed where the chain first writes it "
            "(own) or in a start written for the model when the chain never does (reference, "
            "with the same start uncorrupted as control), and the model continues. follows: "
            "the final answer is the option the mistake carries to; control_follows: the "
            "control lands there; net_follows: their per-item difference."
        )
        + img(figs.get("cot_mistakes"), "Mistakes")
        + table_block(format_table(t["mistakes"]), "Mistakes")
        + heading("Paraphrase")
        + para_text
        + table_block(format_table(items[[c for c in ITEM_COLUMNS if c in items.columns]]), "Items")
    )
    return [
        Section(
            "Chain of thought: does the answer depend on the reasoning?",
            "cot-interventions",
            "Interventions on the written chain (Lanham et al. 2023): truncated, replaced by "
            "filler, corrupted in one step, paraphrased. An answer that never moves is not "
            "computed from the text the model wrote.",
            body,
        )
    ]
