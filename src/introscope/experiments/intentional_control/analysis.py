"""Intentional-control tables and the headline row.

Every table comes from the run's ``intentional_control`` trials, whose readout holds, per
layer, the cosine between the reply sentence's mean activation and the word's concept vector
(``cos_by_layer``) and the mean cosine with other words' vectors (``baseline_by_layer``), and
the same per sentence token (``cos_by_token`` / ``baseline_by_token``, ``[token][layer]``).
The experiment has no scorecard step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from introscope.experiments.intentional_control.params import INSTRUCTIONS
from introscope.experiments.selection import (
    Choice,
    choose,
    concept_values,
    declared_config,
    per_concept,
    put_estimate,
    selection_frame,
    split_seed,
)
from introscope.headlines import (
    Headline,
    cfg_text,
    ci_or_none,
    fmt_num,
    headline_from_row,
    verdict,
)
from introscope.stats import paired_mean_ci
from introscope.tables import (
    RunFrame,
    Tables,
    cond,
    frame,
    number,
    put_diff,
    put_mean,
    sort_key,
)

KIND = "intentional_control"

#: Instruction contrasts of the by-layer table: (first, second) -> delta(first) - delta(second).
CONTRASTS: tuple[tuple[str, str], ...] = (
    ("think", "dont_think"),
    ("silent_task", "dont_think"),
    ("think", "silent_task"),
)


def layer_cosines(record: Mapping[str, Any]) -> tuple[list[float | None], list[float | None]]:
    """A trial's per-layer cosine with its word's vector and its baseline (None where a
    value is not a finite number; empty lists where the readout lacks them)."""
    cos = record["logits"].get("cos_by_layer")
    base = record["logits"].get("baseline_by_layer")
    cos_l = [number(v) for v in cos] if isinstance(cos, list) else []
    base_l = [number(v) for v in base] if isinstance(base, list) else []
    return cos_l, base_l


def intentional_control_table(run: RunFrame) -> pd.DataFrame:
    """Intentional control: cosine with the word's concept vector, per layer x instruction.

    Rows with ``row_type == "instruction"``: ``cos`` (mean cosine of the sentence tokens'
    mean activation with the word's vector, t CI), ``baseline`` (mean cosine with other
    words' vectors) and ``delta`` (per-trial cos - baseline, mean with t CI). Rows with
    ``row_type == "contrast"`` (``instruction`` "think - dont_think", "silent_task -
    dont_think", "think - silent_task"): ``delta`` is the difference of the two
    instructions' deltas paired by word (each word's mean delta under the first minus under
    the second, t interval over words; ``delta_n`` = ``delta_n_ref`` = words with both): the
    same word is given under every instruction, so its trials are not independent.
    """
    recs = run.records(KIND)
    if not recs:
        return pd.DataFrame()
    per = word_table(run)
    # per_layer[instruction][layer] -> list of per-trial values
    cos_d: dict[str, dict[int, list[float]]] = {}
    base_d: dict[str, dict[int, list[float]]] = {}
    delta_d: dict[str, dict[int, list[float]]] = {}
    for r in recs:
        instr = cond(r, "instruction")
        if not isinstance(instr, str):
            continue
        cos, base = layer_cosines(r)
        for i, c in enumerate(cos):
            b = base[i] if i < len(base) else None
            if c is not None:
                cos_d.setdefault(instr, {}).setdefault(i, []).append(c)
            if b is not None:
                base_d.setdefault(instr, {}).setdefault(i, []).append(b)
            if c is not None and b is not None:
                delta_d.setdefault(instr, {}).setdefault(i, []).append(c - b)
    layers = sorted({i for d in (cos_d, delta_d) for per in d.values() for i in per})
    instructions = sorted(set(cos_d) | set(delta_d), key=lambda s: sort_key(s, INSTRUCTIONS))
    rows: list[dict[str, Any]] = []
    for layer in layers:
        for instr in instructions:
            out: dict[str, Any] = {"row_type": "instruction", "instruction": instr, "layer": layer}
            put_mean(out, "cos", cos_d.get(instr, {}).get(layer, []))
            put_mean(out, "baseline", base_d.get(instr, {}).get(layer, []))
            put_mean(out, "delta", delta_d.get(instr, {}).get(layer, []))
            out["delta_n_ref"] = out["delta_n"]
            rows.append(out)
        for first, second in CONTRASTS:
            va = delta_d.get(first, {}).get(layer, [])
            vb = delta_d.get(second, {}).get(layer, [])
            if not va or not vb:
                continue
            con: dict[str, Any] = {
                "row_type": "contrast",
                "instruction": f"{first} - {second}",
                "layer": layer,
            }
            put_diff(con, "delta", paired_mean_ci(list(word_contrast(per, layer, first, second))))
            rows.append(con)
    return frame(rows)


def word_table(run: RunFrame) -> pd.DataFrame:
    """Per layer x word: the word's mean ``delta`` (cosine with its vector minus the
    baseline) under each instruction (``delta[think]`` ...), and each contrast of
    :data:`CONTRASTS` (``think - dont_think`` ...): the per-word difference the contrast rows
    average (every instruction is given for the same word, so the word is the unit)."""
    points = []
    for r in run.records(KIND):
        instr, word = cond(r, "instruction"), cond(r, "word")
        if not isinstance(instr, str):
            continue
        cos, base = layer_cosines(r)
        for i, c in enumerate(cos):
            b = base[i] if i < len(base) else None
            if c is not None and b is not None:
                points.append({"layer": i, "instruction": instr, "concept": word, "delta": c - b})
    per = per_concept(points, ("layer", "instruction"), ("delta",))
    if len(per) == 0:
        return pd.DataFrame()
    wide = per.pivot_table(
        index=["layer", "concept"], columns="instruction", values="delta", aggfunc="first"
    )
    wide.columns = [f"delta[{c}]" for c in wide.columns]
    wide = wide.reset_index().rename(columns={"concept": "word"})
    for first, second in CONTRASTS:
        col_a, col_b = f"delta[{first}]", f"delta[{second}]"
        if col_a in wide.columns and col_b in wide.columns:
            wide[f"{first} - {second}"] = wide[col_a] - wide[col_b]
    return wide


def word_contrast(per: pd.DataFrame, layer: int, first: str, second: str) -> pd.Series:
    """The per-word ``first - second`` contrast at ``layer`` (words having both)."""
    col = f"{first} - {second}"
    if len(per) == 0 or col not in per.columns:
        return pd.Series(dtype=float)
    rows = per[per["layer"] == layer]
    return rows.set_index("word")[col].dropna()


def intentional_control_token_table(run: RunFrame) -> pd.DataFrame:
    """Intentional control by token: per instruction x token position x layer, the mean of
    per-trial (cosine with the word's vector - baseline cosine) at that sentence token, with
    a t CI. Sentences differ in length, so each position's n is the trials that reach it.
    Rows are sorted by instruction name, then token, then layer."""
    cells: dict[tuple[Any, int, int], list[float]] = {}
    for r in run.records(KIND):
        cos, base = r["logits"].get("cos_by_token"), r["logits"].get("baseline_by_token")
        if not cos or not base:
            continue
        instruction = cond(r, "instruction")
        for t, (crow, brow) in enumerate(zip(cos, base, strict=False)):
            for layer, (c, b) in enumerate(zip(crow, brow, strict=False)):
                if c is not None and b is not None:
                    cells.setdefault((instruction, t, layer), []).append(float(c) - float(b))
    rows = []
    for (instruction, t, layer), vals in sorted(
        cells.items(), key=lambda kv: (sort_key(kv[0][0]), kv[0][1], kv[0][2])
    ):
        out: dict[str, Any] = {"instruction": instruction, "token": t, "layer": layer}
        put_mean(out, "delta", vals)
        rows.append(out)
    return frame(rows)


def tables(run: RunFrame, _upstream: Mapping[str, Tables]) -> Tables:
    """By layer, by token, per word (``intentional_control_words``), the ``selection`` of the
    layer the headline reads and ``held_out`` (the contrasts there on the held-out words)."""
    per = word_table(run)
    choice = choose_layer(run, per)
    return {
        "intentional_control": intentional_control_table(run),
        "intentional_control_tokens": intentional_control_token_table(run),
        "intentional_control_words": per,
        "selection": selection_frame(choice, unit="word"),
        "held_out": held_out_contrasts(per, choice),
    }


# --------------------------------------------------------------------------- selection

MAIN_CONTRAST = "think - dont_think"


def choose_layer(run: RunFrame, per: pd.DataFrame) -> Choice | None:
    """The readout layer the headline reads: declared in the spec, or the layer with the
    largest think - don't think contrast on half the words."""
    if len(per) == 0 or MAIN_CONTRAST not in per.columns:
        return None
    return choose(
        per.rename(columns={"word": "concept"}),
        ("layer",),
        MAIN_CONTRAST,
        declared=declared_config(run, KIND, ("layer",)),
        seed=split_seed(run, KIND),
    )


def held_out_contrasts(per: pd.DataFrame, choice: Choice | None) -> pd.DataFrame:
    """Each contrast of :data:`CONTRASTS` at the chosen layer on the held-out words: paired by
    word, t interval over words (``value``, ``value_n`` = words), with the ``note``."""
    if choice is None:
        return pd.DataFrame()
    rows = []
    words = per.rename(columns={"word": "concept"})
    for first, second in CONTRASTS:
        col = f"{first} - {second}"
        if col not in per.columns:
            continue
        vals = concept_values(words, ("layer",), choice.config, col, choice.estimated_on)
        out: dict[str, Any] = {"contrast": col, "layer": choice.config[0]}
        put_estimate(out, "value", paired_mean_ci(list(vals)))
        out["note"] = choice.note("word")
        rows.append(out)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- headlines


def headlines(t: Tables, _upstream: Mapping[str, Tables]) -> list[Headline]:
    """The think - don't think contrast, paired by word, at the layer declared in the spec or
    chosen on half the words and estimated on the other half."""
    held = t["held_out"]
    if len(held) == 0:
        return []
    rows = held[held["contrast"] == MAIN_CONTRAST]
    if len(rows) == 0:
        return []
    row = rows.iloc[0]
    layer = fmt_num(row["layer"])
    reading = verdict(
        row["value_ci_low"],
        row["value_ci_high"],
        "the sentence activations carry the instruction's content along the word's direction",
        "no evidence that the instruction changes how much the sentence activations align "
        "with the word's direction",
        "the sentence activations align *less* with the word's direction when told to think "
        "about it",
        unit="words",
    )
    return [
        headline_from_row(
            "intentional control: think - don't think",
            row,
            "value",
            f"At layer {layer}{row['note']}, the sentence "
            "activations align more with the word's concept vector (relative to other words) "
            "when told to think about it than when told not to, by "
            f"{ci_or_none(row['value'], row['value_ci_low'], row['value_ci_high'], dec=3, unit='words')} "
            f"in cosine (each word's difference, n={int(row['value_n'])} words): {reading}.",
            unit="words",
            kind="cosine",
            config=cfg_text(row["layer"], None),
        )
    ]
