"""Category thresholds (DESIGN §3.3): tables, regression and summary lines.

Input is the frame from :func:`introscope.store.load_run` (the whole run is fine: only rows
with ``experiment == "category_thresholds"`` are used; see
:mod:`introscope.experiments.category_thresholds` for the row contract).

The unit of analysis is the concept. At each (layer, strength) a concept contributes one
paired difference ``P(yes | concept vector) - P(yes | its norm-matched random vector)``.

* :func:`threshold_table`: per category x layer x strength, the mean paired difference over
  the category's concepts with a one-sample t CI; the category's **threshold** at a layer is
  the lowest strength whose CI lower bound is above 0 (the semantics of
  :func:`introscope.stats.lowest_passing_level`: levels are scanned in increasing order and
  need not pass monotonically; None when no strength passes).
* :func:`concept_threshold_table`: per concept x layer, the lowest strength whose single
  paired difference exceeds ``margin`` (a single deterministic difference has no CI, so a
  fixed margin in P(yes) units stands in for one), the mean difference over strengths, and
  the connection measures.
* :func:`threshold_regression`: OLS (classical CIs) of the per-concept detection effect on
  the connection measures and category, per layer and strength and on the mean over
  strengths; plus log2(threshold) with never-passing concepts set to log2(2 x max strength).
* :func:`thresholds_summary`: headline rows ``{name, estimate, ci_low, ci_high, n,
  sentence}`` in mechanistic wording.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from introscope.stats import linear_regression, paired_mean_ci
from introscope.words import CATEGORIES

__all__ = [
    "KIND",
    "concept_effects",
    "concept_threshold_table",
    "threshold_regression",
    "threshold_table",
    "thresholds_summary",
]

KIND = "category_thresholds"
NAN = float("nan")
CONCEPT_MARGIN = 0.05


# --------------------------------------------------------------------------- helpers


def _num(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _records(df: pd.DataFrame | None) -> list[dict[str, Any]]:
    if df is None or len(df) == 0 or "experiment" not in df.columns:
        return []
    out = []
    for row in df[df["experiment"] == KIND].to_dict("records"):
        out.append({"condition": _dict(row.get("condition")), "logits": _dict(row.get("logits"))})
    return out


def _cat_order(cat: Any) -> tuple[int, str]:
    c = str(cat)
    return (CATEGORIES.index(c) if c in CATEGORIES else len(CATEGORIES), c)


def category_label(cat: str) -> str:
    """``abstract_nouns`` -> ``abstract nouns``."""
    return str(cat).replace("_", " ")


def _fmt(x: float) -> str:
    return "nan" if x != x else f"{x:+.3f}"


def _lowest_passing(levels: Sequence[float], lows: Sequence[float]) -> float | None:
    """Smallest level whose CI lower bound is above zero (NaN bounds never pass)."""
    for level, low in sorted(zip(levels, lows, strict=True)):
        if low == low and low > 0.0:
            return level
    return None


# --------------------------------------------------------------------------- tables


def _measures(recs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for r in recs:
        c = r["condition"]
        if c.get("control") == "measure" and c.get("concept") is not None:
            out[str(c["concept"])] = r["logits"]
    return out


def concept_effects(df: pd.DataFrame) -> pd.DataFrame:
    """One row per concept x layer x strength: ``p_yes_concept``, ``p_yes_random``, their
    difference ``diff``, and the concept's ``word_logprob``, ``word_n_tokens`` and
    ``cosine`` (at that layer)."""
    recs = _records(df)
    measures = _measures(recs)
    cells: dict[tuple[str, str, int, float], dict[str, float]] = {}
    for r in recs:
        c = r["condition"]
        control = c.get("control")
        if control not in ("concept", "random"):
            continue
        layer, strength, p = (
            _num(c.get("layer")),
            _num(c.get("strength")),
            _num(r["logits"].get("p_yes")),
        )
        if layer is None or strength is None or p is None or c.get("concept") is None:
            continue
        key = (str(c["concept"]), str(c.get("category")), int(layer), strength)
        cells.setdefault(key, {})[str(control)] = p
    rows = []
    for (concept, cat, layer, strength), ps in cells.items():
        if "concept" not in ps or "random" not in ps:
            continue
        m = measures.get(concept, {})
        cos = _dict(m.get("cosine")).get(str(layer))
        rows.append(
            {
                "concept": concept,
                "category": cat,
                "layer": layer,
                "strength": strength,
                "p_yes_concept": ps["concept"],
                "p_yes_random": ps["random"],
                "diff": ps["concept"] - ps["random"],
                "word_logprob": _num(m.get("word_logprob")),
                "word_n_tokens": _num(m.get("word_n_tokens")),
                "cosine": _num(cos),
            }
        )
    cols = [
        "concept",
        "category",
        "layer",
        "strength",
        "p_yes_concept",
        "p_yes_random",
        "diff",
        "word_logprob",
        "word_n_tokens",
        "cosine",
    ]
    out = pd.DataFrame(rows, columns=cols)
    if len(out):
        out = out.sort_values(
            ["category", "layer", "concept", "strength"],
            key=lambda s: s.map(_cat_order) if s.name == "category" else s,
        ).reset_index(drop=True)
    return out


def threshold_table(df: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Per category x layer x strength: mean P(yes) under the concept and random vectors,
    the paired difference ``diff`` with ``diff_ci_low``/``diff_ci_high`` (one-sample t over
    the category's concepts) and ``diff_n`` (concepts), ``passes`` (CI lower bound > 0),
    and ``threshold``: the category's lowest passing strength at that layer (repeated on
    each of its rows; NaN when none passes)."""
    eff = concept_effects(df)
    cols = [
        "category",
        "layer",
        "strength",
        "p_yes_concept",
        "p_yes_random",
        "diff",
        "diff_ci_low",
        "diff_ci_high",
        "diff_n",
        "passes",
        "threshold",
    ]
    if len(eff) == 0:
        return pd.DataFrame(columns=cols)
    rows = []
    for (cat, layer), g in eff.groupby(["category", "layer"], sort=False):
        block = []
        for strength, gs in g.groupby("strength"):
            d = paired_mean_ci(gs["diff"].tolist(), confidence)
            block.append(
                {
                    "category": cat,
                    "layer": int(layer),
                    "strength": float(strength),
                    "p_yes_concept": float(gs["p_yes_concept"].mean()),
                    "p_yes_random": float(gs["p_yes_random"].mean()),
                    "diff": d.estimate,
                    "diff_ci_low": d.low,
                    "diff_ci_high": d.high,
                    "diff_n": d.n_a,
                    "passes": bool(d.low == d.low and d.low > 0.0),
                }
            )
        thr = _lowest_passing([b["strength"] for b in block], [b["diff_ci_low"] for b in block])
        for b in block:
            b["threshold"] = NAN if thr is None else thr
        rows.extend(block)
    out = pd.DataFrame(rows, columns=cols)
    return out.sort_values(
        ["category", "layer", "strength"],
        key=lambda s: s.map(_cat_order) if s.name == "category" else s,
    ).reset_index(drop=True)


def category_thresholds(table: pd.DataFrame) -> pd.DataFrame:
    """One row per category x layer from :func:`threshold_table`: ``threshold`` and the
    difference (with CI) at the threshold, or at the highest strength when none passes."""
    cols = ["category", "layer", "threshold", "diff", "diff_ci_low", "diff_ci_high", "diff_n"]
    rows = []
    for (cat, layer), g in table.groupby(["category", "layer"], sort=False):
        thr = _num(g["threshold"].iloc[0])
        at = g[g["strength"] == thr] if thr is not None else g[g["strength"] == g["strength"].max()]
        r = at.iloc[0]
        rows.append(
            {
                "category": cat,
                "layer": int(layer),
                "threshold": NAN if thr is None else thr,
                "strength_shown": float(r["strength"]),
                "diff": float(r["diff"]),
                "diff_ci_low": float(r["diff_ci_low"]),
                "diff_ci_high": float(r["diff_ci_high"]),
                "diff_n": int(r["diff_n"]),
            }
        )
    return pd.DataFrame(rows, columns=[*cols[:3], "strength_shown", *cols[3:]])


def concept_threshold_table(df: pd.DataFrame, margin: float = CONCEPT_MARGIN) -> pd.DataFrame:
    """Per concept x layer: ``threshold`` (lowest strength whose paired difference exceeds
    ``margin``; NaN when none does), ``mean_diff`` over the strength sweep, one
    ``diff@<strength>`` column per strength, and the connection measures."""
    eff = concept_effects(df)
    if len(eff) == 0:
        return pd.DataFrame(
            columns=["concept", "category", "layer", "threshold", "mean_diff", "word_logprob"]
        )
    rows = []
    for (concept, cat, layer), g in eff.groupby(["concept", "category", "layer"], sort=False):
        g = g.sort_values("strength")
        passing = g[g["diff"] > margin]
        row: dict[str, Any] = {
            "concept": concept,
            "category": cat,
            "layer": int(layer),
            "threshold": float(passing["strength"].iloc[0]) if len(passing) else NAN,
            "mean_diff": float(g["diff"].mean()),
            "word_logprob": g["word_logprob"].iloc[0],
            "word_n_tokens": g["word_n_tokens"].iloc[0],
            "cosine": g["cosine"].iloc[0],
            "max_strength": float(g["strength"].max()),
        }
        for s, d in zip(g["strength"], g["diff"], strict=True):
            row[f"diff@{s:g}"] = float(d)
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- regression


def _fit(
    y: np.ndarray, preds: dict[str, np.ndarray], confidence: float
) -> tuple[list[dict[str, Any]], int, float] | None:
    """OLS of y on the non-constant, finite predictors; None when it cannot be fitted."""
    ok = np.isfinite(y)
    for v in preds.values():
        ok &= np.isfinite(v)
    X = {k: v[ok] for k, v in preds.items()}
    X = {k: v for k, v in X.items() if len(v) and float(np.std(v)) > 0}
    n = int(ok.sum())
    if n <= len(X) + 1:
        return None
    res = linear_regression(y[ok].tolist(), {k: v.tolist() for k, v in X.items()}, True, confidence)
    return res.table(), n, res.r2


def threshold_regression(df: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Relate each concept's detection effect to its connection measures and category.

    Outcomes, per layer: ``effect`` (the paired difference at each strength), ``mean_effect``
    (its mean over strengths; ``strength`` NaN) and ``log2_threshold`` (per-concept threshold
    from :func:`concept_threshold_table`, never-passing concepts set to log2(2 x max
    strength); ``strength`` NaN). Models: ``connection`` (``word_logprob`` + ``cosine``),
    ``category`` (indicators against the first category present, in paper order) and
    ``connection+category``. One row per coefficient: ``outcome, model, layer, strength,
    term, estimate, se, ci_low, ci_high, p, n, r2``.

    The hypothesis that abstract nouns and verbs are detected more easily because they
    connect less readily to the prompt predicts negative connection coefficients and
    category coefficients that shrink from ``category`` to ``connection+category``.
    """
    cols = [
        "outcome",
        "model",
        "layer",
        "strength",
        "term",
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "p",
        "n",
        "r2",
    ]
    eff = concept_effects(df)
    if len(eff) == 0:
        return pd.DataFrame(columns=cols)
    cats = sorted(eff["category"].unique(), key=_cat_order)
    ref, others = cats[0], cats[1:]
    per_concept = concept_threshold_table(df)
    rows: list[dict[str, Any]] = []

    def add(outcome: str, layer: int, strength: float, g: pd.DataFrame, y: np.ndarray) -> None:
        conn = {
            "word_logprob": g["word_logprob"].to_numpy(dtype=float),
            "cosine": g["cosine"].to_numpy(dtype=float),
        }
        dummies = {f"category[{c}]": (g["category"] == c).to_numpy(dtype=float) for c in others}
        models = {"connection": conn, "category": dummies, "connection+category": conn | dummies}
        for model, preds in models.items():
            fit = _fit(y, preds, confidence)
            if fit is None:
                continue
            table, n, r2 = fit
            for t in table:
                rows.append(
                    {
                        "outcome": outcome,
                        "model": model,
                        "layer": layer,
                        "strength": strength,
                        "term": t["name"],
                        **{k: v for k, v in t.items() if k != "name"},
                        "n": n,
                        "r2": r2,
                        "reference": ref,
                    }
                )

    for (layer, strength), g in eff.groupby(["layer", "strength"]):
        add("effect", int(layer), float(strength), g, g["diff"].to_numpy(dtype=float))
    for layer, g in per_concept.groupby("layer"):
        add("mean_effect", int(layer), NAN, g, g["mean_diff"].to_numpy(dtype=float))
        thr = g["threshold"].to_numpy(dtype=float)
        cens = np.where(np.isfinite(thr), thr, 2.0 * g["max_strength"].to_numpy(dtype=float))
        if np.isfinite(thr).any():
            add("log2_threshold", int(layer), NAN, g, np.log2(cens))
    return pd.DataFrame(rows, columns=[*cols, "reference"])


# --------------------------------------------------------------------------- summary


def _coef_interval(c: Any) -> str:
    """``estimate [low, high]`` of one regression coefficient row."""
    return f"{_fmt(float(c['estimate']))} [{_fmt(float(c['ci_low']))}, {_fmt(float(c['ci_high']))}]"


def _coefficient_finding(name: str, c: Any, sentence: str) -> dict[str, Any]:
    """A finding row for one regression coefficient row ``c``."""
    return {
        "name": name,
        "estimate": float(c["estimate"]),
        "ci_low": float(c["ci_low"]),
        "ci_high": float(c["ci_high"]),
        "n": int(c["n"]),
        "sentence": sentence,
    }


def thresholds_summary(df: pd.DataFrame, confidence: float = 0.95) -> list[dict[str, Any]]:
    """Headline rows ``{name, estimate, ci_low, ci_high, n, sentence}``.

    One row per category x layer (the threshold; estimate = the difference at the threshold,
    or at the highest strength when none passes), then, per layer, the connection measures'
    coefficients on the mean effect over strengths (``connection`` model) and the category
    coefficients with and without the connection measures.
    """
    table = threshold_table(df, confidence)
    out: list[dict[str, Any]] = []
    if len(table) == 0:
        return out
    for r in category_thresholds(table).to_dict("records"):
        cat, layer, thr = category_label(r["category"]), r["layer"], _num(r["threshold"])
        ci = f"{_fmt(r['diff'])} [{_fmt(r['diff_ci_low'])}, {_fmt(r['diff_ci_high'])}]"
        if thr is not None:
            sentence = (
                f"At layer {layer}, {cat} need strength ≥ {thr:g} before P(yes) to the "
                f"detection question under the concept vector exceeds a norm-matched random "
                f"vector (difference {ci}, n={r['diff_n']} concepts)."
            )
        else:
            sentence = (
                f"At layer {layer}, P(yes) under the concept vectors of {cat} does not exceed "
                f"a norm-matched random vector at any strength up to "
                f"{r['strength_shown']:g} (difference there {ci}, n={r['diff_n']} concepts)."
            )
        out.append(
            {
                "name": f"threshold/{r['category']}/L{layer}",
                "estimate": r["diff"],
                "ci_low": r["diff_ci_low"],
                "ci_high": r["diff_ci_high"],
                "n": r["diff_n"],
                "threshold": thr,
                "sentence": sentence,
            }
        )
    reg = threshold_regression(df, confidence)
    if len(reg) == 0:
        return out
    mean = reg[reg["outcome"] == "mean_effect"]
    for layer, g in mean.groupby("layer"):
        for term, what in (
            ("word_logprob", "per nat of the concept word's log-probability in the trial context"),
            ("cosine", "per unit cosine between the concept vector and the prompt's activation"),
        ):
            row = g[(g["model"] == "connection") & (g["term"] == term)]
            if len(row) == 0:
                continue
            c = row.iloc[0]
            out.append(
                _coefficient_finding(
                    f"connection/{term}/L{int(layer)}",
                    c,
                    f"At layer {int(layer)}, the concept-minus-random P(yes) difference "
                    f"(mean over strengths) changes by {_coef_interval(c)} {what} "
                    f"(OLS with both connection measures, n={int(c['n'])} concepts).",
                )
            )
        for term in sorted({t for t in g["term"] if str(t).startswith("category[")}):
            alone = g[(g["model"] == "category") & (g["term"] == term)]
            both = g[(g["model"] == "connection+category") & (g["term"] == term)]
            if len(alone) == 0:
                continue
            a = alone.iloc[0]
            cat = category_label(term[len("category[") : -1])
            ref = category_label(str(a["reference"]))
            adj = ""
            if len(both):
                adj = (
                    f"; {_coef_interval(both.iloc[0])} after adjusting for the connection measures"
                )
            out.append(
                _coefficient_finding(
                    f"category/{term[len('category[') : -1]}/L{int(layer)}",
                    a,
                    f"At layer {int(layer)}, the concept-minus-random P(yes) difference "
                    f"(mean over strengths) of {cat} differs from {ref} by "
                    f"{_coef_interval(a)}{adj}.",
                )
            )
    return out
