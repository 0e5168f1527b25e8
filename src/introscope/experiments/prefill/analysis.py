"""Prefill tables and headline rows.

The tables come from the run's ``prefill`` trials (rules grades ``apology`` and
``coherent``). Control rows are ``injected == "none"`` (the prefill's own condition column,
not ``control``). Column conventions are those of :mod:`introscope.tables`.

``prefill`` compares each injected condition with no injection; ``match_vs_other`` is the
contrast the experiment is about: the prefilled word's own vector against another word's
vector of the same norm, at the same configuration, on coherent answers only (an incoherent
reply neither disowns nor claims the word), paired per prefilled word and pooled over the
configurations (:mod:`.match_other`). The ``held_out`` contrasts (match - none, other -
none, match - other, all answers, paired by word) are read at one configuration, declared
in the spec or chosen on half the words and estimated on the other half
(:mod:`introscope.experiments.selection`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from introscope.experiments.grader_trust import rules_validation_table
from introscope.experiments.prefill.match_other import match_vs_other_headline, match_vs_other_table
from introscope.experiments.prefill.params import CONDITIONS
from introscope.experiments.selection import (
    Choice,
    choose,
    concept_values,
    declared_config,
    paired_difference,
    per_concept,
    put_estimate,
    selection_frame,
    split_seed,
)
from introscope.grading.validation import low_trust_note
from introscope.headlines import (
    Headline,
    cfg_text,
    ci_or_none,
    headline_from_row,
    low_trust,
    verdict,
)
from introscope.tables import (
    RunFrame,
    Tables,
    as_layer,
    as_strength,
    cond,
    frame,
    grade_value,
    group,
    matched,
    put_diff,
    put_no_diff,
    put_rate,
    put_rate_diff,
    sort_key,
)


def prefill_table(run: RunFrame) -> pd.DataFrame:
    """Prefill / retroactive intention: apology rate per injected condition x layer x strength.

    ``apology`` and ``coherent`` are rates; ``apology_vs_none`` is the apology rate minus that
    of the matched ``injected == "none"`` trials (Newcombe CI over trials), and
    ``apology_vs_none_by_word`` the same paired by prefilled word (each word's rate minus its
    own no-injection rate, t interval over words). A lower apology rate under
    "match" than under "none" means the report of intent carries information about the
    direction injected before the prefilled word; "other" is the wrong-concept control.
    """
    recs = run.records("prefill")
    if not recs:
        return pd.DataFrame()
    per = word_table(run)
    none = [r for r in recs if cond(r, "injected") == "none"]
    groups = group(
        recs,
        lambda r: (
            cond(r, "injected"),
            as_layer(cond(r, "layer")),
            as_strength(cond(r, "strength")),
        ),
    )
    rows = []
    for (injected, layer, strength), trials in sorted(
        groups.items(),
        key=lambda kv: (
            sort_key(kv[0][1]),
            sort_key(kv[0][2]),
            sort_key(kv[0][0], CONDITIONS),
        ),
    ):
        out: dict[str, Any] = {
            "injected": injected,
            "layer": layer,
            "strength": strength,
            "n_trials": len(trials),
        }
        apo = [grade_value(t["grades"], "apology") for t in trials]
        put_rate(out, "apology", apo)
        put_rate(out, "coherent", (grade_value(t["grades"], "coherent") for t in trials))
        if injected == "none":
            put_no_diff(out, "apology_vs_none")
            put_no_diff(out, "apology_vs_none_by_word")
        else:
            ctrl = [grade_value(c["grades"], "apology") for c in matched(none, layer, strength)]
            put_rate_diff(out, "apology_vs_none", apo, ctrl)
            put_diff(
                out,
                "apology_vs_none_by_word",
                paired_difference(
                    word_rates(per, (layer, strength, injected)),
                    word_rates(per, (None, None, "none")),
                ),
            )
        rows.append(out)
    return frame(rows)


KEYS = ("layer", "strength")
CELL_KEYS = ("layer", "strength", "injected")


def word_table(run: RunFrame) -> pd.DataFrame:
    """Per layer x strength x injected condition x prefilled word: the word's ``apology`` and
    ``coherent`` rates (the word is the unit: its trials share the prefilled word)."""
    points = [
        {
            "layer": as_layer(cond(r, "layer")),
            "strength": as_strength(cond(r, "strength")),
            "injected": cond(r, "injected"),
            "concept": cond(r, "word"),
            "apology": grade_value(r["grades"], "apology"),
            "coherent": grade_value(r["grades"], "coherent"),
        }
        for r in run.records("prefill")
    ]
    return per_concept(points, CELL_KEYS, ("apology", "coherent"))


def word_rates(per: pd.DataFrame, cell: tuple[Any, ...], words: Any = None) -> pd.Series:
    """Per-word apology rate in one cell (layer, strength, injected)."""
    return concept_values(per, CELL_KEYS, cell, "apology", words)


def tables(run: RunFrame, _upstream: Mapping[str, Tables]) -> Tables:
    """``prefill`` (per condition), ``prefill_words`` (per word), ``match_vs_other`` (on
    coherent answers, pooled over the configurations), the ``selection`` of the
    configuration the held-out headlines read and ``held_out`` (the contrasts there, on the
    held-out words), and the rule grader's agreement with hand labels."""
    per = word_table(run)
    choice = choose_configuration(run, per)
    return {
        "prefill": prefill_table(run),
        "prefill_words": per,
        "match_vs_other": match_vs_other_table(run),
        "selection": selection_frame(choice, unit="word"),
        "held_out": held_out_contrasts(per, choice),
        "rules_validation": rules_validation_table(run, "prefill"),
    }


def choose_configuration(run: RunFrame, per: pd.DataFrame) -> Choice | None:
    """The (layer, strength) the headlines read: declared in the spec, or the one where the
    prefilled word's own vector lowers the apology rate most below another word's vector
    (match - other, per word), on half the words."""
    if len(per) == 0:
        return None
    match = per[per["injected"] == "match"]
    other = per[per["injected"] == "other"]
    if len(match) == 0:
        return None
    paired = match.merge(other, on=[*KEYS, "concept"], how="left", suffixes=("", "_other"))
    diff = paired.assign(match_minus_other=paired["apology"] - paired["apology_other"])
    col = "match_minus_other" if diff["match_minus_other"].notna().any() else "apology"
    return choose(
        diff,
        KEYS,
        col,
        declared=declared_config(run, "prefill", KEYS),
        seed=split_seed(run, "prefill"),
        sign=-1.0,  # the hoped-for effect is a drop in apologies
    )


CONTRASTS = (("match", "none"), ("other", "none"), ("match", "other"))


def held_out_contrasts(per: pd.DataFrame, choice: Choice | None) -> pd.DataFrame:
    """At the chosen configuration, on the held-out words: the apology rate under match
    minus none, other minus none and match minus other, each paired by word (t interval over
    words, ``value_n`` = words)."""
    if choice is None:
        return pd.DataFrame()
    layer, strength = choice.config
    cells = {
        "match": (layer, strength, "match"),
        "other": (layer, strength, "other"),
        "none": (None, None, "none"),
    }
    rows = []
    for first, second in CONTRASTS:
        a = word_rates(per, cells[first], choice.estimated_on)
        b = word_rates(per, cells[second], choice.estimated_on)
        if len(a) == 0 or len(b) == 0:
            continue
        out: dict[str, Any] = {"contrast": f"{first} - {second}", **choice.at()}
        put_estimate(out, "value", paired_difference(a, b))
        out["note"] = choice.note("word")
        rows.append(out)
    return pd.DataFrame(rows)


LINES = {
    "match - none": (
        "prefill: apology change (match)",
        "injecting the prefilled word's vector before the prefill changes the apology rate, "
        "relative to no injection, by",
    ),
    "other - none": (
        "prefill: apology change (other)",
        "injecting a different word's vector before the prefill changes the apology rate, "
        "relative to no injection, by",
    ),
    "match - other": (
        "prefill: match - other (paired by word)",
        "the prefilled word's own vector changes the apology rate, relative to another "
        "word's vector at the same configuration, by",
    ),
}


def headlines(t: Tables, _upstream: Mapping[str, Tables]) -> list[Headline]:
    """Match - other on coherent answers, pooled over the configurations (no selection);
    then, at the configuration declared in the spec or chosen on half the words (estimated
    on the other half): match - none, other - none, and match - other, each paired by word.
    Low trust when the rules' apology grade is below its agreement target."""
    pre = t["prefill"]
    if len(pre) == 0:
        return []
    lines = []
    mvo = t["match_vs_other"]
    pooled = mvo[mvo["layer"].isna()] if len(mvo) else mvo
    if len(pooled):
        lines.append(match_vs_other_headline(pooled.iloc[0]))
    held = t["held_out"]
    note = low_trust_note("prefill", ("apology",))
    for _, row in held.iterrows() if len(held) else []:
        name, what = LINES[str(row["contrast"])]
        cfg = cfg_text(row["layer"], row["strength"])
        reading = "."
        if row["contrast"] == "match - other":
            reading = (
                ": "
                + verdict(
                    row["value_ci_low"],
                    row["value_ci_high"],
                    "the report of intent depends on which direction was injected before the "
                    "prefilled word (more apologies under its own vector)",
                    "no evidence that the report of intent depends on which direction was "
                    "injected before the prefilled word",
                    "the report of intent depends on which direction was injected before the "
                    "prefilled word (fewer apologies under its own vector)",
                    unit="words",
                )
                + "."
            )
        lines.append(
            low_trust(
                headline_from_row(
                    name,
                    row,
                    "value",
                    f"At {cfg}{row['note']}, {what} "
                    f"{ci_or_none(row['value'], row['value_ci_low'], row['value_ci_high'], unit='words')} "
                    f"(each word's rate difference, n={int(row['value_n'])} words){reading}",
                    unit="words",
                    kind="rate_difference",
                    config=cfg,
                ),
                note,
            )
        )
    return lines
