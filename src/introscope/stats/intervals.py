"""Intervals for rates, differences, means and correlations; agreement between graders.

Wilson, Newcombe, Welch and t intervals, Pearson with Fisher-z, and Cohen's kappa are
scipy / statsmodels / scikit-learn calls; MOVER (Zou & Donner 2008) is written out because
no library has it. Every function returns NaN (never raises) where a quantity is undefined.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as _st
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.proportion import confint_proportions_2indep

NAN = float("nan")


def z_value(confidence: float) -> float:
    """Two-sided normal critical value, e.g. 1.96 for 95%; rejects confidence outside (0, 1)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return float(_st.norm.ppf(1.0 - (1.0 - confidence) / 2.0))


def fisher_z_interval(r: float, dof: int, confidence: float) -> tuple[float, float]:
    """Fisher-z interval for a correlation whose z has SE 1 / sqrt(dof) (dof = n - 3 - k)."""
    z, se = math.atanh(r), 1.0 / math.sqrt(dof)
    zc = z_value(confidence)
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
    z_value(confidence)  # the same confidence check as every other interval here
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


def clustered_rate(
    successes: Sequence[float], trials: Sequence[float], confidence: float = 0.95
) -> Rate:
    """A proportion over clustered trials (several trials per item), as a :class:`Rate` whose
    ``n`` is the effective sample size: Wilson's interval at the Rao-Scott effective n.

    The pooled rate p = sum(successes) / sum(trials); its cluster-robust variance is the
    ratio estimator's, k/(k-1) * sum_i (s_i - p n_i)^2 / N^2 over the k clusters; the design
    effect is that over the binomial p(1-p)/N, and Wilson's interval is taken at
    n_eff = N / deff (Rao & Scott 1992), never above N. Trials of one item agree more than
    independent ones, so the interval widens toward what the number of items alone
    supports. When every trial agrees (p is 0 or 1) the design effect is undefined and
    n_eff is the number of items (the conservative limit: each item counts once).
    """
    s = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    keep = n > 0
    s, n = s[keep], n[keep]
    total, k = float(n.sum()), len(n)
    if k == 0:
        return rate(0, 0, confidence)
    p = float(s.sum()) / total
    if k == 1:
        n_eff = 1.0
    elif p in (0.0, 1.0):
        n_eff = float(k)
    else:
        var = k / (k - 1) * float(((s - p * n) ** 2).sum()) / total**2
        deff = var / (p * (1 - p) / total)
        n_eff = total if deff <= 1 else total / deff
    # Wilson at a non-integer n: the score interval's closed form.
    z = z_value(confidence)
    centre = (p + z * z / (2 * n_eff)) / (1 + z * z / n_eff)
    half = z / (1 + z * z / n_eff) * math.sqrt(p * (1 - p) / n_eff + z * z / (4 * n_eff**2))
    low, high = max(0.0, centre - half), min(1.0, centre + half)
    return Rate(round(p * n_eff), round(n_eff), p, low, high)


@dataclass(frozen=True)
class Difference:
    """A difference (a - b) with its CI and the two sample sizes behind it; ``p`` is the
    two-sided p-value against 0 where the interval's method gives one (NaN otherwise)."""

    estimate: float
    low: float
    high: float
    n_a: int
    n_b: int
    p: float = NAN

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
    z_value(confidence)
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
    """Welch t interval for mean(a) - mean(b) (unequal variances: conditions rarely match),
    with its two-sided p-value.

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
        test = _st.ttest_ind(xa, xb, equal_var=False)
        ci = test.confidence_interval(confidence)
    return Difference(d, float(ci.low), float(ci.high), na, nb, float(test.pvalue))


def paired_mean_ci(diffs: Sequence[float], confidence: float = 0.95) -> Difference:
    """One-sample t interval on paired differences (same trial, or same concept, under two
    conditions), ``scipy.stats.ttest_1samp``, with its two-sided p-value against 0; NaN
    bounds (and p) for n < 2, a point interval for constant input (constant to 1e-12; p 0
    unless it is 0)."""
    x = np.asarray(diffs, dtype=float)
    n = len(x)
    if n == 0:
        return Difference(NAN, NAN, NAN, 0, 0)
    d = float(x.mean())
    if n < 2:
        return Difference(d, NAN, NAN, n, n)
    # Constant up to rounding (differences of equal sums rarely cancel exactly): a point
    # interval, where scipy would warn of catastrophic cancellation.
    if np.ptp(x) <= 1e-12 * max(1.0, abs(d)):
        return Difference(d, d, d, n, n, 1.0 if d == 0.0 else 0.0)
    test = _st.ttest_1samp(x, 0.0)
    ci = test.confidence_interval(confidence)
    return Difference(d, float(ci.low), float(ci.high), n, n, float(test.pvalue))


def shift_from_constant(
    values: Sequence[float], reference: Sequence[float], confidence: float = 0.95
) -> Difference:
    """mean(values) - mean(reference) when the reference is a deterministic readout (a
    logit readout of one fixed prompt: every repeat gives the same number, so one trial is
    the whole control): a one-sample t interval of ``values`` minus that constant, instead
    of a Welch interval that is undefined for a one-trial reference.

    A reference whose values differ (beyond float noise, 1e-6) is a sample, not a constant:
    then this is :func:`mean_difference_ci`. NaN with no reference or no values.
    """
    ref = np.asarray(reference, dtype=float)
    if len(ref) == 0 or len(values) == 0:
        return Difference(NAN, NAN, NAN, len(values), len(ref))
    if np.ptp(ref) > 1e-6:
        return mean_difference_ci(values, reference, confidence)
    d = paired_mean_ci([v - float(ref.mean()) for v in values], confidence)
    return Difference(d.estimate, d.low, d.high, d.n_a, len(ref), d.p)


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


# --------------------------------------------------------------------------- agreement / MI


def encode_labels(labels: Sequence[Hashable]) -> np.ndarray:
    """Map arbitrary hashable labels (including None) to ints in first-seen order."""
    index: dict[Hashable, int] = {}
    return np.array([index.setdefault(v, len(index)) for v in labels], dtype=np.int64)


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
    codes = encode_labels([*a, *b])
    if codes.max() == 0:
        return 1.0
    return float(cohen_kappa_score(codes[:n], codes[n:]))


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
