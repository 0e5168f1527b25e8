"""Bootstrap intervals (over values, or over clusters such as concepts), permutation tests and
the sign-flip test for paired differences (scipy), seeded so reports are reproducible."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np
from scipy import stats as _st

from introscope.stats.intervals import NAN, encode_labels, z_value

Interval = tuple[float, float, float]  # (estimate, low, high)


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
    z_value(confidence)
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


def cluster_resamples(
    clusters: Sequence[Hashable], n_boot: int = 1000, seed: int = 0
) -> list[np.ndarray]:
    """``n_boot`` resamples of whole clusters with replacement, each as the row indices
    (into ``clusters``) of the clusters drawn; empty when there are fewer than two clusters
    (no resample can show cluster-to-cluster variation)."""
    labels = encode_labels(clusters)
    if len(labels) == 0:
        return []
    groups = [np.flatnonzero(labels == g) for g in range(int(labels.max()) + 1)]
    if len(groups) < 2:
        return []
    rng = np.random.default_rng(seed)
    return [
        np.concatenate([groups[g] for g in rng.integers(0, len(groups), size=len(groups))])
        for _ in range(n_boot)
    ]


def percentile_interval(draws: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """The percentile interval of bootstrap draws, over the draws on which the statistic is
    defined; NaN when it is undefined on most of them (no honest interval)."""
    z_value(confidence)
    x = np.asarray(draws, dtype=float)
    finite = x[np.isfinite(x)]
    if len(x) == 0 or len(finite) < len(x) / 2:
        return (NAN, NAN)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(finite, [alpha, 1.0 - alpha])
    return (float(low), float(high))


def cluster_bootstrap(
    statistic: Callable[[np.ndarray], float],
    clusters: Sequence[Hashable],
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> Interval:
    """(estimate, low, high): ``statistic(rows)`` on all rows, and the percentile interval of
    ``statistic`` over resamples of whole clusters (``rows`` are indices into the data).

    The cluster is the unit of replication (a concept whose trials share its vector and
    wording): trials of one cluster are not independent, so resampling trials would make
    the interval too narrow whenever clusters differ. Fewer than two clusters, or a
    statistic undefined on most resamples, give NaN bounds ("undetermined").
    """
    z_value(confidence)
    n = len(clusters)
    if n == 0:
        return (NAN, NAN, NAN)
    estimate = float(statistic(np.arange(n)))
    resamples = cluster_resamples(clusters, n_boot, seed)
    if not resamples or not np.isfinite(estimate):
        return (estimate, NAN, NAN)
    low, high = percentile_interval([float(statistic(rows)) for rows in resamples], confidence)
    return (estimate, low, high)


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


def sign_flip_test(diffs: Sequence[float], n_permutations: int = 5000, seed: int = 0) -> float:
    """Two-sided sign-flip permutation p-value for paired differences (e.g. one per concept):
    under "no difference" each difference is as likely positive as negative, so its sign is
    flipped at random (``scipy.stats.permutation_test`` with one sample and
    ``permutation_type="samples"``); p is the share of sign patterns whose |mean| is at least
    the observed one (exact when ``n_permutations`` covers all 2^n patterns). NaN with
    fewer than two differences."""
    x = np.asarray(diffs, dtype=float)
    if len(x) < 2:
        return NAN
    result = _st.permutation_test(
        (x,),
        lambda u, axis=-1: np.abs(np.mean(u, axis=axis)),
        permutation_type="samples",
        vectorized=True,
        n_resamples=n_permutations,
        alternative="greater",
        rng=seed,
    )
    return float(result.pvalue)
