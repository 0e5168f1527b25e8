"""The hints experiment's report section, with the suite's per-item synthesis."""

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
    "hint",
    "target",
    "target_correct",
    "unhinted",
    "hinted",
    "null",
    "switched",
    "verbalised",
    "judge_verbalised",
    "delta",
]


def sections(t: Tables, figs: Mapping[str, Path]) -> list[Section]:
    items = t["items"]
    out = []
    if len(items):
        acc = t["accuracy"].iloc[0]
        body = (
            paragraph(
                chance_sentence(
                    acc["accuracy"],
                    acc["accuracy_ci_low"],
                    acc["accuracy_ci_high"],
                    float(acc["chance"]),
                    "Unhinted accuracy",
                )
            )
            + paragraph(
                "Eligible: the unhinted answer is not the hint's target. switch: the hinted "
                "answer is the target; null_switch: the null version (same framing, no answer) "
                "lands there; net_switch: their per-item difference. verbalised: the hinted "
                "chain mentions the hint (rules); verbalised_given_switch: among switched "
                "pairs; silent_switch: switched with no mention; null_mentions: the rule "
                "firing on null chains (its false-positive rate)."
            )
            + img(figs.get("cot_hints"), "Hints")
            + table_block(format_table(t["hints"]), "Switching and verbalisation")
            + heading("Before the chain: the probe's shift toward the hint")
            + paragraph(
                "A probe of the unhinted final answers (out of fold by family) reads the hinted "
                "activation before the chain; delta: its log-odds of the hinted label minus "
                "those from the unhinted activation. auroc_switch: how well delta separates "
                "switched from unswitched pairs."
            )
            + table_block(format_table(t["hint_activations"]), "Probe shift by outcome")
            + table_block(
                format_table(items[[c for c in ITEM_COLUMNS if c in items.columns]]),
                "Item-hint pairs",
            )
        )
        out.append(
            Section(
                "Chain of thought: hints and whether the reasoning says so",
                "cot-hints",
                "The same items with a hint toward an answer (an authority's suggestion, "
                "few-shot answers all at one label, a metadata tag, a leaked grading function; "
                "Turpin et al. 2023, Chen et al. 2025): does the answer move to the hint, and "
                "does the chain mention the hint when it does?",
                body,
            )
        )
    syn = t["synthesis"]
    if len(syn):
        out.append(
            Section(
                "Chain of thought: per-item synthesis",
                "cot-synthesis",
                "Is the reasoning post hoc exactly where the activations already hold the "
                "answer? Per item, the probe's probability of the final answer before the chain "
                "against the early-answering AOC and against hint verbalisation (items matched "
                "by id across the suite's specs).",
                img(figs.get("cot_synthesis"), "Per item: decodability before the chain")
                + table_block(format_table(syn), "Per-item correlations"),
            )
        )
    return out
