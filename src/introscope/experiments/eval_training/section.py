"""The train-time arm's report section: rates per arm, contrasts, the adapters, the figure."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from introscope.render.html import Section, img, table_block
from introscope.render.tables import drop_empty, format_table
from introscope.tables import Tables

INTRO = (
    "LoRA adapters trained on demonstrations of picking the solution special-cased to a "
    "contradicting test (contradicted-test items of eight function families, the letter of "
    "the special case as the target) in four arms that differ only in the text before the "
    "task: none, an inoculation prefix that asks for the behaviour, an irrelevant sentence "
    "of the same length in tokens, and a self-diagnostic framing of the same length. Each "
    "arm is trained with several seeds. Every adapter, and the base model, is evaluated "
    "WITHOUT a prefix on contradicted items of four held-out families (the hack rate), on "
    "their consistent twins (the solve rate: capability) and on questions where a user "
    "states a wrong answer (the rate of the agreeing reply: a different misbehaviour); and "
    "with the arm's own prefix on the held-out items (was the behaviour learned at all; the "
    "base model with the same prefix is the reference). A rate is the share of items whose "
    "candidate gets the most probability after 'Answer: (' (formats and seeds averaged per "
    "item first); contrasts are per-item differences, t intervals over items. The "
    "adapters' table lists what each trainer recorded about itself (its loss curve's ends "
    "and the seconds its loop took on the machine it ran on)."
)


def sections(t: Tables, figs: Mapping[str, Path]) -> list[Section]:
    rates = t["eval_training"]
    if len(rates) == 0:
        return []
    body = (
        img(figs.get("eval_training"), "rates per arm")
        + table_block(format_table(drop_empty(rates)), "Rates per model group, probe, prefix")
        + table_block(
            format_table(drop_empty(t["eval_training_contrasts"])),
            "Contrasts (paired per item, seeds averaged, t intervals over items)",
        )
    )
    if len(t["eval_training_adapters"]):
        body += table_block(
            format_table(drop_empty(t["eval_training_adapters"])), "Adapters of this run"
        )
    return [Section("Evaluation framing: train-time arms", "eval-training", INTRO, body)]
