"""Statistics for self-report experiments.

Every rate carries its n and a 95% Wilson interval, every difference a CI; net scores (hit
minus matched control) are the headline. This module is the single place those numbers are
computed, so every table and plot agrees. The statistics are scipy, statsmodels and
scikit-learn calls; written out here is only what no library offers (Miller-Madow mutual
information with its baselines, MOVER, the partial correlation's Fisher-z interval with
covariate-reduced df). Everything is deterministic given a seed and returns NaN (never
raises) when a quantity is undefined for the data at hand: sweeps routinely produce empty or
degenerate cells, and a report should show "nan" rather than crash.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as _st
from sklearn.metrics import cohen_kappa_score
from statsmodels.discrete.discrete_model import Logit
from statsmodels.regression.linear_model import OLS
from statsmodels.stats.proportion import confint_proportions_2indep
from statsmodels.tools.sm_exceptions import (
    ConvergenceWarning,
    PerfectSeparationWarning,
    SingularMatrixWarning,
)

__all__ = [
    "Coefficient",
    "Difference",
    "MutualInformation",
    "Rate",
    "RegressionResult",
    "bootstrap_ci",
    "cohens_kappa",
    "linear_regression",
    "logistic_regression",
    "lowest_passing_level",
    "mean_difference_ci",
    "mover_difference",
    "mutual_information",
    "net_score",
    "paired_mean_ci",
    "partial_correlation",
    "pearson_with_ci",
    "permutation_test",
    "rate",
    "rate_difference",
    "wilson_interval",
]

NAN = float("nan")


def _z(confidence: float) -> float:
    """Two-sided normal critical value, e.g. 1.96 for 95%; rejects confidence outside (0, 1)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return float(_st.norm.ppf(1.0 - (1.0 - confidence) / 2.0))


def _fisher_z_interval(r: float, dof: int, confidence: float) -> tuple[float, float]:
    """Fisher-z interval for a correlation whose z has SE 1 / sqrt(dof) (dof = n - 3 - k)."""
    z, se = math.atanh(r), 1.0 / math.sqrt(dof)
    zc = _z(confidence)
    return math.tanh(z - zc * se), math.tanh(z + zc * se)


# --------------------------------------------------------------------------- rates


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (``scipy.stats.binomtest``).

    Wilson rather than Wald because our rates are often 0/50 or 1/100 (false positives on
    controls), where the Wald interval collapses to a point; Wilson keeps a sensible upper
    bound (0/10 -> 0.2775). ``n == 0`` means "no information", so the interval is [0, 1].
    """
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got {successes}/{n}")
    _z(confidence)  # the same confidence check as every other interval here
    if n == 0:
        return (0.0, 1.0)
    ci = _st.binomtest(successes, n).proportion_ci(confidence, method="wilson")
    return (float(ci.low), float(ci.high))


@dataclass(frozen=True)
class Rate:
    """A proportion with its n and Wilson interval; ``str()`` is the reporting format."""

    successes: int
    n: int
    estimate: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.estimate:.2f} [{self.low:.2f}, {self.high:.2f}] (n={self.n})"


def rate(successes: int, n: int, confidence: float = 0.95) -> Rate:
    """Build a :class:`Rate`; the estimate is NaN when ``n == 0``."""
    low, high = wilson_interval(successes, n, confidence)
    return Rate(successes, n, successes / n if n else NAN, low, high)


@dataclass(frozen=True)
class Difference:
    """A difference (a - b) with its CI and the two sample sizes behind it."""

    estimate: float
    low: float
    high: float
    n_a: int
    n_b: int

    def __str__(self) -> str:
        return (
            f"{self.estimate:+.2f} [{self.low:+.2f}, {self.high:+.2f}] (n={self.n_a} vs {self.n_b})"
        )


def rate_difference(s_a: int, n_a: int, s_b: int, n_b: int, confidence: float = 0.95) -> Difference:
    """Difference of two independent proportions, Newcombe (1998) hybrid score, method 10
    (statsmodels ``confint_proportions_2indep(method="newcomb")``).

    Built from the two Wilson intervals, so it behaves well at 0% and 100% (the common
    case for control rates) where Wald differences are badly anti-conservative. Reference
    value (Newcombe 1998, Table II): 56/70 - 48/80 = 0.200, CI (0.0524, 0.3339).
    """
    _z(confidence)
    if n_a == 0 or n_b == 0:
        return Difference(NAN, -1.0, 1.0, n_a, n_b)
    low, high = confint_proportions_2indep(
        s_a, n_a, s_b, n_b, method="newcomb", compare="diff", alpha=1.0 - confidence
    )
    return Difference(s_a / n_a - s_b / n_b, float(low), float(high), n_a, n_b)


def net_score(hit: Rate, control: Rate) -> Difference:
    """Headline metric: hit rate minus its matched control rate, with a Newcombe CI."""
    return rate_difference(hit.successes, hit.n, control.successes, control.n)


def mover_difference(
    a: float, a_low: float, a_high: float, b: float, b_low: float, b_high: float
) -> tuple[float, float, float]:
    """(a - b, low, high): MOVER interval (Zou & Donner 2008) for a difference of two
    independent estimates with their own (possibly asymmetric) intervals, e.g. a net claim
    rate minus a yes-bias shift. Each side's half-width is the root sum of squares of a's and
    b's distances to the bound on that side (low: a's lower, b's upper), so Wilson inputs give
    Newcombe's method 10. A NaN bound makes the side that uses it NaN.
    """
    d = a - b
    return (d, d - math.hypot(a - a_low, b_high - b), d + math.hypot(a_high - a, b - b_low))


# --------------------------------------------------------------------------- means


def mean_difference_ci(
    a: Sequence[float], b: Sequence[float], confidence: float = 0.95
) -> Difference:
    """Welch t interval for mean(a) - mean(b) (unequal variances: conditions rarely match).

    ``scipy.stats.ttest_ind(equal_var=False)``; bounds NaN with fewer than 2 values per
    side, and a point interval when both sides are constant (the t statistic is 0/0).
    """
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    na, nb = len(xa), len(xb)
    if na == 0 or nb == 0:
        return Difference(NAN, NAN, NAN, na, nb)
    d = float(xa.mean() - xb.mean())
    if na < 2 or nb < 2:
        return Difference(d, NAN, NAN, na, nb)
    if np.ptp(xa) == 0.0 and np.ptp(xb) == 0.0:
        return Difference(d, d, d, na, nb)
    with warnings.catch_warnings():
        if np.ptp(xa) == 0.0 or np.ptp(xb) == 0.0:
            # scipy reads an exactly constant side as "nearly identical" data and warns of
            # precision loss; that side's zero variance is exact, so the interval is sound.
            warnings.filterwarnings("ignore", "Precision loss", RuntimeWarning)
        ci = _st.ttest_ind(xa, xb, equal_var=False).confidence_interval(confidence)
    return Difference(d, float(ci.low), float(ci.high), na, nb)


def paired_mean_ci(diffs: Sequence[float], confidence: float = 0.95) -> Difference:
    """One-sample t interval on paired differences (same trial under two conditions),
    ``scipy.stats.ttest_1samp``; NaN bounds for n < 2, a point interval for constant input."""
    x = np.asarray(diffs, dtype=float)
    n = len(x)
    if n == 0:
        return Difference(NAN, NAN, NAN, 0, 0)
    d = float(x.mean())
    if n < 2:
        return Difference(d, NAN, NAN, n, n)
    if np.ptp(x) == 0.0:
        return Difference(d, d, d, n, n)
    ci = _st.ttest_1samp(x, 0.0).confidence_interval(confidence)
    return Difference(d, float(ci.low), float(ci.high), n, n)


def bootstrap_ci(
    values: Sequence[float],
    statistic: Callable[[np.ndarray], Any] = np.mean,
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float, float]:
    """Percentile bootstrap: (estimate, low, high). Seeded, so reports are reproducible.

    For statistics with no closed-form interval (medians, AUROC, ratios of rates). The
    resampling is ``scipy.stats.bootstrap``; the percentiles are taken over the resamples on
    which the statistic is defined (an AUROC is NaN on a one-class resample), where scipy's
    own interval would turn NaN as soon as one resample is. A single value gives a point
    interval (scipy needs two).
    """
    _z(confidence)
    x = np.asarray(values, dtype=float)
    if len(x) == 0:
        return (NAN, NAN, NAN)
    estimate = float(statistic(x))
    if len(x) == 1:
        return (estimate, estimate, estimate)
    with warnings.catch_warnings():
        # scipy warns about NaN resamples with a message about BCa, which we do not use;
        # the NaN resamples are dropped below by design.
        warnings.simplefilter("ignore", _st.DegenerateDataWarning)
        boots = _st.bootstrap(
            (x,), statistic, n_resamples=n_boot, method="percentile", rng=seed
        ).bootstrap_distribution
    if np.all(np.isnan(boots)):
        return (estimate, NAN, NAN)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.nanquantile(boots, [alpha, 1.0 - alpha])
    return (estimate, float(low), float(high))


# The named statistics of permutation_test, vectorised the way scipy calls them.
_TWO_SAMPLE_STATISTICS: dict[str, Callable[..., Any]] = {
    "mean_diff": lambda u, v, axis=-1: np.mean(u, axis=axis) - np.mean(v, axis=axis),
    "median_diff": lambda u, v, axis=-1: np.median(u, axis=axis) - np.median(v, axis=axis),
}


def _distance_from_zero(fn: Callable[..., Any], vectorized: bool) -> Callable[..., Any]:
    """|fn| with the signature scipy calls it by: (a, b, axis) when vectorized, else (a, b)."""
    if vectorized:
        return lambda u, v, axis: np.abs(fn(u, v, axis=axis))
    return lambda u, v: abs(fn(u, v))


def permutation_test(
    a: Sequence[float],
    b: Sequence[float],
    statistic: str | Callable[[np.ndarray, np.ndarray], float] = "mean_diff",
    n_permutations: int = 5000,
    seed: int = 0,
) -> tuple[float, float]:
    """Two-sided permutation test: (observed statistic, p-value).

    ``statistic`` is "mean_diff", "median_diff" or a callable f(a, b). The test is
    ``scipy.stats.permutation_test`` on |statistic| with alternative "greater": p is the share
    of relabellings at least as far from 0 as the observed value, in either direction (scipy's
    own two-sided p doubles the smaller one-sided p instead). When ``n_permutations`` covers
    every distinct relabelling scipy enumerates them and p is exact; otherwise p carries +1
    smoothing, since a finite sample of permutations cannot show p = 0.
    """
    fn: Callable[..., Any]
    if callable(statistic):
        fn = statistic
    elif statistic in _TWO_SAMPLE_STATISTICS:
        fn = _TWO_SAMPLE_STATISTICS[statistic]
    else:
        raise ValueError(f"unknown statistic {statistic!r}")
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(xa) == 0 or len(xb) == 0:
        return (NAN, NAN)
    vectorized = fn is not statistic  # the named statistics take ``axis``
    result = _st.permutation_test(
        (xa, xb),
        _distance_from_zero(fn, vectorized),
        vectorized=vectorized,
        n_resamples=n_permutations,
        alternative="greater",
        rng=seed,
    )
    return (float(fn(xa, xb)), float(result.pvalue))


def pearson_with_ci(
    x: Sequence[float], y: Sequence[float], confidence: float = 0.95
) -> tuple[float, float, float]:
    """Pearson r with a Fisher-z interval (``scipy.stats.pearsonr``): (r, low, high).

    All NaN when n < 2 or either side is constant; bounds NaN when n < 4 (the z SE is
    1 / sqrt(n - 3)); a point interval when |r| = 1.
    """
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(xa) != len(ya):
        raise ValueError("x and y must have the same length")
    n = len(xa)
    if n < 2 or np.ptp(xa) == 0 or np.ptp(ya) == 0:
        return (NAN, NAN, NAN)
    result = _st.pearsonr(xa, ya)
    r = float(result.statistic)
    if n < 4:
        return (r, NAN, NAN)
    if abs(r) == 1.0:
        return (r, r, r)
    ci = result.confidence_interval(confidence)
    return (r, float(ci.low), float(ci.high))


def partial_correlation(
    y: Sequence[float],
    x: Sequence[float],
    covariates: Mapping[str, Sequence[float]],
    confidence: float = 0.95,
) -> tuple[float, float, float, int]:
    """Partial correlation of y and x given covariates, with a Fisher-z interval: (r, low,
    high, n).

    r is the Pearson correlation of the residuals of y and x on the covariates plus an
    intercept (statsmodels OLS); the z SE is 1 / sqrt(n - 3 - k) for k = ``len(covariates)``
    columns (one per dummy of a factor). NaN when n < 3 or the covariates explain y or x
    entirely; bounds NaN when n - 3 - k <= 0.
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
    dof = n - 3 - len(covariates)
    if dof <= 0:
        return (r, NAN, NAN, n)
    if abs(r) == 1.0:
        return (r, r, r, n)
    low, high = _fisher_z_interval(r, dof, confidence)
    return (r, low, high, n)


# --------------------------------------------------------------------------- agreement / MI


def cohens_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """Cohen's kappa between two graders (e.g. rule grader vs LLM judge), scikit-learn's
    ``cohen_kappa_score``.

    NaN for empty input. When both graders always used the same single label, chance
    agreement is 1 and kappa is 0/0; we return 1.0 because the graders agree perfectly.
    """
    if len(a) != len(b):
        raise ValueError("a and b must have the same length")
    n = len(a)
    if n == 0:
        return NAN
    # Labels may be any hashable (None next to strings), which scikit-learn cannot sort:
    # code them as ints, jointly so the same label gets the same code in both.
    codes = _encode([*a, *b])
    if codes.max() == 0:
        return 1.0
    return float(cohen_kappa_score(codes[:n], codes[n:]))


@dataclass(frozen=True)
class MutualInformation:
    """MI (bits) between injected and reported concepts, with the baselines to read it by.

    ``corrected_bits`` (Miller-Madow) is the number to report; ``plugin_bits`` is biased
    upward by roughly (cells - 1) / (2 N ln 2), which matters with 50 concepts and a few
    hundred trials. ``shuffled_*`` give the empirical null; ``max_bits`` = log2(#x) is the
    ceiling for a perfect reporter.
    """

    plugin_bits: float
    corrected_bits: float
    shuffled_mean_bits: float
    shuffled_p95_bits: float
    p_value: float
    n: int
    max_bits: float
    ci_low: float
    ci_high: float


def _encode(labels: Sequence[Hashable]) -> np.ndarray:
    """Map arbitrary hashable labels (including None) to ints in first-seen order."""
    index: dict[Hashable, int] = {}
    return np.array([index.setdefault(v, len(index)) for v in labels], dtype=np.int64)


def _mi_bits(x: np.ndarray, y: np.ndarray, correction: str) -> tuple[float, float]:
    """(plugin, corrected) MI in bits for int-coded label arrays."""
    n = len(x)
    ky_all = int(y.max()) + 1
    joint = np.bincount(x * ky_all + y).astype(float)
    joint = joint[joint > 0] / n
    px = np.bincount(x).astype(float)
    px = px[px > 0] / n
    py = np.bincount(y).astype(float)
    py = py[py > 0] / n

    def h(p: np.ndarray) -> float:
        return float(-(p * np.log2(p)).sum())

    plugin = max(0.0, h(px) + h(py) - h(joint))
    if correction == "none":
        return plugin, plugin
    bias = (len(joint) - len(px) - len(py) + 1) / (2.0 * n * math.log(2))
    return plugin, plugin - bias


def mutual_information(
    x_labels: Sequence[Hashable],
    y_labels: Sequence[Hashable],
    *,
    correction: str = "miller_madow",
    n_shuffles: int = 200,
    n_boot: int = 500,
    seed: int = 0,
    confidence: float = 0.95,
) -> MutualInformation:
    """Mutual information between two label sequences (x = injected, y = reported).

    The corrected value is deliberately not clamped at 0, so averages over runs stay
    unbiased. The shuffle baseline (y permuted against x) and its p-value answer "does the
    report carry information about the injected direction at all"; the bootstrap CI over
    trials is for the corrected value (spread of the bootstrap, re-centred on the estimate).
    Labels may be any hashable (None = "no concept").
    """
    if correction not in ("miller_madow", "none"):
        raise ValueError(f"unknown correction {correction!r}")
    if len(x_labels) != len(y_labels):
        raise ValueError("x_labels and y_labels must have the same length")
    n = len(x_labels)
    if n == 0:
        return MutualInformation(NAN, NAN, NAN, NAN, NAN, 0, NAN, NAN, NAN)
    x, y = _encode(x_labels), _encode(y_labels)
    plugin, corrected = _mi_bits(x, y, correction)
    rng = np.random.default_rng(seed)
    shuffled = np.array([_mi_bits(x, rng.permutation(y), correction)[0] for _ in range(n_shuffles)])
    p_value = (1 + int((shuffled >= plugin - 1e-12).sum())) / (n_shuffles + 1)
    boots = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, size=n)
        boots.append(_mi_bits(x[idx], y[idx], correction)[1])
    # Resampling with replacement duplicates trials, which looks like dependence, so the
    # bootstrap distribution of MI sits above the estimate. Use its spread around its own
    # median, re-centred on the estimate, rather than raw percentiles.
    alpha = (1.0 - confidence) / 2.0
    if boots:
        q_lo, q_mid, q_hi = np.quantile(boots, [alpha, 0.5, 1 - alpha])
        lo, hi = corrected - (q_mid - q_lo), corrected + (q_hi - q_mid)
    else:
        lo = hi = NAN
    return MutualInformation(
        plugin_bits=plugin,
        corrected_bits=corrected,
        shuffled_mean_bits=float(shuffled.mean()) if n_shuffles else NAN,
        shuffled_p95_bits=float(np.quantile(shuffled, 0.95)) if n_shuffles else NAN,
        p_value=p_value if n_shuffles else NAN,
        n=n,
        max_bits=math.log2(len(set(x_labels))),
        ci_low=float(lo),
        ci_high=float(hi),
    )


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


def _ols(y: np.ndarray, design: np.ndarray) -> Any:
    """statsmodels OLS fit. A rank-deficient design (e.g. dummies nested in other dummies) is
    expected in sweeps and gets the minimum-norm solution (pinv), so its warning is muted."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularMatrixWarning)
        return OLS(y, design).fit()


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
) -> RegressionResult:
    """OLS (statsmodels) with classical (homoskedastic) standard errors and t-based CIs and
    p-values; ``r2`` is always the centred R^2 (NaN when y is constant).

    Used e.g. to relate category thresholds to how readily a concept connects to the
    prompt. With no residual degrees of freedom (n <= rank of the design) the SEs are NaN
    rather than an error; a rank-deficient design gets the minimum-norm estimates, with
    n - rank residual degrees of freedom. Empty input gives NaN estimates.
    """
    yv = np.asarray(y, dtype=float)
    n = len(yv)
    names, A = _design(n, X, add_intercept)
    if n == 0 or A.shape[1] == 0:
        return RegressionResult(_undefined(names), n, NAN, "ols")
    fit = _ols(yv, A)
    r2 = 1.0 - fit.ssr / fit.centered_tss if fit.centered_tss > 0 else NAN
    if fit.df_resid <= 0:
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
) -> RegressionResult:
    """Logistic regression (statsmodels ``Logit``, Newton-Raphson) with Wald CIs.

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
    _z(confidence)
    ybar = yv.mean() if n else NAN
    if n == 0 or A.shape[1] == 0:
        return RegressionResult(_undefined(names), n, NAN, "logit", converged=False)
    # Non-convergence and separation are read off the result below (converged=False), and
    # the logistic function overflowing to exactly 0 or 1 on a runaway fit is harmless.
    with warnings.catch_warnings(), np.errstate(over="ignore"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", PerfectSeparationWarning)
        try:
            fit = Logit(yv, A).fit(method="newton", maxiter=max_iter, tol=tol, disp=False)
        except np.linalg.LinAlgError:
            # singular Hessian at the end: the design does not identify the coefficients
            return RegressionResult(_undefined(names), n, NAN, "logit", converged=False)
    beta = np.asarray(fit.params)
    converged = (
        bool(fit.mle_retvals["converged"])
        and not np.allclose(fit.predict(), yv)
        and bool(np.all(np.isfinite(fit.bse)))
    )
    if converged:
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


# --------------------------------------------------------------------------- thresholds


def lowest_passing_level(
    levels: Sequence[float],
    hits: Sequence[tuple[int, int]],
    controls: Sequence[tuple[int, int]],
    confidence: float = 0.95,
) -> float | None:
    """Smallest level (e.g. injection strength) whose hit - control Newcombe CI excludes 0.

    ``hits[i]`` and ``controls[i]`` are (successes, n) at ``levels[i]``; levels need not be
    sorted. This is the "category threshold": None when no level beats its control.
    """
    if not len(levels) == len(hits) == len(controls):
        raise ValueError("levels, hits and controls must have the same length")
    for level, (sh, nh), (sc, nc) in sorted(
        zip(levels, hits, controls, strict=True), key=lambda t: t[0]
    ):
        if rate_difference(sh, nh, sc, nc, confidence).low > 0.0:
            return level
    return None
