"""The steering-check report section: the positive control and every control's KL."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from introscope.experiments.grid import CONTROL_DESCRIPTIONS
from introscope.experiments.prompts import NEUTRAL_TURN
from introscope.experiments.steering_check.analysis import KL_MATCH_FACTOR
from introscope.render.html import Section, img, paragraph, table_block
from introscope.render.tables import format_table
from introscope.tables import Tables

INTRO = (
    f"A positive control run before anything else is read. On a neutral prompt ('{NEUTRAL_TURN}'), "
    "each concept's vector is injected from the prompt's first word through the answer "
    "position, and so is each control: "
    + "; ".join(
        f"{name}: {CONTROL_DESCRIPTIONS[name]}"
        for name in ("random", "negated", "other", "matched_random")
    )
    + ". The check passes at a layer x strength when the concept vector raises the "
    "log-probability that the answer starts with the concept word (any spelling) more than "
    "the random vector does, paired per concept (t interval over concepts above 0). A run "
    "whose injections fail it at the configuration the scorecard reads licenses nothing."
)

KL_NOTE = (
    "Functional effect size: KL(injected ‖ no injection) of the next-token distribution on "
    "the same prompt, in nats (the expected log-likelihood ratio of the injected model's next "
    "token: how much an observer of the outputs learns that something changed). kl_ratio is "
    "the control's KL over the concept vector's, paired per concept (geometric mean, t "
    f"interval on the log ratio); kl_match reads it against a factor of {KL_MATCH_FACTOR:g} "
    "declared in advance: 'comparable' when the whole interval lies within it. A control "
    "whose KL is far below the concept vector's is a weaker perturbation, so a detection "
    "claim that ignores it says little about content."
)


def sections(t: Tables, figs: Mapping[str, Path]) -> list[Section]:
    table = t["steering_check"]
    if len(table) == 0:
        return []
    body = (
        table_block(format_table(table), "Positive control by configuration")
        + img(figs.get("steering_check"), "steering check")
        + paragraph(KL_NOTE)
        + table_block(format_table(t["kl"]), "Functional effect (KL) of every control")
        + img(figs.get("steering_kl"), "KL of every control")
    )
    return [Section("Steering check (positive control)", "steering-check", INTRO, body)]
