"""Thoughts-vs-text table and headline row.

The table comes from the run's ``thoughts_vs_text`` trials (rules grades ``identified`` and
``exact_match``, the readout's ``candidate_rank`` and ``n_candidates``). Column conventions
are those of :mod:`introscope.tables`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from introscope.experiments.selection import (
    Choice,
    choose,
    concept_mean,
    concept_values,
    declared_config,
    paired_difference,
    per_concept,
    put_estimate,
    selection_frame,
    split_seed,
)
from introscope.headlines import Headline, cfg_text, ci_or_none, headline_from_row, pct, verdict
from introscope.tables import (
    Record,
    RunFrame,
    Tables,
    as_layer,
    as_strength,
    by_config,
    cond,
    frame,
    grade_value,
    matched,
    number,
    put_no_diff,
    put_rate,
    put_rate_diff,
    put_vs_chance,
    to_float,
)

#: Chance level when no trial records its number of candidates (the solver offers 10).
DEFAULT_CHANCE = 0.1


def identified(r: Record) -> bool | None:
    """The injected word ranks first among the candidates: the rules grade ``identified``,
    else ``candidate_rank == 1`` from the readout; None when neither is there."""
    v = grade_value(r["grades"], "identified")
    if v is not None:
        return v
    rk = number(r["logits"].get("candidate_rank"))
    return None if rk is None else rk == 1


def thoughts_vs_text_table(run: RunFrame) -> pd.DataFrame:
    """Thoughts vs. text, by layer x strength x control.

    ``identification`` (the injected word ranks first among the candidates; from the rules
    grade ``identified``, else ``candidate_rank == 1``), ``chance`` (1 / n_candidates, 0.1 by
    default), ``identification_vs_chance`` (rate minus chance, Wilson bounds shifted),
    ``identification_vs_control`` (minus the no-injection trials' rate, Newcombe CI),
    ``exact_match`` (the sentence was transcribed exactly) and ``both`` (identified and
    transcribed exactly, when both grades sit on the same trial).
    """
    recs = run.records("thoughts_vs_text")
    if not recs:
        return pd.DataFrame()
    controls = [r for r in recs if cond(r, "control") == "none"]
    rows = []
    for out, trials in by_config(recs):
        layer, strength, control = out["layer"], out["strength"], out["control"]
        ident = [identified(t) for t in trials]
        put_rate(out, "identification", ident)
        ncs = [number(t["logits"].get("n_candidates")) for t in trials]
        ncs_v = [n for n in ncs if n]
        chance = float(np.mean([1.0 / n for n in ncs_v])) if ncs_v else DEFAULT_CHANCE
        out["chance"] = chance
        put_vs_chance(out, "identification_vs_chance", "identification", chance)
        if control == "none":
            put_no_diff(out, "identification_vs_control")
        else:
            ctrl = [identified(c) for c in matched(controls, layer, strength)]
            put_rate_diff(out, "identification_vs_control", ident, ctrl)
        exact = [grade_value(t["grades"], "exact_match") for t in trials]
        put_rate(out, "exact_match", exact)
        put_rate(
            out,
            "both",
            (
                a and b if a is not None and b is not None else None
                for a, b in zip(ident, exact, strict=True)
            ),
        )
        rows.append(out)
    return frame(rows)  # already in config_order: by_config sorts the groups


KEYS = ("layer", "strength")
CELL_KEYS = ("layer", "strength", "control")


def concept_table(run: RunFrame) -> pd.DataFrame:
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
                "chance": 1.0 / nc if nc else DEFAULT_CHANCE,
            }
        )
    return per_concept(points, CELL_KEYS, ("identification", "exact_match", "chance"))


def tables(run: RunFrame, _upstream: Mapping[str, Tables]) -> Tables:
    """``thoughts_vs_text`` (per configuration), ``thoughts_vs_text_concepts`` (per concept),
    the ``selection`` of the configuration the headline reads and ``held_out`` (the
    estimates there, on the held-out concepts)."""
    per = concept_table(run)
    choice = None
    if len(per):
        competing = per[per["control"] == "concept"]
        choice = choose(
            competing,
            KEYS,
            "identification",
            declared=declared_config(run, "thoughts_vs_text", KEYS),
            seed=split_seed(run, "thoughts_vs_text"),
        )
    return {
        "thoughts_vs_text": thoughts_vs_text_table(run),
        "thoughts_vs_text_concepts": per,
        "selection": selection_frame(choice),
        "held_out": held_out_estimates(per, choice),
    }


def held_out_estimates(per: pd.DataFrame, choice: Choice | None) -> pd.DataFrame:
    """At the chosen configuration, on the held-out concepts (concept injection): the
    identification rate minus chance (per-concept rates averaged, t interval over concepts),
    the same minus the concept's own no-injection rate (paired by concept, when the run has
    no-injection trials), and the exact-transcription rate."""
    if choice is None:
        return pd.DataFrame()
    cfg = (*choice.config, "concept")
    ident = concept_values(per, CELL_KEYS, cfg, "identification", choice.estimated_on)
    chances = concept_values(per, CELL_KEYS, cfg, "chance", choice.estimated_on)
    chance = float(chances.mean()) if len(chances) else DEFAULT_CHANCE
    rows = []
    estimates = {
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
        estimates["identification_vs_control"] = paired_difference(ident, none_cfg)
    for quantity, d in estimates.items():
        out: dict[str, Any] = {"quantity": quantity, **choice.at(), "chance": chance}
        put_estimate(out, "value", d)
        out["note"] = choice.note()
        rows.append(out)
    return pd.DataFrame(rows)


def headlines(t: Tables, _upstream: Mapping[str, Tables]) -> list[Headline]:
    """Identification above chance at the concept-injection configuration declared in the
    spec or chosen on half the concepts (estimated on the other half, per-concept rates),
    with the exact-transcription rate there."""
    held = t["held_out"]
    if len(held) == 0:
        return []
    by = {str(q): r for q, r in zip(held["quantity"], held.to_dict("records"), strict=True)}
    row = by["identification_vs_chance"]
    chance = to_float(row["chance"])
    exact = by.get("exact_match")
    reading = verdict(
        row["value_ci_low"],
        row["value_ci_high"],
        "the pick carries information about which word was injected",
        "no evidence that the pick carries information about which word was injected",
        "the pick avoids the injected word more often than chance",
    )
    sentence = (
        f"At {cfg_text(row['layer'], row['strength'])}{row['note']}, the word picked among "
        f"the candidates is the injected one in {pct(to_float(row['value']) + chance)} of "
        f"trials (per-concept rates averaged over {int(row['value_n'])} concepts), "
        f"{ci_or_none(row['value'], row['value_ci_low'], row['value_ci_high'], unit='concepts')} "
        f"relative to chance ({chance:.2f}): {reading}; the sentence is still transcribed "
        f"exactly in {pct(exact['value'] if exact else None)} of trials."
    )
    return [
        headline_from_row(
            "thoughts vs text: identification above chance",
            row,
            "value",
            sentence,
            unit="concepts",
            kind="rate_difference",
            config=cfg_text(row["layer"], row["strength"]),
        )
    ]
