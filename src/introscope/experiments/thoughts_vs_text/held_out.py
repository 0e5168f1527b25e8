"""Thoughts vs text with the concept as the unit, read at one configuration declared in the
spec or chosen on half the concepts and estimated on the other half
(:mod:`introscope.experiments.selection`).

The reference is each concept's own no-injection trials at that configuration (paired by
concept); only a run without no-injection trials falls back to the nominal chance of
1 / n_candidates, and its sentence says why that is the weaker reference.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from introscope.experiments.selection import (
    Choice,
    concept_mean,
    concept_values,
    paired_difference,
    per_concept,
    put_estimate,
)
from introscope.headlines import Headline, cfg_text, ci_or_none, headline_from_row, pct, verdict
from introscope.tables import (
    Record,
    RunFrame,
    Tables,
    as_layer,
    as_strength,
    cond,
    grade_value,
    number,
    to_float,
)

CELL_KEYS = ("layer", "strength", "control")
NAME = "thoughts vs text: identification at the selected configuration"


def concept_table(
    run: RunFrame, identified: Callable[[Record], bool | None], default_chance: float
) -> pd.DataFrame:
    """Per layer x strength x control x concept: the concept's ``identification`` and
    ``exact_match`` rates and its ``chance`` (1 / n_candidates)."""
    points = []
    for r in run.records("thoughts_vs_text"):
        nc = number(r["logits"].get("n_candidates"))
        points.append(
            {
                "layer": as_layer(cond(r, "layer")),
                "strength": as_strength(cond(r, "strength")),
                "control": cond(r, "control"),
                "concept": cond(r, "concept"),
                "identification": identified(r),
                "exact_match": grade_value(r["grades"], "exact_match"),
                "chance": 1.0 / nc if nc else default_chance,
            }
        )
    return per_concept(points, CELL_KEYS, ("identification", "exact_match", "chance"))


def held_out_estimates(
    per: pd.DataFrame, choice: Choice | None, default_chance: float
) -> pd.DataFrame:
    """At the chosen configuration, on the held-out concepts (concept injection): the
    identification rate (per-concept rates averaged, t interval over concepts), the same
    minus chance, minus the concept's own no-injection rate (paired by concept, when the
    run has no-injection trials there), and the exact-transcription rate."""
    if choice is None:
        return pd.DataFrame()
    cfg = (*choice.config, "concept")
    ident = concept_values(per, CELL_KEYS, cfg, "identification", choice.estimated_on)
    chances = concept_values(per, CELL_KEYS, cfg, "chance", choice.estimated_on)
    chance = float(chances.mean()) if len(chances) else default_chance
    rows = []
    estimates = {
        "identification": concept_mean(ident),
        "identification_vs_chance": concept_mean(ident, chance),
        "exact_match": concept_mean(
            concept_values(per, CELL_KEYS, cfg, "exact_match", choice.estimated_on)
        ),
    }
    none = per[per["control"] == "none"]
    if len(none):
        none_cfg = concept_values(
            none, CELL_KEYS, (*choice.config, "none"), "identification", choice.estimated_on
        )
        if len(none_cfg) == 0:  # controls that carry no configuration: all of the concept's
            none_cfg = concept_values(
                none, CELL_KEYS, (None, None, "none"), "identification", choice.estimated_on
            )
        estimates["identification_vs_control"] = paired_difference(ident, none_cfg)
    for quantity, d in estimates.items():
        out: dict[str, Any] = {"quantity": quantity, **choice.at(), "chance": chance}
        put_estimate(out, "value", d)
        out["note"] = choice.note()
        rows.append(out)
    return pd.DataFrame(rows)


def held_out_line(t: Tables) -> list[Headline]:
    """The identification at the selected configuration against the concept's own
    no-injection trials (or, in a run without them, against nominal chance)."""
    held = t["held_out"]
    if len(held) == 0:
        return []
    by = {str(q): r for q, r in zip(held["quantity"], held.to_dict("records"), strict=True)}
    exact, raw = by.get("exact_match"), by.get("identification")
    row = by.get("identification_vs_control")
    if row is not None and int(row["value_n"]) > 0:
        reference = "its own no-injection trials (paired by concept)"
        above = "the pick carries information about which word was injected"
        below = "the injected word is picked less often than without injection"
    else:
        row = by["identification_vs_chance"]
        reference = (
            f"nominal chance ({to_float(row['chance']):.2f}; the run has no no-injection "
            "trials, and without injection the model may already prefer the word)"
        )
        above = "the pick favours the injected word more than chance"
        below = "the pick avoids the injected word more often than chance"
    reading = verdict(
        row["value_ci_low"],
        row["value_ci_high"],
        above,
        "no evidence that the pick carries information about which word was injected",
        below,
    )
    cfg = cfg_text(row["layer"], row["strength"])
    sentence = (
        f"At {cfg}{row['note']}, the word picked among the candidates is the injected one in "
        f"{pct(raw['value'] if raw else None)} of trials (per-concept rates averaged over "
        f"{int(row['value_n'])} concepts), "
        f"{ci_or_none(row['value'], row['value_ci_low'], row['value_ci_high'], unit='concepts')} "
        f"relative to {reference}: {reading}; the sentence is still transcribed exactly in "
        f"{pct(exact['value'] if exact else None)} of trials."
    )
    return [
        headline_from_row(
            NAME,
            row,
            "value",
            sentence,
            unit="concepts",
            kind="rate_difference",
            config=cfg,
        )
    ]
