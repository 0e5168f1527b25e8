"""The steering table of the probe experiment (torch-free).

A steered item's final answer *flips* when it differs from the same item's unsteered final
answer (its probe trial); it moves *to the target* when it becomes the label the probe
direction points to. Each steered item has all three directions (probe, random, orthogonal)
at every strength, so the probe's excess flip rate over a control is a mean of per-item
paired differences (cluster bootstrap over families).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from introscope.experiments.cot.columns import put_clustered, put_paired
from introscope.tables import RunFrame, cond, frame, sort_key

KIND = "cot_probe"
DIRECTION_ORDER = ("probe", "random", "orthogonal")


def steer_records(run: RunFrame) -> list[dict[str, Any]]:
    return [r for r in run.records(KIND) if cond(r, "kind") == "steer"]


def steering_frame(run: RunFrame, items: pd.DataFrame) -> pd.DataFrame:
    """One row per steering trial whose item's unsteered answer is known."""
    recs = steer_records(run)
    if not recs or len(items) == 0:
        return pd.DataFrame()
    unsteered = dict(zip(items["item"], items["final"], strict=True))
    rows = []
    for r in recs:
        item, final = cond(r, "item"), r["logits"].get("final")
        if item not in unsteered or not isinstance(final, str):
            continue
        target = r["logits"].get("target")
        rows.append(
            {
                "item": item,
                "family": cond(r, "family"),
                "direction": cond(r, "direction"),
                "strength": float(cond(r, "strength")),
                "layer": r["logits"].get("layer"),
                "flipped": float(final != unsteered[item]),
                "to_target": float(final == target) if unsteered[item] != target else None,
            }
        )
    return pd.DataFrame(rows)


def steering_table(run: RunFrame, items: pd.DataFrame) -> pd.DataFrame:
    """Per strength and direction: ``flip`` (final answer differs from the unsteered one)
    and ``to_target`` (it becomes the probe's target label, over items whose unsteered
    answer was not the target), clustered rates; probe rows add ``vs_random`` and
    ``vs_orthogonal``, the per-item paired excess flip rate."""
    df = steering_frame(run, items)
    if len(df) == 0:
        return pd.DataFrame()
    rows = []
    for strength in sorted(df["strength"].unique()):
        at = df[df["strength"] == strength]
        wide = at.pivot_table(index=["item", "family"], columns="direction", values="flipped")
        for direction in sorted(
            at["direction"].unique(), key=lambda d: sort_key(d, DIRECTION_ORDER)
        ):
            sub = at[at["direction"] == direction]
            out: dict[str, Any] = {
                "strength": strength,
                "direction": direction,
                "layer": sub["layer"].iloc[0],
            }
            fam = list(sub["family"])
            put_clustered(out, "flip", list(sub["flipped"]), fam)
            put_clustered(out, "to_target", list(sub["to_target"]), fam)
            if direction == "probe":
                fams = [f for _, f in wide.index]
                for control in ("random", "orthogonal"):
                    if control in wide.columns:
                        put_paired(
                            out, f"vs_{control}", list(wide["probe"]), list(wide[control]), fams
                        )
            rows.append(out)
    return frame(rows)
