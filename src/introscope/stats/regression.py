"""OLS and logistic regression with coefficient intervals (statsmodels), and the partial
correlation of two variables given covariates (OLS residuals, Fisher-z interval)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as _st
from statsmodels.discrete.discrete_model import Logit
from statsmodels.regression.linear_model import OLS
from statsmodels.tools.sm_exceptions import (
    ConvergenceWarning,
    PerfectSeparationWarning,
    SingularMatrixWarning,
)

from introscope.stats.intervals import NAN, encode_labels, fisher_z_interval, z_value
from introscope.stats.weighted import w_partial_r, weighted_bootstrap

# --------------------------------------------------------------------------- regression


@dataclass(frozen=True)
class Coefficient:
    """One regression coefficient with its SE, CI and two-sided p-value."""

    name: str
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p: float


@dataclass(frozen=True)
class RegressionResult:
    """Result of :func:`linear_regression` or :func:`logistic_regression`.

    ``r2`` is the ordinary R^2 for OLS and McFadden's pseudo-R^2 for logistic fits.
    ``converged`` is False when a logistic fit hit (quasi-)separation or the iteration
    limit; estimates are then the last iterate (NaN for a singular design) and SE/CI/p are NaN.
    """

    coefficients: tuple[Coefficient, ...]
    n: int
    r2: float
    method: str
    converged: bool = True

    def __getitem__(self, name: str) -> Coefficient:
        for c in self.coefficients:
            if c.name == name:
                return c
        raise KeyError(name)

    def table(self) -> list[dict[str, float | str]]:
        """Rows for printing or a DataFrame: name, estimate, se, ci_low, ci_high, p."""
        return [
            {
                "name": c.name,
                "estimate": c.estimate,
                "se": c.se,
                "ci_low": c.ci_low,
                "ci_high": c.ci_high,
                "p": c.p,
            }
            for c in self.coefficients
        ]


def _design(
    n: int, X: Mapping[str, Sequence[float]], add_intercept: bool
) -> tuple[list[str], np.ndarray]:
    names = (["intercept"] if add_intercept else []) + list(X)
    cols = ([np.ones(n)] if add_intercept else []) + [np.asarray(X[k], dtype=float) for k in X]
    for name, col in zip(names, cols, strict=True):
        if len(col) != n:
            raise ValueError(f"column {name!r} has length {len(col)}, expected {n}")
    return names, np.column_stack(cols) if cols else np.zeros((n, 0))


def _ols(y: np.ndarray, design: np.ndarray, groups: np.ndarray | None = None) -> Any:
    """statsmodels OLS fit. A rank-deficient design (e.g. dummies nested in other dummies) is
    expected in sweeps and gets the minimum-norm solution (pinv), so its warning is muted.
    ``groups`` (integer cluster codes) asks for cluster-robust standard errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularMatrixWarning)
        if groups is None:
            return OLS(y, design).fit()
        return OLS(y, design).fit(**cluster_fit(groups))


def cluster_fit(groups: np.ndarray) -> dict[str, Any]:
    """statsmodels ``fit`` arguments for cluster-robust (sandwich, CR1) standard errors with
    t intervals on G - 1 degrees of freedom (G clusters), the usual small-G correction."""
    return {"cov_type": "cluster", "cov_kwds": {"groups": groups}, "use_t": True}


def group_codes(groups: Sequence[Hashable] | None, n: int) -> np.ndarray | None:
    """Integer codes of cluster labels (None without clusters); one label per observation."""
    if groups is None:
        return None
    if len(groups) != n:
        raise ValueError(f"groups has length {len(groups)}, expected {n}")
    return encode_labels(list(groups))


def _residuals(v: np.ndarray, design: np.ndarray) -> np.ndarray:
    resid: np.ndarray = np.asarray(_ols(v, design).resid)
    return resid


def _coefficients(
    names: Sequence[str],
    estimates: np.ndarray,
    se: np.ndarray,
    ci: np.ndarray,
    p: np.ndarray,
) -> tuple[Coefficient, ...]:
    return tuple(
        Coefficient(nm, float(b), float(s), float(lo), float(hi), float(pv))
        for nm, b, s, (lo, hi), pv in zip(names, estimates, se, ci, p, strict=True)
    )


def _undefined(
    names: Sequence[str], estimates: np.ndarray | None = None
) -> tuple[Coefficient, ...]:
    """Coefficients with NaN SE/CI/p (and NaN estimates unless given)."""
    k = len(names)
    nan = np.full(k, NAN)
    return _coefficients(
        names, nan if estimates is None else estimates, nan, np.full((k, 2), NAN), nan
    )


def linear_regression(
    y: Sequence[float],
    X: Mapping[str, Sequence[float]],
    add_intercept: bool = True,
    confidence: float = 0.95,
    groups: Sequence[Hashable] | None = None,
) -> RegressionResult:
    """OLS (statsmodels) with classical (homoskedastic) standard errors and t-based CIs and
    p-values; ``r2`` is always the centred R^2 (NaN when y is constant).

    Used e.g. to relate category thresholds to how readily a concept connects to the
    prompt. With no residual degrees of freedom (n <= rank of the design) the SEs are NaN
    rather than an error; a rank-deficient design gets the minimum-norm estimates, with
    n - rank residual degrees of freedom. Empty input gives NaN estimates.

    ``groups`` (one cluster label per observation, e.g. the concept) gives cluster-robust
    standard errors instead (statsmodels ``cov_type="cluster"``, t on G - 1 df): rows of the
    same concept are not independent. Fewer than two clusters: SE, CI and p are NaN.
    """
    yv = np.asarray(y, dtype=float)
    n = len(yv)
    names, A = _design(n, X, add_intercept)
    codes = group_codes(groups, n)
    if n == 0 or A.shape[1] == 0:
        return RegressionResult(_undefined(names), n, NAN, "ols")
    few_clusters = codes is not None and int(codes.max()) + 1 < 2
    fit = _ols(yv, A, None if few_clusters else codes)
    r2 = 1.0 - fit.ssr / fit.centered_tss if fit.centered_tss > 0 else NAN
    if fit.df_resid <= 0 or few_clusters:
        coefs = _undefined(names, fit.params)
    else:
        coefs = _coefficients(
            names, fit.params, fit.bse, fit.conf_int(alpha=1.0 - confidence), fit.pvalues
        )
    return RegressionResult(coefs, n, float(r2), "ols")


def logistic_regression(
    y01: Sequence[float],
    X: Mapping[str, Sequence[float]],
    add_intercept: bool = True,
    confidence: float = 0.95,
    max_iter: int = 100,
    tol: float = 1e-8,
    groups: Sequence[Hashable] | None = None,
) -> RegressionResult:
    """Logistic regression (statsmodels ``Logit``, Newton-Raphson) with Wald CIs
    (cluster-robust, t on G - 1 df, with ``groups``; see :func:`linear_regression`).

    Binary outcomes (detected / not) per trial against strength, layer, controls. Perfect
    separation is common with small cells (e.g. 0 false positives on every control), so it
    is reported via ``converged=False`` instead of raising or returning huge fake SEs: a fit
    that did not converge within ``max_iter`` (coefficients running away), predicts every
    outcome exactly, or has no finite SEs keeps its last iterate as the estimate with NaN
    SE/CI/p; a singular design (statsmodels cannot invert its Hessian) gets NaN estimates.
    """
    yv = np.asarray(y01, dtype=float)
    if not np.all((yv == 0) | (yv == 1)):
        raise ValueError("y01 must contain only 0 and 1")
    n = len(yv)
    names, A = _design(n, X, add_intercept)
    z_value(confidence)
    codes = group_codes(groups, n)
    few_clusters = codes is not None and int(codes.max()) + 1 < 2
    robust = cluster_fit(codes) if codes is not None and not few_clusters else {}
    ybar = yv.mean() if n else NAN
    if n == 0 or A.shape[1] == 0:
        return RegressionResult(_undefined(names), n, NAN, "logit", converged=False)
    # Non-convergence and separation are read off the result below (converged=False), and
    # the logistic function overflowing to exactly 0 or 1 on a runaway fit is harmless.
    with warnings.catch_warnings(), np.errstate(over="ignore"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", PerfectSeparationWarning)
        try:
            fit = Logit(yv, A).fit(method="newton", maxiter=max_iter, tol=tol, disp=False, **robust)
        except np.linalg.LinAlgError:
            # singular Hessian at the end: the design does not identify the coefficients
            return RegressionResult(_undefined(names), n, NAN, "logit", converged=False)
    beta = np.asarray(fit.params)
    converged = (
        bool(fit.mle_retvals["converged"])
        and not np.allclose(fit.predict(), yv)
        and bool(np.all(np.isfinite(fit.bse)))
    )
    if converged and not few_clusters:
        coefs = _coefficients(
            names, beta, fit.bse, fit.conf_int(alpha=1.0 - confidence), fit.pvalues
        )
    else:
        coefs = _undefined(names, beta)
    # McFadden's R^2 against the intercept-only log-likelihood, written in closed form so it
    # is defined whether or not the design has an intercept; undefined for a constant outcome.
    if 0 < ybar < 1:
        ll0 = n * (ybar * math.log(ybar) + (1 - ybar) * math.log(1 - ybar))
        r2 = 1.0 - fit.llf / ll0
    else:
        r2 = NAN
    return RegressionResult(coefs, n, float(r2), "logit", converged)


def partial_correlation(
    y: Sequence[float] | np.ndarray,
    x: Sequence[float] | np.ndarray,
    covariates: Mapping[str, Sequence[float]],
    confidence: float = 0.95,
    groups: Sequence[Hashable] | None = None,
    n_boot: int = 2000,
    seed: int = 0,
) -> tuple[float, float, float, int]:
    """Partial correlation of y and x given covariates, with a Fisher-z interval: (r, low,
    high, n).

    r is the Pearson correlation of the residuals of y and x on the covariates plus an
    intercept (statsmodels OLS); the z SE is 1 / sqrt(n - 3 - k) for k = ``len(covariates)``
    columns (one per dummy of a factor). NaN when n < 3 or the covariates explain y or x
    entirely; bounds NaN when n - 3 - k <= 0.

    With ``groups`` (one cluster label per observation, e.g. the concept), the Fisher-z
    interval, which assumes independent observations, is replaced by a percentile cluster
    bootstrap (:func:`introscope.stats.resampling.cluster_bootstrap`) of the partial
    correlation, the covariates refitted on every resample.
    """
    yv, xv = np.asarray(y, dtype=float), np.asarray(x, dtype=float)
    n = len(yv)
    if len(xv) != n:
        raise ValueError("x and y must have the same length")
    _, design = _design(n, covariates, add_intercept=True)
    if n < 3:
        return (NAN, NAN, NAN, n)
    ry, rx = _residuals(yv, design), _residuals(xv, design)
    if ry.std() < 1e-12 or rx.std() < 1e-12:
        return (NAN, NAN, NAN, n)
    r = float(np.clip(_st.pearsonr(ry, rx).statistic, -1.0, 1.0))
    codes = group_codes(groups, n)
    if codes is not None:
        # All resamples at once as cluster weights (the same resamples as
        # cluster_bootstrap with this seed; stats/weighted.py): refitting the covariates
        # by least squares on 2000 resamples one at a time took ~1 s per call.
        _, low, high = weighted_bootstrap(
            w_partial_r(yv, xv, design[:, 1:]), codes.tolist(), n_boot, seed, confidence
        )
        return (r, low, high, n)
    dof = n - 3 - len(covariates)
    if dof <= 0:
        return (r, NAN, NAN, n)
    if abs(r) == 1.0:
        return (r, r, r, n)
    low, high = fisher_z_interval(r, dof, confidence)
    return (r, low, high, n)
