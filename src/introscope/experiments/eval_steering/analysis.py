"""Evaluation-framing steering tables and headline rows (scorecard steps in :mod:`.scorecard`).

Outcomes per trial: ``p_hack`` (the hack candidate's probability renormalised over the three
letters) and ``hack`` (1 when the hack candidate gets the most probability). Every contrast
is paired per item: an item's value is its mean over paraphrases, formats (and random
draws), and the estimate is the mean over items of the per-item difference with a t
interval over items (``docs/statistics.md``); ``_p_holm`` adjusts the p-values over the
layer x strength configurations scanned (Holm), per outcome.

Tables:

* ``eval_steering_awareness``: per outcome x layer x strength, the awareness direction
  minus no injection, the random directions (their mean) minus no injection, and the
  awareness direction minus the random directions;
* ``eval_steering_framing``: per outcome x layer x strength, on judgment-framed prompts the
  framing direction minus no injection, the random direction minus no injection and the
  framing direction minus the random one, beside the behavioural effect (self-diagnostic
  minus judgment framing, no injection, on the same items);
* ``eval_steering_heldout``: per layer, the held-out check of the awareness direction: the
  projection of held-out test-style minus deployment-style statements (Welch t interval
  over statements, each statement's mean over its two formats), the AUC of the projection
  for test vs deployment, and the cosine between the two halves' directions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from introscope.experiments.eval_framing.analysis import HACK_ROLES
from introscope.experiments.selection import add_holm, paired_difference, put_estimate
from introscope.headlines import Headline, ci_or_none, headline_from_row
from introscope.stats import auroc, mean_difference_ci
from introscope.tables import RunFrame, Tables, cond, frame

KIND = "eval_framing_steering"
OUTCOMES = ("p_hack", "hack")
TABLES = ("eval_steering_awareness", "eval_steering_framing", "eval_steering_heldout")


def trial_frame(run: RunFrame) -> pd.DataFrame:
    """One row per read trial of the awareness and framing parts."""
    rows: list[dict[str, Any]] = []
    for r in run.records(KIND, "logits"):
        lg = r["logits"] or {}
        if cond(r, "part") not in ("awareness", "framing") or lg.get("choice") is None:
            continue
        p_hack = next((lg[f"p_{h}"] for h in HACK_ROLES if f"p_{h}" in lg), None)
        rows.append(
            {
                **{
                    k: cond(r, k)
                    for k in ("part", "item_id", "kind", "framing", "direction", "format")
                },
                "layer": cond(r, "layer"),
                "strength": cond(r, "strength"),
                "draw": cond(r, "draw"),
                "p_hack": p_hack,
                "hack": float(lg["choice"] in HACK_ROLES),
                "injected_norm": lg.get("injected_norm"),
            }
        )
    return frame(rows)


def per_item(d: pd.DataFrame, outcome: str) -> pd.Series:
    return d.groupby("item_id")[outcome].mean().astype(float)


def _configs(d: pd.DataFrame) -> list[tuple[int, float]]:
    inj = d[d["direction"] != "none"]
    pairs = {(int(a), float(b)) for a, b in zip(inj["layer"], inj["strength"], strict=True)}
    return sorted(pairs)


def _norm(d: pd.DataFrame) -> float:
    return float(pd.to_numeric(d["injected_norm"]).abs().mean()) if len(d) else float("nan")


def awareness_rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    d = df[df["part"] == "awareness"]
    none = d[d["direction"] == "none"]
    out = []
    for outcome in OUTCOMES:
        base = per_item(none, outcome)
        for layer, s in _configs(d):
            at = d[(d["layer"] == layer) & (d["strength"] == s)]
            aware = per_item(at[at["direction"] == "awareness"], outcome)
            rand = per_item(at[at["direction"] == "random"], outcome)
            row: dict[str, Any] = {
                "outcome": outcome,
                "layer": layer,
                "strength": s,
                "injected_norm": _norm(at[at["direction"] == "awareness"]),
                "n_random": int(at["draw"].nunique()),
                "mean_none": float(base.mean()),
                "mean_awareness": float(aware.mean()),
                "mean_random": float(rand.mean()),
            }
            put_estimate(row, "awareness_minus_none", paired_difference(aware, base))
            put_estimate(row, "random_minus_none", paired_difference(rand, base))
            put_estimate(row, "awareness_minus_random", paired_difference(aware, rand))
            out.append(row)
    return out


def framing_rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    d = df[df["part"] == "framing"]
    none = d[d["direction"] == "none"]
    out = []
    for outcome in OUTCOMES:
        judged = per_item(none[none["framing"] == "judgment"], outcome)
        selfd = per_item(none[none["framing"] == "self_diagnostic"], outcome)
        behaviour = paired_difference(selfd, judged)
        for layer, s in _configs(d):
            at = d[(d["layer"] == layer) & (d["strength"] == s)]
            inj = per_item(at[at["direction"] == "framing"], outcome)
            rand = per_item(at[at["direction"] == "random"], outcome)
            row: dict[str, Any] = {
                "outcome": outcome,
                "layer": layer,
                "strength": s,
                "injected_norm": _norm(at[at["direction"] == "framing"]),
                "mean_judgment": float(judged.mean()),
                "mean_self_diagnostic": float(selfd.mean()),
                "mean_injected": float(inj.mean()),
                "mean_random": float(rand.mean()),
            }
            put_estimate(row, "injected_minus_none", paired_difference(inj, judged))
            put_estimate(row, "random_minus_none", paired_difference(rand, judged))
            put_estimate(row, "injected_minus_random", paired_difference(inj, rand))
            put_estimate(row, "behavioural", behaviour)
            out.append(row)
    return out


def heldout_frame(run: RunFrame) -> pd.DataFrame:
    rows = []
    for r in run.records(KIND, "logits"):
        if cond(r, "part") != "heldout":
            continue
        lg = r["logits"] or {}
        for layer, value in (lg.get("projection") or {}).items():
            rows.append(
                {
                    "layer": int(layer),
                    "style": cond(r, "style"),
                    "statement": cond(r, "statement"),
                    "projection": float(value),
                    "halves_cosine": (lg.get("halves_cosine") or {}).get(layer),
                }
            )
    return frame(rows)


def heldout_rows(h: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for layer in sorted(set(h["layer"])):
        d = h[h["layer"] == layer]
        # A statement (both formats) is the unit: the formats share its wording.
        per = d.groupby(["style", "statement"])["projection"].mean()
        test = [float(v) for (style, _), v in per.items() if style == "test"]
        dep = [float(v) for (style, _), v in per.items() if style == "deployment"]
        row: dict[str, Any] = {"layer": layer}
        put_estimate(row, "separation", mean_difference_ci(test, dep))
        row["auc"] = auroc(test + dep, [True] * len(test) + [False] * len(dep))
        row["halves_cosine"] = float(pd.to_numeric(d["halves_cosine"]).mean())
        out.append(row)
    return out


def tables(run: RunFrame, _upstream: Mapping[str, Tables]) -> Tables:
    df = trial_frame(run)
    h = heldout_frame(run)
    aw = frame(awareness_rows(df)) if len(df) else frame([])
    fr = frame(framing_rows(df)) if len(df) else frame([])
    return {
        "eval_steering_awareness": add_holm(aw, "awareness_minus_random", ("outcome",)),
        "eval_steering_framing": add_holm(fr, "injected_minus_random", ("outcome",)),
        "eval_steering_heldout": frame(heldout_rows(h)) if len(h) else frame([]),
    }


def steer_text(row: Any, col: str) -> str:
    return ci_or_none(row[col], row[f"{col}_ci_low"], row[f"{col}_ci_high"])


def headlines(t: Tables, _upstream: Mapping[str, Tables]) -> list[Headline]:
    """Awareness direction minus random directions on p(hack), at every strength scanned
    (none picked: each is reported with its Holm-adjusted p)."""
    aw = t["eval_steering_awareness"]
    if len(aw) == 0:
        return []
    out = []
    for _, row in aw[aw["outcome"] == "p_hack"].iterrows():
        out.append(
            headline_from_row(
                f"p(hack), awareness direction minus random, L{int(row['layer'])} "
                f"x{row['strength']:+g}",
                row,
                "awareness_minus_random",
                "Adding the evaluation-awareness direction changes the hack candidate's "
                "probability by "
                f"{steer_text(row, 'awareness_minus_random')} more than norm-matched random "
                f"directions (paired per item, t interval; Holm p = "
                f"{row['awareness_minus_random_p_holm']:.3g}).",
                unit="items",
                config=f"layer {int(row['layer'])}, strength {row['strength']:+g}",
            )
        )
    return out
