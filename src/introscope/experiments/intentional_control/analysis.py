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
from introscope.headlines import Headline, cfg_text, ci_text, fmt_num, headline_from_row, post_hoc
from introscope.stats import mean_difference_ci
from introscope.tables import (
    RunFrame,
    Tables,
    best_row,
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
    instructions' mean deltas with a Welch CI (``delta_n`` / ``delta_n_ref`` the two ns).
    """
    recs = run.records(KIND)
    if not recs:
        return pd.DataFrame()
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
            put_diff(con, "delta", mean_difference_ci(va, vb))
            rows.append(con)
    return frame(rows)


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
    return {
        "intentional_control": intentional_control_table(run),
        "intentional_control_tokens": intentional_control_token_table(run),
    }


# --------------------------------------------------------------------------- headlines


def headlines(t: Tables, _upstream: Mapping[str, Tables]) -> list[Headline]:
    """The think - don't think contrast at the layer where it is largest (post hoc)."""
    ic = t["intentional_control"]
    if len(ic) == 0:
        return []
    con = ic[(ic["row_type"] == "contrast") & (ic["instruction"] == "think - dont_think")]
    row, k = best_row(con, "delta")
    if row is None:
        return []
    return [
        headline_from_row(
            "intentional control: think - don't think",
            row,
            "delta",
            f"At layer {fmt_num(row['layer'])}{post_hoc(k)}, the sentence activations "
            "align more with the word's concept vector (relative to other words) when "
            "told to think about it than when told not to, by "
            f"{ci_text(row['delta'], row['delta_ci_low'], row['delta_ci_high'])} in cosine.",
            kind="cosine",
            config=cfg_text(row["layer"], None),
        )
    ]
