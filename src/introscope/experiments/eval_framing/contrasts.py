"""Framing contrasts: GEE models clustered by item (statsmodels), one framing against a
reference framing, for one binary outcome (hack, flag or solve).

Two fits on the trials of the two framings, each with an intercept and an indicator of the
compared framing, clusters = items, independence working correlation (every item is asked
equally often under both framings, so the estimate is the plain difference and the sandwich
carries the within-item correlation), bias-reduced
(Mancl-DeRouen) sandwich covariance and t intervals with (clusters - 1) degrees of freedom
(few clusters make the plain sandwich too narrow):

* identity link (a linear probability model): the difference in rates, in probability;
  defined even when one framing never (or always) shows the outcome;
* logit link (the logistic GEE): the log odds ratio; undefined under separation (a framing
  with 0% or 100%), reported as NaN with the reason.

When the outcome does not vary within the two framings' trials at all, the sandwich is 0;
the difference then gets the Newcombe interval of two independent proportions (ignoring the
clustering, said so in ``method``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from introscope.stats import rate_difference

NAN = float("nan")

#: Fewer items than this give no clustered interval (the sandwich needs several clusters;
#: with 1-3 it is meaningless or wildly unstable): the interval is left undefined.
MIN_CLUSTERS = 4


@dataclass(frozen=True)
class Contrast:
    difference: float
    difference_low: float
    difference_high: float
    log_odds_ratio: float
    log_odds_ratio_low: float
    log_odds_ratio_high: float
    p_value: float  # of the difference (identity-link GEE), NaN when undefined
    n: int  # trials under the framing
    n_ref: int  # trials under the reference
    clusters: int
    method: str


def gee_slope(
    y: np.ndarray, x: np.ndarray, groups: np.ndarray, *, logistic: bool
) -> tuple[float, float]:
    """(coefficient of x, its bias-reduced robust SE) of a GEE of y on an intercept and x,
    clustered by ``groups`` (logit link if ``logistic``, else identity); NaN when it fails."""
    import statsmodels.api as sm

    family = sm.families.Binomial() if logistic else sm.families.Gaussian()

    exog = np.column_stack([np.ones_like(x), x])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = sm.GEE(
                y, exog, groups=groups, family=family, cov_struct=sm.cov_struct.Independence()
            ).fit(cov_type="bias_reduced", maxiter=100)
            b, se = float(res.params[1]), float(res.bse[1])
        except (ValueError, np.linalg.LinAlgError, ZeroDivisionError):
            return NAN, NAN
    return (b, se) if math.isfinite(b) and math.isfinite(se) else (NAN, NAN)


def contrast(data: pd.DataFrame, framing: str, reference: str, outcome: str) -> Contrast:
    """``outcome`` (a 0/1 column) under ``framing`` minus under ``reference``; ``data`` has
    columns ``framing``, ``item_id`` and ``outcome``."""
    d = data[data["framing"].isin([framing, reference]) & data[outcome].notna()]
    y = d[outcome].astype(float).to_numpy()
    x = (d["framing"] == framing).astype(float).to_numpy()
    groups = pd.factorize(d["item_id"])[0]
    n, n_ref = int(x.sum()), int(len(x) - x.sum())
    k = len(set(groups.tolist()))
    if n == 0 or n_ref == 0:
        return Contrast(NAN, NAN, NAN, NAN, NAN, NAN, NAN, n, n_ref, k, "no trials")
    s, s_ref = float(y[x == 1].sum()), float(y[x == 0].sum())
    diff = s / n - s_ref / n_ref
    tq = float(sps.t.ppf(0.975, max(k - 1, 1)))
    b, se = gee_slope(y, x, groups, logistic=False) if k >= MIN_CLUSTERS else (NAN, NAN)
    if k < MIN_CLUSTERS:
        return Contrast(
            diff, NAN, NAN, NAN, NAN, NAN, NAN, n, n_ref, k,
            f"{k} items: too few for an interval clustered by item",
        )  # fmt: skip
    if math.isfinite(se) and se > 0:
        # A difference of rates lies in [-1, 1]; so does its interval.
        diff, lo, hi = b, max(b - tq * se, -1.0), min(b + tq * se, 1.0)
        p = float(2 * sps.t.sf(abs(b / se), max(k - 1, 1)))
        method = f"GEE identity link, clustered by item ({k} items)"
    else:
        nd = rate_difference(int(s), n, int(s_ref), n_ref)
        lo, hi, p = nd.low, nd.high, NAN
        method = "no within-framing variation: Newcombe interval, not clustered"
    separated = s in (0, n) or s_ref in (0, n_ref)
    if separated:
        lor = lor_lo = lor_hi = NAN
        method += "; log odds ratio undefined (a framing at 0% or 100%)"
    else:
        lor, lse = gee_slope(y, x, groups, logistic=True)
        lor_lo, lor_hi = lor - tq * lse, lor + tq * lse
    return Contrast(diff, lo, hi, lor, lor_lo, lor_hi, p, n, n_ref, k, method)


def put_contrast(out: dict[str, object], c: Contrast) -> None:
    """The table columns of a contrast (``difference`` with ``_ci_low/_ci_high/_n/_n_ref``,
    ``log_odds_ratio`` with its interval)."""
    out["difference"] = c.difference
    out["difference_ci_low"] = c.difference_low
    out["difference_ci_high"] = c.difference_high
    out["difference_n"] = c.n
    out["difference_n_ref"] = c.n_ref
    out["log_odds_ratio"] = c.log_odds_ratio
    out["log_odds_ratio_ci_low"] = c.log_odds_ratio_low
    out["log_odds_ratio_ci_high"] = c.log_odds_ratio_high
    out["p_value"] = c.p_value
    out["clusters"] = c.clusters
    out["method"] = c.method
