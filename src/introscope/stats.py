"""Statistics for self-report experiments.

The reporting rules (DESIGN.md section 4) say every rate carries its n and a 95% Wilson
interval, and every difference carries a CI; net scores (hit minus matched control) are the
headline. This module is the single place those numbers are computed, so every table and
plot agrees. Everything is plain numpy/scipy, deterministic given a seed, and returns NaN
(never raises) when a quantity is undefined for the data at hand, because sweeps routinely
produce empty or degenerate cells and a report should show "nan" rather than crash.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as _st

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
    "mutual_information",
    "net_score",
    "paired_mean_ci",
    "pearson_with_ci",
    "permutation_test",
    "rate",
    "rate_difference",
    "wilson_interval",
]

NAN = float("nan")


def _z(confidence: float) -> float:
    """Two-sided normal critical value, e.g. 1.96 for 95%."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return float(_st.norm.ppf(1.0 - (1.0 - confidence) / 2.0))


# --------------------------------------------------------------------------- rates


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion.

    Wilson rather than Wald because our rates are often 0/50 or 1/100 (false positives on
    controls), where the Wald interval collapses to a point; Wilson keeps a sensible upper
    bound (0/10 -> 0.2775). ``n == 0`` means "no information", so the interval is [0, 1].
    """
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got {successes}/{n}")
    if n == 0:
        return (0.0, 1.0)
    z = _z(confidence)
    p = successes / n
    denom = 1.0 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if successes == 0 else max(0.0, center - half)
    high = 1.0 if successes == n else min(1.0, center + half)
    return (low, high)


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
    """Difference of two independent proportions, Newcombe (1998) hybrid score, method 10.

    Built from the two Wilson intervals, so it behaves well at 0% and 100% (the common
    case for control rates) where Wald differences are badly anti-conservative. Reference
    value (Newcombe 1998, Table II): 56/70 - 48/80 = 0.200, CI (0.0524, 0.3339).
    """
    if n_a == 0 or n_b == 0:
        return Difference(NAN, -1.0, 1.0, n_a, n_b)
    p1, p2 = s_a / n_a, s_b / n_b
    l1, u1 = wilson_interval(s_a, n_a, confidence)
    l2, u2 = wilson_interval(s_b, n_b, confidence)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return Difference(d, max(-1.0, low), min(1.0, high), n_a, n_b)


def net_score(hit: Rate, control: Rate) -> Difference:
    """Headline metric: hit rate minus its matched control rate, with a Newcombe CI."""
    return rate_difference(hit.successes, hit.n, control.successes, control.n)


# --------------------------------------------------------------------------- means


def mean_difference_ci(
    a: Sequence[float], b: Sequence[float], confidence: float = 0.95
) -> Difference:
    """Welch t interval for mean(a) - mean(b) (unequal variances: conditions rarely match)."""
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    na, nb = len(xa), len(xb)
    if na == 0 or nb == 0:
        return Difference(NAN, NAN, NAN, na, nb)
    d = float(xa.mean() - xb.mean())
    if na < 2 or nb < 2:
        return Difference(d, NAN, NAN, na, nb)
    va, vb = xa.var(ddof=1) / na, xb.var(ddof=1) / nb
    se = math.sqrt(va + vb)
    if se == 0.0:
        return Difference(d, d, d, na, nb)
    df = (va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
    t = float(_st.t.ppf(1.0 - (1.0 - confidence) / 2.0, df))
    return Difference(d, d - t * se, d + t * se, na, nb)


def paired_mean_ci(diffs: Sequence[float], confidence: float = 0.95) -> Difference:
    """One-sample t interval on paired differences (same trial under two conditions)."""
    x = np.asarray(diffs, dtype=float)
    n = len(x)
    if n == 0:
        return Difference(NAN, NAN, NAN, 0, 0)
    d = float(x.mean())
    if n < 2:
        return Difference(d, NAN, NAN, n, n)
    se = float(x.std(ddof=1)) / math.sqrt(n)
    if se == 0.0:
        return Difference(d, d, d, n, n)
    t = float(_st.t.ppf(1.0 - (1.0 - confidence) / 2.0, n - 1))
    return Difference(d, d - t * se, d + t * se, n, n)


def bootstrap_ci(
    values: Sequence[float],
    statistic: Callable[[np.ndarray], Any] = np.mean,
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float, float]:
    """Percentile bootstrap: (estimate, low, high). Seeded, so reports are reproducible.

    For statistics with no closed-form interval (medians, AUROC, ratios of rates).
    """
    x = np.asarray(values, dtype=float)
    if len(x) == 0:
        return (NAN, NAN, NAN)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), size=(n_boot, len(x)))
    boots = np.array([float(statistic(x[row])) for row in idx])
    alpha = (1.0 - confidence) / 2.0
    low, high = np.nanquantile(boots, [alpha, 1.0 - alpha])
    return (float(statistic(x)), float(low), float(high))


def permutation_test(
    a: Sequence[float],
    b: Sequence[float],
    statistic: str | Callable[[np.ndarray, np.ndarray], float] = "mean_diff",
    n_permutations: int = 5000,
    seed: int = 0,
) -> tuple[float, float]:
    """Two-sided permutation test: (observed statistic, p-value with +1 smoothing).

    ``statistic`` is "mean_diff", "median_diff" or a callable f(a, b). The +1 smoothing
    keeps p > 0, since a finite number of permutations cannot show p = 0.
    """
    fn: Callable[[np.ndarray, np.ndarray], float]
    if statistic == "mean_diff":
        fn = lambda u, v: float(u.mean() - v.mean())  # noqa: E731
    elif statistic == "median_diff":
        fn = lambda u, v: float(np.median(u) - np.median(v))  # noqa: E731
    elif callable(statistic):
        fn = statistic
    else:
        raise ValueError(f"unknown statistic {statistic!r}")
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(xa) == 0 or len(xb) == 0:
        return (NAN, NAN)
    observed = fn(xa, xb)
    pooled = np.concatenate([xa, xb])
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(n_permutations):
        perm = rng.permutation(pooled)
        if abs(fn(perm[: len(xa)], perm[len(xa) :])) >= abs(observed) - 1e-12:
            hits += 1
    return (observed, (hits + 1) / (n_permutations + 1))


def pearson_with_ci(
    x: Sequence[float], y: Sequence[float], confidence: float = 0.95
) -> tuple[float, float, float]:
    """Pearson r with a Fisher-z interval: (r, low, high); bounds NaN when n < 4."""
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(xa) != len(ya):
        raise ValueError("x and y must have the same length")
    n = len(xa)
    if n < 2 or xa.std() == 0 or ya.std() == 0:
        return (NAN, NAN, NAN)
    r = float(np.clip(np.corrcoef(xa, ya)[0, 1], -1.0, 1.0))
    if n < 4:
        return (r, NAN, NAN)
    if abs(r) == 1.0:
        return (r, r, r)
    z, se = math.atanh(r), 1.0 / math.sqrt(n - 3)
    zc = _z(confidence)
    return (r, math.tanh(z - zc * se), math.tanh(z + zc * se))


# --------------------------------------------------------------------------- agreement / MI


def cohens_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """Cohen's kappa between two graders (e.g. rule grader vs LLM judge).

    NaN for empty input. When chance agreement is 1 (both graders always used the same
    single label) kappa is 0/0; we return 1.0 because the graders agree perfectly.
    """
    if len(a) != len(b):
        raise ValueError("a and b must have the same length")
    n = len(a)
    if n == 0:
        return NAN
    labels = sorted({*a, *b}, key=repr)
    po = sum(x == y for x, y in zip(a, b, strict=True)) / n
    pe = sum((list(a).count(k) / n) * (list(b).count(k) / n) for k in labels)
    if pe >= 1.0 - 1e-12:
        return 1.0 if po >= 1.0 - 1e-12 else NAN
    return (po - pe) / (1.0 - pe)


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
    limit; estimates are then the last iterate and SE/CI/p are NaN.
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


def linear_regression(
    y: Sequence[float],
    X: Mapping[str, Sequence[float]],
    add_intercept: bool = True,
    confidence: float = 0.95,
) -> RegressionResult:
    """OLS with classical (homoskedastic) standard errors and t-based CIs and p-values.

    Used e.g. to relate category thresholds to how readily a concept connects to the
    prompt. With n <= number of coefficients the SEs are NaN rather than an error.
    """
    yv = np.asarray(y, dtype=float)
    n = len(yv)
    names, A = _design(n, X, add_intercept)
    k = A.shape[1]
    beta, *_ = np.linalg.lstsq(A, yv, rcond=None)
    resid = yv - A @ beta
    rss = float(resid @ resid)
    tss = float(((yv - yv.mean()) ** 2).sum()) if n else NAN
    r2 = 1.0 - rss / tss if tss and tss > 0 else NAN
    df = n - k
    if df > 0:
        cov = rss / df * np.linalg.pinv(A.T @ A)
        se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        tcrit = float(_st.t.ppf(1.0 - (1.0 - confidence) / 2.0, df))
        with np.errstate(divide="ignore", invalid="ignore"):
            pvals = 2.0 * _st.t.sf(np.abs(beta / se), df)
    else:
        se = np.full(k, NAN)
        tcrit = NAN
        pvals = np.full(k, NAN)
    coefs = tuple(
        Coefficient(nm, float(b), float(s), float(b - tcrit * s), float(b + tcrit * s), float(p))
        for nm, b, s, p in zip(names, beta, se, pvals, strict=True)
    )
    return RegressionResult(coefs, n, r2, "ols")


def logistic_regression(
    y01: Sequence[float],
    X: Mapping[str, Sequence[float]],
    add_intercept: bool = True,
    confidence: float = 0.95,
    max_iter: int = 100,
    tol: float = 1e-8,
) -> RegressionResult:
    """Logistic regression by Newton-Raphson (IRLS) with Wald CIs.

    Binary outcomes (detected / not) per trial against strength, layer, controls. Perfect
    separation is common with small cells (e.g. 0 false positives on every control), so it
    is reported via ``converged=False`` instead of raising or returning huge fake SEs.
    """
    yv = np.asarray(y01, dtype=float)
    if not np.all((yv == 0) | (yv == 1)):
        raise ValueError("y01 must contain only 0 and 1")
    n = len(yv)
    names, A = _design(n, X, add_intercept)
    k = A.shape[1]
    beta = np.zeros(k)
    converged = False
    for _ in range(max_iter):
        p = _st.logistic.cdf(A @ beta)
        w = p * (1.0 - p)
        hess = A.T @ (A * w[:, None])
        try:
            step = np.linalg.solve(hess, A.T @ (yv - p))
        except np.linalg.LinAlgError:
            break
        beta = beta + step
        if not np.all(np.isfinite(beta)) or np.max(np.abs(beta), initial=0.0) > 50.0:
            break  # coefficients running away: (quasi-)separation
        if np.max(np.abs(step), initial=0.0) < tol:
            converged = True
            break
    if converged:
        p = _st.logistic.cdf(A @ beta)
        hess = A.T @ (A * (p * (1.0 - p))[:, None])
        try:
            cov = np.linalg.inv(hess)
            se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        except np.linalg.LinAlgError:
            converged = False
    if not converged:
        se = np.full(k, NAN)
    zc = _z(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        pvals = 2.0 * _st.norm.sf(np.abs(beta / se))
    eps = 1e-15
    p_fit = np.clip(_st.logistic.cdf(A @ beta), eps, 1 - eps)
    ll = float((yv * np.log(p_fit) + (1 - yv) * np.log(1 - p_fit)).sum())
    ybar = yv.mean() if n else NAN
    if n and 0 < ybar < 1:
        ll0 = float(n * (ybar * math.log(ybar) + (1 - ybar) * math.log(1 - ybar)))
        r2 = 1.0 - ll / ll0
    else:
        r2 = NAN
    coefs = tuple(
        Coefficient(nm, float(b), float(s), float(b - zc * s), float(b + zc * s), float(pv))
        for nm, b, s, pv in zip(names, beta, se, pvals, strict=True)
    )
    return RegressionResult(coefs, n, r2, "logit", converged)


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
