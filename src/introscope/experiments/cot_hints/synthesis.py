"""The per-item synthesis of the chain-of-thought suite (torch-free): is the written reasoning
post hoc exactly where the activations before it already hold the answer?

Per item (items matched by id across the suite's slices, so the specs must draw the same
items: same sources, families, counts and seed):

* *decodability*: the probability the nested out-of-fold probe of ``cot_probe`` gives the
  item's final answer from the activation before the chain;
* *AOC*: the item's early-answering area over the curve (``cot_interventions``; 0: the
  answer does not depend on the chain shown);
* *verbalisation*: the share of the item's hinted chains that mention the hint;
* *silent switching*: the share of its hint kinds under which the answer moves to the hint
  while the chain does not mention it (eligible kinds only).

Each row is Pearson's r over the items that have both, with a cluster-bootstrap interval
over families. A negative r between decodability and AOC: where the answer is decodable
before the chain, truncating the chain changes it less (the text is closer to post hoc).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from introscope.experiments.cot.columns import put_r
from introscope.tables import Tables, frame

PAIRS: tuple[tuple[str, str, str], ...] = (
    ("decodability", "aoc", "decodability before the chain vs early-answering AOC"),
    ("decodability", "verbalisation", "decodability before the chain vs hint verbalisation"),
    ("decodability", "silent_switch", "decodability before the chain vs silent switching"),
)


def per_item(upstream: Mapping[str, Tables], hint_items: pd.DataFrame) -> pd.DataFrame:
    """One row per item of the probe slice with the quantities the other slices give it."""
    probe = upstream.get("cot_probe", {}).get("items")
    if probe is None or len(probe) == 0 or "decodability" not in probe.columns:
        return pd.DataFrame()
    out = probe[["item", "family", "decodability"]].copy()
    inter = upstream.get("cot_interventions", {}).get("items")
    if inter is not None and len(inter) and "aoc" in inter.columns:
        out = out.merge(inter[["item", "aoc"]], on="item", how="left")
    if len(hint_items):
        verb = hint_items.groupby("item")["verbalised"].mean().rename("verbalisation")
        el = hint_items[hint_items["eligible"]].copy()
        el["silent"] = np.where(
            el["switched"].isna() | el["verbalised"].isna(),
            np.nan,
            ((el["switched"] == 1.0) & (el["verbalised"] == 0.0)).astype(float),
        )
        silent = el.groupby("item")["silent"].mean().rename("silent_switch")
        out = out.merge(verb, on="item", how="left").merge(silent, on="item", how="left")
    return out


def synthesis_table(upstream: Mapping[str, Tables], hint_items: pd.DataFrame) -> pd.DataFrame:
    items = per_item(upstream, hint_items)
    if len(items) == 0:
        return pd.DataFrame()
    rows = []
    for x, y, name in PAIRS:
        if y not in items.columns:
            continue
        out: dict[str, Any] = {"pair": name, "x": x, "y": y}
        put_r(out, "r", list(items[x]), list(items[y]), list(items["family"]))
        rows.append(out)
    return frame(rows)
