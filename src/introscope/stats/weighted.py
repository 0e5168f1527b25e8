"""The cluster bootstrap computed all at once: a resample of whole clusters is a vector of
item weights (how many times each item's cluster was drawn), and a statistic that is a
symmetric function of the rows it is given equals its weighted version under those weights.
So the resamples of :func:`introscope.stats.cluster_bootstrap` become one matrix ``W``
``[n_boot, n]`` and each statistic below a few matrix products over it, the same resamples
and the same numbers as resampling row indices, thousands of times faster than calling the
statistic once per resample.

Every weighted statistic takes ``W`` and returns ``[n_boot]`` values, NaN where the
statistic is undefined on that resample. The weighted forms (integer weights = repeated
rows): means; Pearson r; partial r (weighted least squares on the covariates with an
intercept, a vanishing ridge for designs a resample leaves rank-deficient); the slope of a
simple regression; AUROC (sum over correct x incorrect pairs of w_i w_j [s_i > s_j], ties
one half); Brier; ECE with fixed bins and with adaptive bins (``numpy.quantile``'s linear
rule on the repeated rows); AURC (the risk-coverage curve over repeated rows in closed form
with harmonic numbers; rows with tied confidence keep their order).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

import numpy as np
from scipy.special import digamma

from introscope.stats.calibration import bin_edges, bin_index
from introscope.stats.intervals import NAN, encode_labels, z_value

Interval = tuple[float, float, float]  # (estimate, low, high)
WeightedStatistic = Callable[[np.ndarray], np.ndarray]  # W [m, n] -> [m]


def cluster_picks(n_clusters: int, n_boot: int, seed: int) -> np.ndarray:
    """``[n_boot, n_clusters]``: the clusters each resample draws (with replacement)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, n_clusters, size=(n_boot, n_clusters))


def cluster_weights(labels: np.ndarray, picks: np.ndarray) -> np.ndarray:
    """``[n_boot, n]``: how many times each row's cluster is drawn in each resample."""
    n_boot, n_clusters = picks.shape
    counts = np.zeros((n_boot, int(labels.max()) + 1 if len(labels) else 0))
    np.add.at(counts, (np.repeat(np.arange(n_boot), n_clusters), picks.ravel()), 1.0)
    return counts[:, labels]


def percentile_interval(
    estimate: float, boots: np.ndarray, confidence: float
) -> tuple[float, float, float]:
    finite = boots[np.isfinite(boots)]
    if not np.isfinite(estimate) or len(finite) < len(boots) / 2:
        return (estimate, NAN, NAN)  # undefined on most resamples: no honest interval
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(finite, [alpha, 1.0 - alpha])
    return (estimate, float(low), float(high))


def weighted_bootstrap(
    statistic: WeightedStatistic,
    clusters: Sequence[Hashable],
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> Interval:
    """(estimate, low, high): the statistic with unit weights, and the percentile interval
    over ``n_boot`` resamples of whole clusters (the resamples of ``cluster_bootstrap``
    with the same seed); undefined with fewer than two clusters."""
    z_value(confidence)
    labels = encode_labels(clusters)
    n = len(labels)
    if n == 0:
        return (NAN, NAN, NAN)
    estimate = float(statistic(np.ones((1, n)))[0])
    n_clusters = int(labels.max()) + 1
    if n_clusters < 2 or not np.isfinite(estimate):
        return (estimate, NAN, NAN)
    w = cluster_weights(labels, cluster_picks(n_clusters, n_boot, seed))
    boots = np.asarray(statistic(w), dtype=float)
    return percentile_interval(estimate, boots, confidence)


# --------------------------------------------------------------------------- statistics


def _mean(w: np.ndarray, v: np.ndarray) -> np.ndarray:
    total = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (w * v).sum(axis=1) / total


def w_mean(x: np.ndarray) -> WeightedStatistic:
    v = np.asarray(x, dtype=float)
    return lambda w: _mean(w, v)


def _corr(w: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Weighted Pearson r of rows of ``a`` and ``b`` (``[m, n]`` or ``[n]``); NaN where
    either is constant or the total weight is under 3."""
    total = w.sum(axis=1)
    ma, mb = _mean(w, a)[:, None], _mean(w, b)[:, None]
    da, db = a - ma, b - mb
    va, vb = (w * da * da).sum(1) / total, (w * db * db).sum(1) / total
    cov = (w * da * db).sum(1) / total
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.clip(cov / np.sqrt(va * vb), -1.0, 1.0)
    bad = (np.sqrt(va) < 1e-12) | (np.sqrt(vb) < 1e-12) | (total < 3)
    return np.where(bad, NAN, r)


def w_pearson(y: np.ndarray, x: np.ndarray) -> WeightedStatistic:
    yv, xv = np.asarray(y, dtype=float), np.asarray(x, dtype=float)
    return lambda w: _corr(w, yv, xv)


def _design(covariates: np.ndarray, n: int) -> np.ndarray:
    """Intercept plus standardized covariates (constant ones dropped): the same column
    space, better conditioned normal equations."""
    z = np.asarray(covariates, dtype=float).reshape(n, -1)
    sd = z.std(axis=0) if n else np.zeros(z.shape[1])
    keep = sd > 1e-12
    cols = (z[:, keep] - z[:, keep].mean(axis=0)) / sd[keep]
    return np.column_stack([np.ones(n), cols])


def w_partial_r(y: np.ndarray, x: np.ndarray, covariates: np.ndarray) -> WeightedStatistic:
    """Weighted partial correlation of y and x given the covariates (as
    :func:`introscope.stats.partial_r` on repeated rows): weighted least squares of y and x
    on the design (a vanishing ridge where a resample leaves it rank-deficient), then
    the weighted correlation of the residuals, all from per-row moments summed by one
    matrix product per resample batch (no ``[n_boot, n]`` residuals)."""
    yv, xv = np.asarray(y, dtype=float), np.asarray(x, dtype=float)
    n = len(yv)
    design = _design(covariates, n)
    k = design.shape[1]
    # Centred and scaled y and x: the same correlation, better conditioned sums.
    ys = (yv - yv.mean()) / (yv.std() or 1.0)
    xs = (xv - xv.mean()) / (xv.std() or 1.0)
    moments = np.column_stack(
        [
            np.einsum("ik,il->ikl", design, design).reshape(n, k * k),
            design * ys[:, None],
            design * xs[:, None],
            ys * ys,
            xs * xs,
            ys * xs,
        ]
    )

    def stat(w: np.ndarray) -> np.ndarray:
        m = w @ moments  # [m, ...]: weighted sums of every moment
        zz = m[:, : k * k].reshape(-1, k, k)
        zy, zx = m[:, k * k : k * k + k], m[:, k * k + k : k * k + 2 * k]
        yy, xx, xy = m[:, -3], m[:, -2], m[:, -1]
        # A family absent from a resample leaves its dummy's row and column zero: a ridge
        # of 1e-10 x the total weight sets that coefficient to 0 (the minimum-norm
        # solution) and moves the others by ~1e-10 (the columns are standardized).
        ridge = 1e-10 * w.sum(axis=1)[:, None, None] * np.eye(k)
        b = np.linalg.solve(zz + ridge, np.stack([zy, zx], axis=-1))
        by, bx = b[..., 0], b[..., 1]
        # Residual sums of squares and cross-products (the residuals have weighted mean 0:
        # the design holds the intercept).
        ryy = yy - np.einsum("mk,mk->m", by, zy)
        rxx = xx - np.einsum("mk,mk->m", bx, zx)
        rxy = xy - np.einsum("mk,mk->m", by, zx)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.clip(rxy / np.sqrt(ryy * rxx), -1.0, 1.0)
        # A residual that is (numerically) constant: no correlation to speak of.
        flat = (ryy <= 1e-10 * np.maximum(yy, 1e-300)) | (rxx <= 1e-10 * np.maximum(xx, 1e-300))
        return np.where(flat | (w.sum(axis=1) < 3), NAN, r)

    return stat


def w_slope(y: np.ndarray, x: np.ndarray) -> WeightedStatistic:
    """Least-squares slope of y on x (NaN where x is constant)."""
    yv, xv = np.asarray(y, dtype=float), np.asarray(x, dtype=float)

    def stat(w: np.ndarray) -> np.ndarray:
        dx, dy = xv - _mean(w, xv)[:, None], yv - _mean(w, yv)[:, None]
        vx = (w * dx * dx).sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(vx > 1e-12, (w * dx * dy).sum(1) / vx, NAN)

    return stat


def w_auroc(scores: np.ndarray, correct: np.ndarray) -> WeightedStatistic:
    """Weighted AUROC; NaN where a resample holds no correct or no incorrect row, or any
    non-finite score."""
    s, y = np.asarray(scores, dtype=float), np.asarray(correct, dtype=float)
    bad = ~np.isfinite(s)
    s = np.where(bad, 0.0, s)
    pos, neg = y == 1, y == 0
    sp, sn = s[pos], s[neg]
    wins = (sp[:, None] > sn[None, :]) + 0.5 * (sp[:, None] == sn[None, :])

    def stat(w: np.ndarray) -> np.ndarray:
        wp, wn = w[:, pos], w[:, neg]
        den = wp.sum(1) * wn.sum(1)
        num = ((wp @ wins) * wn).sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = num / den
        return np.where((den == 0) | ((w[:, bad] > 0).any(axis=1)), NAN, out)

    return stat


def w_brier(confidence: np.ndarray, correct: np.ndarray) -> WeightedStatistic:
    c, y = np.asarray(confidence, dtype=float), np.asarray(correct, dtype=float)
    return w_mean((c - y) ** 2)


def _ece_from_bins(
    w: np.ndarray, idx: np.ndarray, c: np.ndarray, y: np.ndarray, nb: int
) -> np.ndarray:
    """sum over bins |sum of correctness - sum of confidence| / total weight, where
    ``idx`` ``[m, n]`` is each row's bin in each resample."""
    m = len(w)
    flat = (np.arange(m)[:, None] * nb + idx).ravel()
    sy = np.bincount(flat, weights=(w * y).ravel(), minlength=m * nb).reshape(m, nb)
    sc = np.bincount(flat, weights=(w * c).ravel(), minlength=m * nb).reshape(m, nb)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.abs(sy - sc).sum(1) / w.sum(1)


def w_ece(
    confidence: np.ndarray, correct: np.ndarray, n_bins: int = 10, adaptive: bool = False
) -> WeightedStatistic:
    """Weighted ECE (as :func:`introscope.stats.ece` on repeated rows)."""
    c, y = np.asarray(confidence, dtype=float), np.asarray(correct, dtype=float)
    if np.any((c < 0) | (c > 1)):
        raise ValueError("confidences must lie in [0, 1]")
    if not adaptive:
        idx = bin_index(c, bin_edges(c, n_bins, adaptive=False))
        return lambda w: _ece_from_bins(w, np.broadcast_to(idx, w.shape), c, y, n_bins)
    order = np.argsort(c, kind="stable")
    cs = c[order]
    q = np.linspace(0.0, 1.0, n_bins + 1)

    def stat(w: np.ndarray) -> np.ndarray:
        cum = np.cumsum(w[:, order], axis=1)  # [m, n]: end of each sorted row's repeats
        total = cum[:, -1:]
        h = q[None, :] * (total - 1)  # positions in the repeated, sorted rows
        lo = np.floor(h)
        hi = np.minimum(lo + 1, total - 1)
        at_lo = (cum[:, None, :] <= lo[:, :, None]).sum(-1).clip(max=len(c) - 1)
        at_hi = (cum[:, None, :] <= hi[:, :, None]).sum(-1).clip(max=len(c) - 1)
        edges = cs[at_lo] + (h - lo) * (cs[at_hi] - cs[at_lo])
        edges[:, 0], edges[:, -1] = 0.0, 1.0
        idx = ((edges[:, None, :] < c[None, :, None]).sum(-1) - 1).clip(0, n_bins - 1)
        out = _ece_from_bins(w, idx, c, y, n_bins)
        return np.where(w.sum(1) > 0, out, NAN)

    return stat


def _harmonic(m: np.ndarray) -> np.ndarray:
    return digamma(m + 1.0) + np.euler_gamma


def w_aurc(confidence: np.ndarray, correct: np.ndarray) -> WeightedStatistic:
    """Weighted AURC: rows sorted by decreasing confidence, each repeated w times; the mean
    over coverage k = 1..N of the error rate of the first k, summed per row in closed form
    (sum_j (E + j e) / (K + j) over its repeats j = 1..w)."""
    c, y = np.asarray(confidence, dtype=float), np.asarray(correct, dtype=float)
    order = np.argsort(-c, kind="stable")
    e = 1.0 - y[order]

    def stat(w: np.ndarray) -> np.ndarray:
        ws = w[:, order]
        k_end = np.cumsum(ws, axis=1)
        k0 = k_end - ws
        e0 = np.cumsum(ws * e, axis=1) - ws * e
        dh = _harmonic(k_end) - _harmonic(k0)
        total = (e0 * dh + e * (ws - k0 * dh)).sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(k_end[:, -1] > 0, total / k_end[:, -1], NAN)

    return stat
