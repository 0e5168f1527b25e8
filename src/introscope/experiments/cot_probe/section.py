"""The probe experiment's report section."""

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
    "final",
    "direct",
    "probe_pred",
    "decodability",
    "probe_layer",
    "n_cot_tokens",
    "decodable_at",
    "stated_at",
    "lead",
]


def sections(t: Tables, figs: Mapping[str, Path]) -> list[Section]:
    items = t["items"]
    if len(items) == 0:
        return []
    acc = t["accuracy"]
    final = acc[acc["answer"] == "final"].iloc[0]
    chance = chance_sentence(
        final["accuracy"],
        final["accuracy_ci_low"],
        final["accuracy_ci_high"],
        float(final["chance"]),
        "Accuracy of the final answer after the chain",
    )
    probe = (
        table_block(format_table(t["probe"]), "Probe against its baselines")
        + img(figs.get("cot_probe_layers"), "Probe accuracy by layer")
        + table_block(format_table(t["probe_layers"]), "Per layer (each layer's own probe)")
        if len(t["probe"])
        else paragraph("No activations are stored beside this run, so no probe was fitted.")
    )
    steering = (
        img(figs.get("cot_steering"), "Steering flip rates")
        + table_block(format_table(t["steering"]), "Steering by direction and strength")
        if len(t["steering"])
        else paragraph(
            "No steering trials: steering was off, or the fit items' final answers took a "
            "single label, so no probe direction exists."
        )
    )
    body = (
        paragraph(chance)
        + table_block(format_table(t["accuracy"]), "Accuracy against chance")
        + heading("Decoded before the chain")
        + paragraph(
            "A logistic probe reads the final answer (after the chain) from the activation at "
            "the last token before the chain. Accuracy is out of fold with folds grouped by "
            "item family; the headline accuracy picks its layer inside each training fold "
            "(inner folds over the training families), so no item is scored by a choice made "
            "on it. Baselines: the training folds' majority label, and the same nested "
            "procedure on labels shuffled among items with the same label set. "
            "direct_is_final: the answer without a chain equals the final answer; "
            "accuracy_when_changed: the probe on items where it does not."
        )
        + probe
        + heading("Along the chain: the decision lead")
        + paragraph(
            "A probe trained on every stored chain position of the training families reads "
            "each held-out item along its chain (one declared layer). decodable_at: the first "
            "position from which it returns the final answer at every later position; "
            "stated_at: the chain token at which the text first states the answer in so many "
            "words; lead = stated_at - decodable_at (positive: the activations lead the text). "
            "Positions are subsampled, so the lead is exact only to the stored spacing."
        )
        + table_block(format_table(t["lead"]), "Decision lead")
        + img(figs.get("cot_lead"), "Decodable vs stated position")
        + heading("Steering before the chain")
        + paragraph(
            "On items held out from the probe's fit, the probe's direction (from the label it "
            "decodes to the next most probable) is added over the opener's tokens before the "
            "chain is written; random and orthogonal directions of the same norm are the "
            "controls. flip: the final answer differs from the unsteered run's; to_target: it "
            "becomes the target label; vs_random / vs_orthogonal: per-item paired excess."
        )
        + steering
        + heading("Comparison pairs in both orders")
        + paragraph(
            "Yes/no comparisons asked both ways round: same_answer counts pairs answered Yes/"
            "Yes or No/No, inconsistent whatever the facts (Arcuschin et al. 2025); both_yes "
            "the Yes/Yes ones; vs_direct, per pair, the chain's same_answer minus the direct "
            "answer's."
        )
        + table_block(format_table(t["pairs"]), "Pairs")
        + table_block(format_table(items[[c for c in ITEM_COLUMNS if c in items.columns]]), "Items")
    )
    return [
        Section(
            "Chain of thought: the answer before the reasoning",
            "cot-probe",
            "Is the final answer linearly decodable from the activations before the chain of "
            "thought is written, how far along the chain does the text lag behind it, and does "
            "adding the probe's direction there move the answer?",
            body,
        )
    ]
