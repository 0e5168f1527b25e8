"""Dose-response curves over injection strength: a logistic in log2(strength) with its EC50.

The model for an effect ``y`` (a difference from a reference condition, e.g. P(yes) under a
concept vector minus under its norm-matched random vector, or a claim rate minus the
no-injection rate) at strength ``s`` is

    y(s) = Emax * expit(hill * (log2 s - log2 EC50))

a four-parameter logistic whose bottom is fixed at 0: as the strength goes to 0 both
conditions become the same unperturbed model, so the difference goes to 0 by construction.
``Emax`` (the plateau, in the effect's own units, within ``emax_bounds``) is free because
ceilings differ between models and categories; ``EC50`` is the strength at half of that
plateau, ``hill`` the slope per doubling. Reporting EC50 together with Emax replaces the
"lowest strength whose interval passes" scan, which depends on the grid's spacing and on n.

The fit is least squares on every (concept, strength) point, computed on the per-strength
means weighted by their counts (the same minimum), by a coarse-then-fine grid over
(log2 EC50, hill) with Emax solved in closed form at each grid point. EC50 is searched
from 1/8 of the lowest to 8 times the highest tested strength; an estimate outside the
tested range is an extrapolation and is flagged. Intervals resample whole concepts
(:func:`~introscope.stats.resampling.cluster_resamples`): the concept is the unit, and
with fewer than :data:`MIN_CLUSTERS` concepts the bounds are NaN (undetermined).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from introscope.stats.intervals import NAN
from introscope.stats.resampling import cluster_resamples, percentile_interval

#: Hill slopes (per doubling of strength) searched: from nearly linear over the grid to a
#: step within one doubling.
HILL_RANGE = (0.25, 8.0)
#: How far beyond the tested strengths EC50 is searched, in doublings.
EXTRAPOLATION_DOUBLINGS = 3.0
#: Fewest distinct strengths a curve with three parameters can be fitted to.
MIN_LEVELS = 3
#: Fewest concepts for a bootstrap interval: with fewer, resamples of whole concepts take a
#: handful of distinct values and the percentile interval means nothing (bounds NaN).
MIN_CLUSTERS = 5


@dataclass(frozen=True)
class EmaxFit:
    """One least-squares fit: log2 EC50, Emax, hill slope and the weighted SSE."""

    log2_ec50: float
    emax: float
    hill: float
    sse: float


@dataclass(frozen=True)
class DoseResponse:
    """A fitted dose-response curve with concept-bootstrap intervals (NaN when undefined)."""

    ec50: float
    ec50_low: float
    ec50_high: float
    emax: float
    emax_low: float
    emax_high: float
    hill: float
    n_clusters: int
    n_points: int
    strength_min: float
    strength_max: float

    @property
    def in_range(self) -> bool:
        """The EC50 lies within the tested strengths (else it is an extrapolation)."""
        return self.strength_min <= self.ec50 <= self.strength_max


def emax_curve(strength: np.ndarray, ec50: float, emax: float, hill: float) -> np.ndarray:
    """The model's effect at ``strength``."""
    x = np.log2(np.asarray(strength, dtype=float))
    return emax / (1.0 + np.exp(-hill * (x - math.log2(ec50))))


class EmaxGrid:
    """The (log2 EC50, hill) search grid for a set of tested strengths (``levels``, log2),
    fitted to many sets of per-level means at once (the data and its resamples)."""

    def __init__(self, levels: np.ndarray, emax_bounds: tuple[float, float]) -> None:
        self.levels = levels
        self.emax_bounds = emax_bounds
        self.lo = float(levels[0]) - EXTRAPOLATION_DOUBLINGS
        self.hi = float(levels[-1]) + EXTRAPOLATION_DOUBLINGS
        self.log_hills = (math.log(HILL_RANGE[0]), math.log(HILL_RANGE[1]))
        hill_step = (self.log_hills[1] - self.log_hills[0]) / 12
        x50, log_h = np.meshgrid(
            np.arange(self.lo, self.hi + 1e-9, 0.2), np.linspace(*self.log_hills, 13), indexing="ij"
        )
        self.coarse = (x50.ravel(), log_h.ravel())
        # The refinement around each coarse optimum, one coarse step either way: steps of
        # 0.02 doublings and a third of a coarse hill step.
        dx, dh = np.meshgrid(
            np.linspace(-0.2, 0.2, 21), np.linspace(-1.0, 1.0, 7) * hill_step, indexing="ij"
        )
        self.fine = (dx.ravel(), dh.ravel())

    def _curves(self, x50: np.ndarray, log_h: np.ndarray) -> np.ndarray:
        """The unit curve expit(hill * (level - x50)) at every level: [..., S]."""
        z = np.exp(log_h)[..., None] * (self.levels - x50[..., None])
        return 1.0 / (1.0 + np.exp(-z))

    def _pick(
        self, num: np.ndarray, den: np.ndarray, means: np.ndarray, weights: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For fixed (x50, hill) the curve is Emax * g, so the weighted least-squares Emax is
        sum(w m g) / sum(w g^2) (then clipped to its bounds) and the SSE expands into three
        sums: per row, the index of the best grid point, its Emax and its SSE."""
        emax = np.clip(num / den, *self.emax_bounds)
        sse = (weights * means**2).sum(axis=1)[:, None] - 2.0 * emax * num + emax**2 * den
        k = np.argmin(sse, axis=1)
        rows = np.arange(len(k))
        return k, emax[rows, k], sse[rows, k]

    def fit_many(self, means: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, ...]:
        """Fits to B sets of per-level means [B, S] with their counts (0: level absent):
        arrays (log2 EC50, Emax, hill, SSE), each [B]."""
        wm = weights * means
        g = self._curves(*self.coarse)  # [K, S], shared by every row
        k, _, _ = self._pick(wm @ g.T, weights @ (g * g).T, means, weights)
        fine_x = np.clip(self.coarse[0][k][:, None] + self.fine[0], self.lo, self.hi)
        fine_h = np.clip(self.coarse[1][k][:, None] + self.fine[1], *self.log_hills)
        g = self._curves(fine_x, fine_h)  # [B, K', S], one refinement per row
        num = np.einsum("bks,bs->bk", g, wm)
        den = np.einsum("bks,bs->bk", g * g, weights)
        k, emax, sse = self._pick(num, den, means, weights)
        rows = np.arange(len(k))
        return fine_x[rows, k], emax, np.exp(fine_h[rows, k]), sse

    def fit(self, means: np.ndarray, weights: np.ndarray) -> EmaxFit:
        x50, emax, hill, sse = self.fit_many(means[None, :], weights[None, :])
        return EmaxFit(float(x50[0]), float(emax[0]), float(hill[0]), float(sse[0]))


def level_means(inverse: np.ndarray, y: np.ndarray, n_levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-level means of ``y`` (0 where a level is absent) and counts."""
    weights = np.bincount(inverse, minlength=n_levels).astype(float)
    sums = np.bincount(inverse, weights=y, minlength=n_levels)
    return np.divide(sums, weights, out=np.zeros(n_levels), where=weights > 0), weights


def fit_emax(
    log2_strength: Sequence[float],
    effect: Sequence[float],
    emax_bounds: tuple[float, float] = (-1.0, 1.0),
) -> EmaxFit | None:
    """Least-squares fit of the model to points (log2 strength, effect); None with fewer
    than :data:`MIN_LEVELS` distinct strengths or no finite point."""
    x = np.asarray(log2_strength, dtype=float)
    y = np.asarray(effect, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    levels, inverse = np.unique(x[ok], return_inverse=True)
    if len(levels) < MIN_LEVELS:
        return None
    return EmaxGrid(levels, emax_bounds).fit(*level_means(inverse, y[ok], len(levels)))


def dose_response(
    strengths: Sequence[float],
    effects: Sequence[float],
    clusters: Sequence[Hashable],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    emax_bounds: tuple[float, float] = (-1.0, 1.0),
) -> DoseResponse:
    """Fit :func:`fit_emax` to points (strength, effect) that belong to ``clusters``
    (concepts), with percentile intervals for EC50 and Emax over resamples of whole
    clusters. Strengths must be positive; points with a non-finite effect are left out."""
    s = np.asarray(strengths, dtype=float)
    y = np.asarray(effects, dtype=float)
    if len(s) != len(y) or len(s) != len(clusters):
        raise ValueError("strengths, effects and clusters must have the same length")
    if np.any(s[np.isfinite(s)] <= 0):
        raise ValueError("a dose-response needs positive strengths (log2 of 0 is undefined)")
    ok = np.isfinite(s) & np.isfinite(y)
    s, y = s[ok], y[ok]
    kept = [c for c, keep in zip(clusters, ok, strict=True) if keep]
    n_clusters = len(set(kept))
    s_min = float(s.min()) if len(s) else NAN
    s_max = float(s.max()) if len(s) else NAN
    levels, inverse = np.unique(np.log2(s), return_inverse=True)
    if len(levels) < MIN_LEVELS:
        return DoseResponse(NAN, NAN, NAN, NAN, NAN, NAN, NAN, n_clusters, len(y), s_min, s_max)
    grid = EmaxGrid(levels, emax_bounds)
    full = grid.fit(*level_means(inverse, y, len(levels)))
    x_lo = x_hi = e_lo = e_hi = NAN
    resamples = cluster_resamples(kept, n_boot, seed) if n_clusters >= MIN_CLUSTERS else []
    if resamples:
        stats = [level_means(inverse[rows], y[rows], len(levels)) for rows in resamples]
        means = np.stack([m for m, _ in stats])
        weights = np.stack([w for _, w in stats])
        x50s, emaxes, _, _ = grid.fit_many(means, weights)
        # A resample that lost a strength level cannot identify three parameters.
        short = (weights > 0).sum(axis=1) < MIN_LEVELS
        x50s[short] = NAN
        emaxes[short] = NAN
        x_lo, x_hi = percentile_interval(list(x50s), confidence)
        e_lo, e_hi = percentile_interval(list(emaxes), confidence)
    return DoseResponse(
        ec50=2.0**full.log2_ec50,
        ec50_low=2.0**x_lo,
        ec50_high=2.0**x_hi,
        emax=full.emax,
        emax_low=e_lo,
        emax_high=e_hi,
        hill=full.hill,
        n_clusters=n_clusters,
        n_points=len(y),
        strength_min=s_min,
        strength_max=s_max,
    )
