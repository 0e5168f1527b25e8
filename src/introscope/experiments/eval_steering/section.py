"""The evaluation-framing steering report section: the held-out check, the steering tables,
the figure."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from introscope.render.html import Section, img, table_block
from introscope.render.tables import drop_empty, format_table
from introscope.tables import Tables

INTRO = (
    "Activation interventions on the evaluation-framing items (hackable items only: "
    "contradicted tests and metric-gaming tasks), read from the candidates' letter "
    "probabilities after 'Answer: (' as in the evaluation-framing section. A direction is "
    "added to the residual stream at one layer over the user turn (from the framing text "
    "to the end of the prompt). The evaluation-awareness direction (test-style minus "
    "deployment-style statements, within each format, averaged) is added to neutral-framed "
    "prompts at signed strengths (+ toward the test-style side) and compared with random "
    "unit directions of the same norm, paired per item. Its held-out check builds the "
    "direction on half of the contrast statements and projects the other half onto it. The "
    "framing direction is the mean last-token difference between the self-diagnostic and "
    "the judgment framing of the same item, paraphrase and format, cross-fitted over two "
    "folds of items (an item is steered by the direction of the other fold's items); it is "
    "added to judgment-framed prompts and compared with a norm-matched random direction and "
    "with the behavioural difference between the two framings. Intervals are t intervals "
    "over items (each item's mean over paraphrases, formats and random draws); '_p_holm' "
    "adjusts over the layer x strength configurations scanned. An effect is a change in "
    "which candidate gets probability; it does not say why."
)


def sections(t: Tables, figs: Mapping[str, Path]) -> list[Section]:
    if not any(len(t[n]) for n in t):
        return []
    body = img(figs.get("eval_steering"), "steering effect by strength")
    for name, caption in (
        ("eval_steering_heldout", "Held-out check of the awareness direction"),
        ("eval_steering_awareness", "Awareness direction vs random directions (paired per item)"),
        ("eval_steering_framing", "Framing direction injected into judgment-framed prompts"),
    ):
        if len(t[name]):
            body += table_block(format_table(drop_empty(t[name])), caption)
    return [Section("Evaluation framing: steering", "eval-steering", INTRO, body)]
