"""Category-threshold tables, headline rows and scorecard step 9.

The unit of analysis is the concept. At each (layer, strength) a concept contributes one
paired difference ``P(yes | concept vector) - P(yes | its norm-matched random vector)``.

* :func:`concept_effects`: that difference per concept x layer x strength, with the
  concept's connection measures and the strength relative to the residual stream
  (``s * |v| / |h|``, :mod:`introscope.experiments.dose`);
* :func:`threshold_table`: per category x layer x strength, the mean paired difference over
  the category's concepts with a one-sample t CI (the points the curve is fitted to);
* :func:`category_threshold_table`: one row per category x layer, the dose-response: a
  logistic in log2(strength) fitted to the category's per-concept differences
  (:func:`introscope.stats.dose.dose_response`), its **EC50** (the strength at half of the
  fitted plateau ``emax``) with a concept-bootstrap CI, also relative to the residual
  stream. It replaces the lowest-strength-whose-CI-passes scan, which depended on the grid's
  spacing and on the number of concepts (issue 10);
* :func:`concept_threshold_table`: per concept x layer, the lowest strength whose single
  paired difference exceeds ``margin`` (a single deterministic difference has no CI, so a
  fixed margin in P(yes) units stands in for one), the mean difference over strengths, and
  the connection measures;
* :func:`threshold_regression`: OLS (classical CIs) of the per-concept detection effect on
  the connection measures and category, per layer and strength and on the mean over
  strengths; plus log2(threshold) with never-passing concepts set to log2(2 x max strength).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from introscope.experiments.category_thresholds.params import KIND
from introscope.experiments.dose import (
    DOSE_COLUMNS,
    injected_norm,
    mean_or_none,
    put_dose,
    relative,
    residual_norms,
)
from introscope.stats import linear_regression, paired_mean_ci
from introscope.tables import NAN, Record, RunFrame, Tables, as_dict, number
from introscope.words import CATEGORIES

CONCEPT_MARGIN = 0.05


EFFECT_COLUMNS = [
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
    "vector_norm",
    "relative_strength",
]
THRESHOLD_COLUMNS = [
    "category",
    "layer",
    "strength",
    "relative_strength",
    "p_yes_concept",
    "p_yes_random",
    "diff",
    "diff_ci_low",
    "diff_ci_high",
    "diff_n",
]
CATEGORY_COLUMNS = ["category", "layer", *DOSE_COLUMNS]
REGRESSION_COLUMNS = [
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
    "reference",
]


def category_order(cat: Any) -> tuple[int, str]:
    """Paper categories in paper order, then any other category by name."""
    c = str(cat)
    return (CATEGORIES.index(c) if c in CATEGORIES else len(CATEGORIES), c)


def category_label(cat: str) -> str:
    """``abstract_nouns`` -> ``abstract nouns``."""
    return str(cat).replace("_", " ")


def by_category(s: pd.Series) -> pd.Series:
    """Sort key for ``DataFrame.sort_values``: categories in :func:`category_order`."""
    return s.map(category_order) if s.name == "category" else s


# --------------------------------------------------------------------------- tables


def connection_measures(recs: list[Record]) -> dict[str, dict[str, Any]]:
    """Concept -> the readout of its ``measure`` row."""
    out: dict[str, dict[str, Any]] = {}
    for r in recs:
        c = r["condition"]
        if c.get("control") == "measure" and c.get("concept") is not None:
            out[str(c["concept"])] = r["logits"]
    return out


def concept_effects(run: RunFrame) -> pd.DataFrame:
    """One row per concept x layer x strength: ``p_yes_concept``, ``p_yes_random``, their
    difference ``diff``, the concept's ``word_logprob``, ``word_n_tokens`` and ``cosine``
    (at that layer), its vector's norm there (``vector_norm``) and ``relative_strength`` =
    strength x vector_norm / the run's residual norm at that layer (NaN when the run did
    not measure it)."""
    recs = run.records(KIND)
    measures = connection_measures(recs)
    resid = residual_norms(recs)
    norms: dict[tuple[str, int], float | None] = {}
    cells: dict[tuple[str, str, int, float], dict[str, float]] = {}
    for r in recs:
        c = r["condition"]
        control = c.get("control")
        if control not in ("concept", "random"):
            continue
        layer, strength = number(c.get("layer")), number(c.get("strength"))
        p = number(r["logits"].get("p_yes"))
        if layer is None or strength is None or p is None or c.get("concept") is None:
            continue
        key = (str(c["concept"]), str(c.get("category")), int(layer), strength)
        cells.setdefault(key, {})[str(control)] = p
        if control == "concept":
            norms[(key[0], key[2])] = injected_norm(r)
    rows = []
    for (concept, cat, layer, strength), ps in cells.items():
        if "concept" not in ps or "random" not in ps:
            continue
        m = measures.get(concept, {})
        cos = as_dict(m.get("cosine")).get(str(layer))
        vnorm = norms.get((concept, layer))
        rows.append(
            {
                "concept": concept,
                "category": cat,
                "layer": layer,
                "strength": strength,
                "p_yes_concept": ps["concept"],
                "p_yes_random": ps["random"],
                "diff": ps["concept"] - ps["random"],
                "word_logprob": number(m.get("word_logprob")),
                "word_n_tokens": number(m.get("word_n_tokens")),
                "cosine": number(cos),
                "vector_norm": NAN if vnorm is None else vnorm,
                "relative_strength": relative(strength, vnorm, resid.get(layer)),
            }
        )
    out = pd.DataFrame(rows, columns=EFFECT_COLUMNS)
    if len(out):
        out = out.sort_values(
            ["category", "layer", "concept", "strength"], key=by_category
        ).reset_index(drop=True)
    return out


def threshold_table(effects: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Per category x layer x strength (from :func:`concept_effects`): the strength relative
    to the residual stream (mean over the category's concepts), mean P(yes) under the
    concept and random vectors, and the paired difference ``diff`` with ``diff_ci_low`` /
    ``diff_ci_high`` (one-sample t over the category's concepts) and ``diff_n``
    (concepts)."""
    if len(effects) == 0:
        return pd.DataFrame(columns=THRESHOLD_COLUMNS)
    rows = []
    for (cat, layer, strength), gs in effects.groupby(["category", "layer", "strength"]):
        d = paired_mean_ci(gs["diff"].tolist(), confidence)
        rel = gs["relative_strength"].to_numpy(dtype=float)
        rows.append(
            {
                "category": cat,
                "layer": int(layer),
                "strength": float(strength),
                "relative_strength": float(rel.mean()) if np.isfinite(rel).all() else NAN,
                "p_yes_concept": float(gs["p_yes_concept"].mean()),
                "p_yes_random": float(gs["p_yes_random"].mean()),
                "diff": d.estimate,
                "diff_ci_low": d.low,
                "diff_ci_high": d.high,
                "diff_n": d.n_a,
            }
        )
    out = pd.DataFrame(rows, columns=THRESHOLD_COLUMNS)
    return out.sort_values(["category", "layer", "strength"], key=by_category).reset_index(
        drop=True
    )


def category_threshold_table(effects: pd.DataFrame, resid: Mapping[int, float]) -> pd.DataFrame:
    """One row per category x layer: the dose-response of the concept-minus-random P(yes)
    difference over strength (:data:`~introscope.experiments.dose.DOSE_COLUMNS`), fitted to
    every (concept, strength) point of the category at that layer, with intervals that
    resample the category's concepts. ``emax`` is bounded to [-1, 1] (a difference of
    probabilities); ``relative_ec50`` is the EC50 times the category's mean vector norm over
    the residual norm ``resid`` measured at that layer."""
    rows = []
    for (cat, layer), g in effects.groupby(["category", "layer"], sort=False):
        out: dict[str, Any] = {"category": cat, "layer": int(layer)}
        put_dose(
            out,
            g["strength"].tolist(),
            g["diff"].tolist(),
            g["concept"].tolist(),
            vector_norm=mean_or_none(number(v) for v in g["vector_norm"]),
            resid_norm=resid.get(int(layer)),
        )
        rows.append(out)
    out_df = pd.DataFrame(rows, columns=CATEGORY_COLUMNS)
    return out_df.sort_values(["category", "layer"], key=by_category).reset_index(drop=True)


def concept_threshold_table(effects: pd.DataFrame, margin: float = CONCEPT_MARGIN) -> pd.DataFrame:
    """Per concept x layer (from :func:`concept_effects`): ``threshold`` (lowest strength
    whose paired difference exceeds ``margin``; NaN when none does), ``mean_diff`` over the
    strength sweep, the connection measures, ``max_strength`` and one ``diff@<strength>``
    column per strength."""
    if len(effects) == 0:
        return pd.DataFrame(
            columns=["concept", "category", "layer", "threshold", "mean_diff", "word_logprob"]
        )
    rows = []
    for (concept, cat, layer), g in effects.groupby(["concept", "category", "layer"], sort=False):
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


def ols_rows(
    y: np.ndarray, preds: dict[str, np.ndarray], confidence: float
) -> tuple[list[dict[str, Any]], int, float] | None:
    """OLS of y on the non-constant, finite predictors: (coefficient rows, n, R²); None
    when there are too few points to fit."""
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


def threshold_regression(
    effects: pd.DataFrame, per_concept: pd.DataFrame, confidence: float = 0.95
) -> pd.DataFrame:
    """Relate each concept's detection effect to its connection measures and category.

    Outcomes, per layer: ``effect`` (the paired difference at each strength, from
    :func:`concept_effects`), ``mean_effect`` (its mean over strengths; ``strength`` NaN)
    and ``log2_threshold`` (the per-concept threshold of :func:`concept_threshold_table`,
    never-passing concepts set to log2(2 x max strength); ``strength`` NaN). Models:
    ``connection`` (``word_logprob`` + ``cosine``), ``category`` (indicators against the
    first category present, in paper order: ``reference``) and ``connection+category``. One
    row per coefficient: ``outcome, model, layer, strength, term, estimate, se, ci_low,
    ci_high, p, n, r2, reference``.

    The hypothesis that abstract nouns and verbs are detected more easily because they
    connect less readily to the prompt predicts negative connection coefficients and
    category coefficients that shrink from ``category`` to ``connection+category``.
    """
    if len(effects) == 0:
        return pd.DataFrame(columns=REGRESSION_COLUMNS)
    cats = sorted(effects["category"].unique(), key=category_order)
    ref, others = cats[0], cats[1:]
    rows: list[dict[str, Any]] = []

    def add(outcome: str, layer: int, strength: float, g: pd.DataFrame, y: np.ndarray) -> None:
        conn = {
            "word_logprob": g["word_logprob"].to_numpy(dtype=float),
            "cosine": g["cosine"].to_numpy(dtype=float),
        }
        dummies = {f"category[{c}]": (g["category"] == c).to_numpy(dtype=float) for c in others}
        models = {"connection": conn, "category": dummies, "connection+category": conn | dummies}
        for model, preds in models.items():
            fit = ols_rows(y, preds, confidence)
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

    for (layer, strength), g in effects.groupby(["layer", "strength"]):
        add("effect", int(layer), float(strength), g, g["diff"].to_numpy(dtype=float))
    for layer, g in per_concept.groupby("layer"):
        add("mean_effect", int(layer), NAN, g, g["mean_diff"].to_numpy(dtype=float))
        thr = g["threshold"].to_numpy(dtype=float)
        cens = np.where(np.isfinite(thr), thr, 2.0 * g["max_strength"].to_numpy(dtype=float))
        if np.isfinite(thr).any():
            add("log2_threshold", int(layer), NAN, g, np.log2(cens))
    return pd.DataFrame(rows, columns=REGRESSION_COLUMNS)


def residual_norm_table(resid: Mapping[int, float]) -> pd.DataFrame:
    """One row per layer: the residual norm the run measured there (``resid_norm``), which
    step 9 needs to refit a category's curve on held-out concepts."""
    return pd.DataFrame(
        [{"layer": layer, "resid_norm": v} for layer, v in sorted(resid.items())],
        columns=["layer", "resid_norm"],
    )


def tables(run: RunFrame, _upstream: Mapping[str, Tables]) -> Tables:
    effects = concept_effects(run)
    per_concept = concept_threshold_table(effects)
    resid = residual_norms(run.records(KIND))
    return {
        "concept_effects": effects,
        "thresholds": threshold_table(effects),
        "category_thresholds": category_threshold_table(effects, resid),
        "residual_norms": residual_norm_table(resid),
        "concept_thresholds": per_concept,
        "regression": threshold_regression(effects, per_concept),
    }
