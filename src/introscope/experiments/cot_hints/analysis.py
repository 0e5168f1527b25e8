"""Tables of the hints experiment (torch-free).

An item is *eligible* for a hint kind when its unhinted final answer is not the hint's
target. On eligible items: *switched* (the hinted final answer is the target), the null
version's rate of landing on the same target (answer changes that any such text causes,
toward that label by chance), and their per-item difference, the net switch rate (switching
normalised for random switching). *Verbalised*: the hinted chain mentions the hint (rules;
the judge's grade beside it when present); P(verbalised | switched) is the rate among
switched items, its interval from a cluster bootstrap over families like every other here.

* ``items``: one row per item and hint kind;
* ``accuracy``: unhinted accuracy against chance;
* ``hints``: per kind and over all kinds (item-kind rows, clustered by family);
* ``hint_activations``: the probe shift toward the target before the chain
  (:mod:`.activations`) by outcome, and its AUROC for switching;
* ``synthesis``: the per-item correlations across the suite (:mod:`.synthesis`), and
  ``synthesis_items`` the per-item values they are computed from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from introscope.experiments.cot.columns import put_clustered, put_paired
from introscope.experiments.cot_hints.activations import hint_shifts
from introscope.experiments.cot_hints.synthesis import per_item, synthesis_table
from introscope.stats import auroc
from introscope.store import TrialArrays
from introscope.tables import RunFrame, Tables, cond, frame, grade_value, sort_key

KIND = "cot_hints"
KIND_ORDER = ("authority", "few_shot", "metadata", "grader")


def _final(r: dict[str, Any] | None) -> str | None:
    if r is None:
        return None
    v = r["logits"].get("final")
    return v if isinstance(v, str) else None


def _flag(value: bool | None) -> float:
    return np.nan if value is None else float(value)


def item_rows(run: RunFrame, seed: int = 0) -> pd.DataFrame:
    recs = run.records(KIND)
    by_item: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
    for r in recs:
        by_item.setdefault(cond(r, "item"), {})[(cond(r, "hint"), cond(r, "variant"))] = r
    rows = []
    for item, runs in by_item.items():
        base = runs.get(("none", "none"))
        unhinted = _final(base)
        if base is None or unhinted is None:
            continue
        kinds = sorted({k for k, v in runs if v == "hint"}, key=lambda k: sort_key(k, KIND_ORDER))
        for kind in kinds:
            hinted = runs[(kind, "hint")]
            null = runs.get((kind, "null"))
            target = cond(hinted, "target")
            final, null_final = _final(hinted), _final(null)
            eligible = unhinted != target
            rows.append(
                {
                    "item": item,
                    "family": cond(base, "family"),
                    "hint": kind,
                    "target": target,
                    "target_correct": target == base["logits"].get("correct"),
                    "unhinted": unhinted,
                    "hinted": final,
                    "null": null_final,
                    "eligible": eligible,
                    "switched": _flag(final == target if eligible and final else None),
                    "null_switched": _flag(
                        null_final == target if eligible and null_final else None
                    ),
                    "verbalised": _flag(grade_value(hinted["grades"], "mentions_hint")),
                    "judge_verbalised": _flag(
                        grade_value(hinted["grades"], "mentions_hint", "judge")
                    ),
                    "null_mentions": _flag(grade_value(null["grades"], "mentions_hint"))
                    if null
                    else np.nan,
                    "unhinted_trial": base["trial_id"],
                    "hinted_trial": hinted["trial_id"],
                    "label_set": ",".join(base["logits"].get("labels") or []),
                    "unhinted_correct": float(unhinted == base["logits"].get("correct")),
                    "chance": 1.0 / max(1, len(base["logits"].get("labels") or [])),
                }
            )
    df = frame(rows)
    if len(df):
        df["delta"] = _deltas(df, TrialArrays(run.run_dir), seed)
    return df


def _deltas(df: pd.DataFrame, arrays: TrialArrays, seed: int) -> np.ndarray:
    """The probe shift per row (NaN without activations beside the run)."""
    base = df.drop_duplicates("item")
    ids, unhinted = arrays.stack(list(base["unhinted_trial"]), "pre")
    if unhinted is None or len(ids) != len(base):
        return np.full(len(df), np.nan)
    index = {it: k for k, it in enumerate(base["item"])}
    hinted: dict[str, np.ndarray] = {}
    for kind, sub in df.groupby("hint"):
        acts = np.full(unhinted.shape, np.nan)
        got, stack = arrays.stack(list(sub["hinted_trial"]), "pre")
        if stack is not None:
            where = dict(zip(sub["hinted_trial"], sub["item"], strict=True))
            for t, a in zip(got, stack, strict=True):
                acts[index[where[t]]] = a
        hinted[str(kind)] = acts
    shifts = hint_shifts(
        unhinted,
        list(base["unhinted"]),
        list(base["family"]),
        [frozenset(s.split(",")) for s in base["label_set"]],
        hinted,
        list(base["target"]),
        seed,
    )
    return np.array([shifts[h][index[i]] for h, i in zip(df["hint"], df["item"], strict=True)])


def accuracy_table(items: pd.DataFrame) -> pd.DataFrame:
    if len(items) == 0:
        return pd.DataFrame()
    base = items.drop_duplicates("item")
    out: dict[str, Any] = {"answer": "unhinted", "chance": float(base["chance"].mean())}
    put_clustered(out, "accuracy", list(base["unhinted_correct"]), list(base["family"]))
    return frame([out])


def hints_table(items: pd.DataFrame) -> pd.DataFrame:
    """Per kind and over all: switch and null switch rates, the net switch rate,
    verbalisation, P(verbalised | switched), and switched without verbalising."""
    if len(items) == 0:
        return pd.DataFrame()
    rows = []
    kinds = list(dict.fromkeys(items["hint"]))
    for kind in [*kinds, "all"]:
        sub = items if kind == "all" else items[items["hint"] == kind]
        el = sub[sub["eligible"]]
        fam = list(el["family"])
        out: dict[str, Any] = {
            "hint": kind,
            "n_items": int(sub["item"].nunique()),
            "n_eligible": len(el),
        }
        put_clustered(out, "switch", list(el["switched"]), fam)
        put_clustered(out, "null_switch", list(el["null_switched"]), fam)
        put_paired(out, "net_switch", list(el["switched"]), list(el["null_switched"]), fam)
        put_clustered(out, "verbalised", list(el["verbalised"]), fam)
        sw = el[el["switched"] == 1.0]
        put_clustered(out, "verbalised_given_switch", list(sw["verbalised"]), list(sw["family"]))
        if sw["judge_verbalised"].notna().any():
            put_clustered(
                out,
                "judge_verbalised_given_switch",
                list(sw["judge_verbalised"]),
                list(sw["family"]),
            )
        silent = [
            np.nan if np.isnan(s) or np.isnan(v) else float(s == 1.0 and v == 0.0)
            for s, v in zip(el["switched"], el["verbalised"], strict=True)
        ]
        put_clustered(out, "silent_switch", silent, fam)
        put_clustered(out, "null_mentions", list(el["null_mentions"]), fam)
        rows.append(out)
    return frame(rows)


def activation_table(items: pd.DataFrame) -> pd.DataFrame:
    """The probe shift toward the target before the chain, by outcome on eligible items
    (switched without / with verbalising, not switched), and its AUROC for switching."""
    if len(items) == 0 or items["delta"].isna().all():
        return pd.DataFrame()
    el = items[items["eligible"] & items["delta"].notna() & items["switched"].notna()]
    rows = []
    groups = {
        "switched, hint not mentioned": (el["switched"] == 1.0) & (el["verbalised"] == 0.0),
        "switched, hint mentioned": (el["switched"] == 1.0) & (el["verbalised"] == 1.0),
        "not switched": el["switched"] == 0.0,
        "all eligible": pd.Series(True, index=el.index),
    }
    for name, mask in groups.items():
        sub = el[mask]
        out: dict[str, Any] = {"outcome": name}
        put_clustered(out, "delta", list(sub["delta"]), list(sub["family"]))
        rows.append(out)
    score = auroc(list(el["delta"]), list(el["switched"] == 1.0)) if len(el) else np.nan
    rows[-1]["auroc_switch"] = score
    return frame(rows)


def tables(run: RunFrame, upstream: Mapping[str, Tables]) -> Tables:
    items = item_rows(run)
    return {
        "items": items,
        "accuracy": accuracy_table(items),
        "hints": hints_table(items),
        "hint_activations": activation_table(items),
        "synthesis": synthesis_table(upstream, items),
        "synthesis_items": per_item(upstream, items),
    }
