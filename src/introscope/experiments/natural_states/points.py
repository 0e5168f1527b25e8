"""The natural-states tables from the trials: one point per trial and layer
(:func:`natural_points`), the per-template rows and the regressions of the report on the
projection (:func:`natural_states_table`, intervals clustered by concept) and the pooled
manipulation check (:func:`projection_check_table`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from introscope.errors import AnalysisError
from introscope.experiments.selection import per_concept
from introscope.stats import (
    RegressionResult,
    linear_regression,
    logistic_regression,
    partial_correlation,
)
from introscope.tables import (
    NAN,
    cond,
    frame,
    group,
    number,
    put_mean,
    put_rate,
    sort_key,
)

TEMPLATE_ORDER: tuple[str, ...] = ("repeated", "single", "incidental")
PREDICTORS: tuple[str, ...] = ("cos_specific", "cos")
OUTCOMES: tuple[str, ...] = ("concept_logprob", "identified")
COVARIATE_SETS: tuple[str, ...] = ("template", "template+concept")

#: ``read_at`` of readouts that do not record it (protocol 1).
OLD_READ_AT = "last_prompt_token"
#: How the sentences name each reading position.
POSITION_TEXT: dict[str, str] = {
    "passage_end": "the activation at the passage's last token (read before the request and "
    "the question)",
    OLD_READ_AT: "the activation at the last prompt token (the position whose logits give "
    "the report, so the projection there is partly the report itself: a logit-lens "
    "identity, not a state the report could be read from; runs since protocol 2 read the "
    "passage's end)",
}


def layer_map(value: Any) -> dict[int, float]:
    """A stored ``{layer: value}`` map (layer keys are strings in JSON) with int keys,
    numeric values only."""
    out: dict[int, float] = {}
    if isinstance(value, Mapping):
        for k, v in value.items():
            try:
                layer = int(k)
            except (TypeError, ValueError):
                continue
            f = number(v)
            if f is not None:
                out[layer] = f
    return out


def read_position(recs: Sequence[Mapping[str, Any]]) -> str | None:
    """Where the run's activations were read (None without trials); a run that mixes
    positions cannot be analysed as one."""
    positions = {str(r["logits"].get("read_at") or OLD_READ_AT) for r in recs}
    if len(positions) > 1:
        raise AnalysisError(
            "The natural-states trials of this run read the activation at different positions "
            f"({', '.join(sorted(positions))}), so they cannot be pooled; rerun the experiment "
            "into a new run directory."
        )
    return positions.pop() if positions else None


def natural_points(recs: Sequence[Mapping[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """Per layer, one point per trial: template, concept, outcomes and projections."""
    by_layer: dict[int, list[dict[str, Any]]] = {}
    for r in recs:
        lg = r["logits"]
        cos = layer_map(lg.get("cos_by_layer"))
        dist = layer_map(lg.get("distractor_cos_by_layer"))
        rank = number(lg.get("rank"))
        lp = number(lg.get("concept_logprob"))
        for layer, c in cos.items():
            d = dist.get(layer)
            by_layer.setdefault(layer, []).append(
                {
                    "template": cond(r, "template"),
                    "concept": cond(r, "concept"),
                    "cos": c,
                    "distractor_cos": d,
                    "cos_specific": c - d if d is not None else None,
                    "concept_logprob": lp,
                    "identified": (rank == 1) if rank is not None else None,
                }
            )
    return by_layer


def dummies(values: Sequence[Any], prefix: str) -> dict[str, list[float]]:
    """Indicator columns for every level but the first (templates in TEMPLATE_ORDER)."""
    levels = sorted(set(values), key=lambda v: sort_key(v, TEMPLATE_ORDER))
    return {f"{prefix}[{lv}]": [1.0 if v == lv else 0.0 for v in values] for lv in levels[1:]}


def fit(
    outcome: str,
    y: Sequence[float],
    x: Mapping[str, Sequence[float]],
    groups: Sequence[Any] | None = None,
) -> RegressionResult | None:
    """OLS (log-probability) or logistic (top-1 report) fit, with standard errors clustered
    by ``groups`` (the concept) when given; None with too few trials."""
    n, k = len(y), len(x) + 1
    if n <= k + 1:
        return None
    if outcome == "identified":
        return logistic_regression(y, x, groups=groups)
    return linear_regression(y, x, groups=groups)


def natural_states_table(
    by_layer: Mapping[int, list[dict[str, Any]]], read_at: str | None = None
) -> pd.DataFrame:
    """Natural states ("heartbeat") from the per-layer trial points of
    :func:`natural_points`, two kinds of row (``row_type``); ``read_at`` (every row) says
    where the activation was read (:func:`read_position`).

    ``template`` rows, per layer x template (the manipulation check and the raw report):
    ``identified`` (the concept ranks first among the candidates; Wilson), means (t CI) of
    ``concept_logprob``, ``cos`` (the activation at the reading position vs the concept's
    vector), ``distractor_cos`` (mean over the 9 distractors' vectors) and ``cos_specific``
    (= cos - distractor_cos, paired within trial).

    ``regression`` rows, per layer x predictor (``cos_specific`` or ``cos``) x outcome
    (``concept_logprob``, OLS; ``identified``, logistic) x covariates (``template``: template
    dummies, i.e. the text's relatedness level; ``template+concept``: also concept dummies,
    so only within-concept variation across texts is left): ``coef`` (per standard
    deviation of the predictor, ``predictor_sd``, in cosine units) with ``coef_ci_low``,
    ``coef_ci_high``, ``coef_p``, ``coef_n``; ``converged`` (logistic); ``r2`` and
    ``r2_covariates`` (the same model without the projection; ``delta_r2`` their
    difference); ``partial_r`` (with ``partial_r_ci_low/high``, Fisher z), the correlation
    of report and projection after removing the covariates (the matched, within-template
    comparison). A positive ``coef`` whose CI excludes 0 means the report carries
    information about the activation's projection onto the concept direction beyond what the
    covariates (the text) predict.
    """
    if not by_layer:
        return pd.DataFrame()
    rows: list[dict[str, Any]] = []
    for layer in sorted(by_layer):
        pts = by_layer[layer]
        for template, tp in sorted(
            group(pts, lambda p: (p["template"],)).items(),
            key=lambda kv: sort_key(kv[0][0], TEMPLATE_ORDER),
        ):
            out: dict[str, Any] = {
                "row_type": "template",
                "layer": layer,
                "template": template[0],
                "n_trials": len(tp),
            }
            put_rate(out, "identified", (p["identified"] for p in tp))
            for col in ("concept_logprob", "cos", "distractor_cos", "cos_specific"):
                put_mean(out, col, (p[col] for p in tp))
            rows.append(out)
        for predictor in PREDICTORS:
            for outcome in OUTCOMES:
                for covset in COVARIATE_SETS:
                    rows.append(regression_row(layer, pts, predictor, outcome, covset))
    out = frame(rows)
    out["read_at"] = read_at
    return out


def regression_row(
    layer: int, pts: Sequence[Mapping[str, Any]], predictor: str, outcome: str, covset: str
) -> dict[str, Any]:
    """One regression row of :func:`natural_states_table`."""
    use = [p for p in pts if p[predictor] is not None and p[outcome] is not None]
    out: dict[str, Any] = {
        "row_type": "regression",
        "layer": layer,
        "predictor": predictor,
        "outcome": outcome,
        "covariates": covset,
        "n_trials": len(use),
        "predictor_sd": NAN,
        "coef": NAN,
        "coef_ci_low": NAN,
        "coef_ci_high": NAN,
        "coef_p": NAN,
        "coef_n": len(use),
        "converged": None,
        "r2": NAN,
        "r2_covariates": NAN,
        "delta_r2": NAN,
        "partial_r": NAN,
        "partial_r_ci_low": NAN,
        "partial_r_ci_high": NAN,
        "partial_r_n": len(use),
        "n_concepts": len({p["concept"] for p in use}),
    }
    if len(use) < 4:
        return out
    y = np.array([float(p[outcome]) for p in use])
    x = np.array([float(p[predictor]) for p in use])
    covs = dummies([p["template"] for p in use], "template")
    if covset == "template+concept":
        covs.update(dummies([p["concept"] for p in use], "concept"))
    sd = float(x.std(ddof=1))
    out["predictor_sd"] = sd
    if sd < 1e-12:
        return out
    # The projection is standardised: cosines span a few hundredths, so raw-unit slopes are
    # huge (and a logistic fit would read them as separation). coef is per SD of the
    # predictor; multiply by 1 / predictor_sd for per-unit-cosine slopes.
    x = (x - x.mean()) / sd
    # A concept's trials (its templates and repeats) are not independent: the intervals are
    # clustered by concept (cluster-robust SEs; a cluster bootstrap for the partial r).
    concepts = [str(p["concept"]) for p in use]
    full = fit(outcome, list(y), {predictor: list(x), **covs}, concepts)
    reduced = fit(outcome, list(y), covs) if covs else None
    if full is not None:
        c = full[predictor]
        out.update(
            # An unconverged logistic fit (separation, or a constant outcome) has no usable
            # estimate: report NaN rather than the last iterate.
            coef=c.estimate if full.converged else NAN,
            coef_ci_low=c.ci_low,
            coef_ci_high=c.ci_high,
            coef_p=c.p,
            converged=full.converged,
            r2=full.r2,
        )
        base_r2 = reduced.r2 if reduced is not None else 0.0
        out["r2_covariates"] = base_r2
        out["delta_r2"] = full.r2 - base_r2
    r, lo, hi, _n = partial_correlation(y, x, covs, groups=concepts)
    out.update(partial_r=r, partial_r_ci_low=lo, partial_r_ci_high=hi)
    return out


def projection_check_table(
    by_layer: Mapping[int, list[dict[str, Any]]], read_at: str | None = None
) -> pd.DataFrame:
    """The manipulation check, per layer: ``cos_specific`` (the concept vector's cosine with
    the activation at the reading position minus the distractors' mean cosine; mean, t CI,
    n) pooled over templates and trials, ``cos_specific_by_concept``: the same with the
    concept as the unit (per-concept means, t interval over concepts), and ``read_at``."""
    rows = []
    for layer in sorted(by_layer):
        out: dict[str, Any] = {"layer": layer}
        put_mean(out, "cos_specific", (p["cos_specific"] for p in by_layer[layer]))
        per = per_concept(by_layer[layer], (), ("cos_specific",))
        put_mean(out, "cos_specific_by_concept", list(per["cos_specific"].dropna()))
        out["read_at"] = read_at
        rows.append(out)
    return frame(rows)
