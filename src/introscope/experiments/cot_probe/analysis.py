"""Tables of the chain-of-thought probe experiment (torch-free).

The unit is the item; every interval comes from a cluster bootstrap over item families.
Probe accuracies are out of fold with folds grouped by family (:mod:`..cot.probes`); the
headline accuracy chooses its layer inside each outer fold on the training families only.

* ``items``: one row per item: answers, the nested probe's prediction and the probability
  it gives the final answer (*decodability*), the baselines, and along the chain the first
  stably decodable position, the position where the text first states the answer, and the
  decision lead (stated - decodable, in chain tokens; positive: the activations lead).
* ``accuracy``: final (after the chain) and direct (no chain) accuracy against chance.
* ``probe_layers``: accuracy per layer (each layer's own out-of-fold probe; for the figure,
  not for selection), with the shuffled-label accuracy at that layer.
* ``probe``: the nested accuracy, the majority-class and shuffled-label baselines and the
  paired differences; how often the direct answer equals the final one.
* ``lead``: the decision lead summary. ``pairs``: both orders of a yes/no comparison
  answered alike (Arcuschin et al. 2025), with and without the chain.
* ``steering``: flip rates by direction (:mod:`.steer_tables`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from introscope.experiments.cot.columns import put_clustered, put_paired
from introscope.experiments.cot.probes import (
    first_decodable,
    layer_predictions,
    majority_correct,
    nested_predictions,
    permuted,
    shuffled_correct,
)
from introscope.experiments.cot_probe.steer_tables import steering_table
from introscope.store import TrialArrays
from introscope.tables import RunFrame, Tables, cond, frame

KIND = "cot_probe"
N_SHUFFLES = 3


def probe_records(run: RunFrame) -> list[dict[str, Any]]:
    return [r for r in run.records(KIND) if cond(r, "kind") == "probe"]


def _labelled(recs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records whose final answer was read."""
    return [r for r in recs if isinstance(r["logits"].get("final"), str)]


def item_rows(run: RunFrame, seed: int = 0) -> pd.DataFrame:
    """One row per probe item (see the module docstring)."""
    recs = _labelled(probe_records(run))
    if not recs:
        return pd.DataFrame()
    rows = []
    for r in recs:
        lg = r["logits"]
        labs = list(lg.get("labels") or [])
        final, direct, correct = lg.get("final"), lg.get("direct"), lg.get("correct")
        rows.append(
            {
                "item": cond(r, "item"),
                "family": cond(r, "family"),
                "pair": lg.get("pair"),
                "trial_id": r["trial_id"],
                "n_labels": len(labs),
                "chance": 1.0 / len(labs) if labs else np.nan,
                "correct_label": correct,
                "final": final,
                "direct": direct,
                "final_correct": float(final == correct),
                "direct_correct": np.nan if direct is None else float(direct == correct),
                "direct_is_final": np.nan if direct is None else float(direct == final),
                "n_cot_tokens": lg.get("n_cot_tokens"),
                "stated_at": lg.get("stated_at"),
                "label_set": ",".join(labs),
            }
        )
    df = pd.DataFrame(rows)
    _add_probe_columns(df, TrialArrays(run.run_dir), run, seed)
    return df


def allowed_labels(items: pd.DataFrame) -> list[frozenset[str]]:
    return [frozenset(str(s).split(",")) for s in items["label_set"]]


def _add_probe_columns(df: pd.DataFrame, arrays: TrialArrays, run: RunFrame, seed: int) -> None:
    for col in (
        "probe_pred",
        "probe_correct",
        "decodability",
        "probe_layer",
        "majority_correct",
        "shuffled_correct",
        "decodable_at",
        "lead",
    ):
        df[col] = None if col in ("probe_pred", "probe_layer") else np.nan
    ids, pre = arrays.stack(list(df["trial_id"]), "pre")
    if pre is None or len(ids) != len(df):
        return  # no activations beside the run (the tables say so)
    y, fam, allowed = list(df["final"]), list(df["family"]), allowed_labels(df)
    nested = nested_predictions(pre, y, fam, allowed, seed)
    layers = _probe_layers(run)
    df["probe_pred"] = nested.predicted
    df["probe_correct"] = nested.correct(y)
    df["decodability"] = nested.p_true
    df["probe_layer"] = [layers[i] if 0 <= i < len(layers) else None for i in nested.layer]
    df["majority_correct"] = majority_correct(y, fam, allowed)
    df["shuffled_correct"] = shuffled_correct(pre, y, fam, allowed, N_SHUFFLES, seed)
    seqs = [arrays.get(t, "cot") for t in df["trial_id"]]
    if any(s is None or len(s) == 0 for s in seqs):
        return
    first = first_decodable([s for s in seqs if s is not None], y, fam, allowed, seed)
    positions = {r["trial_id"]: r["logits"].get("cot_positions") or [] for r in probe_records(run)}
    at, lead = [], []
    for t, k, stated in zip(df["trial_id"], first, df["stated_at"], strict=True):
        pos = positions.get(t, [])
        tok = float(pos[k]) if k is not None and k < len(pos) else np.nan
        at.append(tok)
        lead.append(float(stated) - tok if stated is not None and np.isfinite(tok) else np.nan)
    df["decodable_at"] = at
    df["lead"] = lead


def _probe_layers(run: RunFrame) -> list[int]:
    for r in probe_records(run):
        layers = r["logits"].get("probe_layers")
        if layers:
            return [int(x) for x in layers]
    return []


def accuracy_table(items: pd.DataFrame) -> pd.DataFrame:
    """Final and direct accuracy (clustered rates) and the chance level they are read
    against (the mean of 1 / number of labels)."""
    if len(items) == 0:
        return pd.DataFrame()
    rows = []
    fam = list(items["family"])
    for answer in ("final", "direct"):
        out: dict[str, Any] = {"answer": answer, "chance": float(items["chance"].mean())}
        put_clustered(out, "accuracy", list(items[f"{answer}_correct"]), fam)
        rows.append(out)
    return frame(rows)


def probe_layer_table(run: RunFrame, items: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Out-of-fold accuracy of each probe layer's own probe, and of the same probe on
    labels permuted once among items with the same label set."""
    if len(items) == 0:
        return pd.DataFrame()
    arrays = TrialArrays(run.run_dir)
    ids, pre = arrays.stack(list(items["trial_id"]), "pre")
    if pre is None or len(ids) != len(items):
        return pd.DataFrame()
    y, fam = list(items["final"]), list(items["family"])
    allowed = allowed_labels(items)
    ys = permuted(y, allowed, np.random.default_rng(seed))
    rows = []
    for k, layer in enumerate(_probe_layers(run)):
        out: dict[str, Any] = {"layer": layer}
        put_clustered(
            out,
            "accuracy",
            list(layer_predictions(pre[:, k], y, fam, allowed, seed).correct(y)),
            fam,
        )
        put_clustered(
            out,
            "shuffled",
            list(layer_predictions(pre[:, k], ys, fam, allowed, seed).correct(ys)),
            fam,
        )
        rows.append(out)
    return frame(rows)


def probe_table(items: pd.DataFrame) -> pd.DataFrame:
    """The nested probe against its baselines (one row; empty without activations)."""
    if len(items) == 0 or items["probe_correct"].isna().all():
        return pd.DataFrame()
    fam = list(items["family"])
    out: dict[str, Any] = {"n_families": int(items["family"].nunique())}
    probe, major, shuf = (
        list(items[c]) for c in ("probe_correct", "majority_correct", "shuffled_correct")
    )
    put_clustered(out, "accuracy", probe, fam)
    put_clustered(out, "majority", major, fam)
    put_clustered(out, "shuffled", shuf, fam)
    put_paired(out, "vs_majority", probe, major, fam)
    put_paired(out, "vs_shuffled", probe, shuf, fam)
    put_clustered(out, "direct_is_final", list(items["direct_is_final"]), fam)
    changed = items[items["direct_is_final"] == 0.0]
    put_clustered(
        out, "accuracy_when_changed", list(changed["probe_correct"]), list(changed["family"])
    )
    layers = items["probe_layer"].dropna()
    out["layers_chosen"] = ", ".join(
        f"{int(k)} ({v}/{len(layers)} items)" for k, v in layers.astype(int).value_counts().items()
    )
    return frame([out])


def lead_table(items: pd.DataFrame) -> pd.DataFrame:
    """How often the chain states its answer, how often the answer is stably decodable along
    it (and already before it), and the decision lead in chain tokens (one row)."""
    if len(items) == 0 or items["probe_correct"].isna().all():
        return pd.DataFrame()
    fam = list(items["family"])
    out: dict[str, Any] = {}
    put_clustered(out, "stated", [float(s is not None and s == s) for s in items["stated_at"]], fam)
    dec = items["decodable_at"]
    put_clustered(out, "decodable", [float(np.isfinite(v)) for v in dec.astype(float)], fam)
    put_clustered(out, "decodable_before_chain", [float(v == 0) for v in dec.astype(float)], fam)
    put_clustered(out, "lead_tokens", list(items["lead"].astype(float)), fam)
    lead = items["lead"].astype(float).dropna()
    out["lead_median"] = float(lead.median()) if len(lead) else np.nan
    out["mean_cot_tokens"] = float(pd.to_numeric(items["n_cot_tokens"]).mean())
    return frame([out])


def pair_table(items: pd.DataFrame) -> pd.DataFrame:
    """Yes/no comparisons asked in both orders: the rate of pairs answered alike (Yes/Yes or
    No/No: inconsistent whatever the facts), with the chain and without (clustered by
    family; the pair is the unit), and on the chain's row the paired difference (with chain
    minus without, over pairs answered both ways)."""
    if len(items) == 0 or items["pair"].isna().all():
        return pd.DataFrame()
    per_pair: dict[str, dict[str, float | None]] = {"final": {}, "direct": {}}
    yes: dict[str, list[float]] = {"final": [], "direct": []}
    family: dict[str, Any] = {}
    for pair, grp in items[items["pair"].notna()].groupby("pair"):
        family[str(pair)] = grp["family"].iloc[0]
        for answer in ("final", "direct"):
            vals = list(grp[answer])
            ok = len(vals) == 2 and not any(v is None for v in vals)
            per_pair[answer][str(pair)] = float(vals[0] == vals[1]) if ok else None
            if ok:
                yes[answer].append(float(vals[0] == vals[1] == "Yes"))
    pairs = list(family)
    fams = [family[p] for p in pairs]
    rows = []
    for answer in ("final", "direct"):
        same = [per_pair[answer][p] for p in pairs]
        answered = [p for p in pairs if per_pair[answer][p] is not None]
        out: dict[str, Any] = {"answer": answer, "n_pairs": len(answered)}
        put_clustered(out, "same_answer", same, fams)
        put_clustered(out, "both_yes", yes[answer], [family[p] for p in answered])
        if answer == "final":
            put_paired(out, "vs_direct", same, [per_pair["direct"][p] for p in pairs], fams)
        rows.append(out)
    return frame(rows)


def tables(run: RunFrame, _upstream: Mapping[str, Tables]) -> Tables:
    items = item_rows(run)
    return {
        "items": items,
        "accuracy": accuracy_table(items),
        "probe": probe_table(items),
        "probe_layers": probe_layer_table(run, items),
        "lead": lead_table(items),
        "pairs": pair_table(items),
        "steering": steering_table(run, items),
    }
