"""Table columns of the chain-of-thought suite, with the item as the unit and intervals from a
cluster bootstrap over item families (``docs/statistics.md``): a rate is a mean of 0 / 1 per
item, a difference is a mean of per-item paired differences, a correlation is Pearson's r over
items; a rate's interval is never narrower than Wilson's on the same items. Column
conventions are those of :mod:`introscope.tables` (``X``, ``X_ci_low``,
``X_ci_high``, ``X_n``; differences add ``X_n_ref``). Undefined values (NaN) leave the n.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from introscope.headlines import pct
from introscope.stats.intervals import encode_labels, wilson_interval

N_BOOT = 1000


def _finite(
    values: Sequence[float | None], families: Sequence[Hashable]
) -> tuple[np.ndarray, list[Hashable]]:
    v = np.array([np.nan if x is None else float(x) for x in values], dtype=float)
    keep = np.isfinite(v)
    return v[keep], [f for f, k in zip(families, keep, strict=True) if k]


def clustered_mean(
    values: Sequence[float | None], families: Sequence[Hashable], seed: int = 0
) -> tuple[float, float, float, int]:
    """(mean, low, high, n) over the finite values, interval from whole families resampled
    (percentile, as :func:`introscope.stats.cluster_bootstrap`; undefined with one family)."""
    v, fam = _finite(values, families)
    if len(v) == 0:
        return (math.nan, math.nan, math.nan, 0)
    labels = encode_labels(fam)
    sums = np.bincount(labels, weights=v)
    sizes = np.bincount(labels).astype(float)
    est = float(v.mean())
    if len(sizes) < 2:
        return (est, math.nan, math.nan, len(v))
    # The cluster bootstrap of a mean, all resamples at once: a resample's mean is the sum
    # of its clusters' sums over the sum of their sizes.
    pick = np.random.default_rng(seed).integers(0, len(sizes), size=(N_BOOT, len(sizes)))
    boots = sums[pick].sum(axis=1) / sizes[pick].sum(axis=1)
    lo, hi = (float(q) for q in np.quantile(boots, [0.025, 0.975]))
    if np.isin(v, (0.0, 1.0)).all():
        # A rate: never narrower than Wilson's interval on the same items (resampling few
        # families of identical outcomes gives a zero-width interval; clustering can only
        # widen the independent-items interval, never narrow it).
        w_lo, w_hi = wilson_interval(int(v.sum()), len(v))
        lo, hi = min(lo, w_lo), max(hi, w_hi)
    return (est, lo, hi, len(v))


def put_clustered(
    out: dict[str, Any],
    name: str,
    values: Sequence[float | None],
    families: Sequence[Hashable],
    seed: int = 0,
) -> None:
    est, lo, hi, n = clustered_mean(values, families, seed)
    out[name], out[f"{name}_ci_low"], out[f"{name}_ci_high"], out[f"{name}_n"] = est, lo, hi, n


def put_paired(
    out: dict[str, Any],
    name: str,
    a: Sequence[float | None],
    b: Sequence[float | None],
    families: Sequence[Hashable],
    seed: int = 0,
) -> None:
    """The mean of per-item differences ``a - b`` (items where both are defined)."""
    diffs = [
        None if x is None or y is None or not (math.isfinite(x) and math.isfinite(y)) else x - y
        for x, y in zip(a, b, strict=True)
    ]
    put_clustered(out, name, diffs, families, seed)
    out[f"{name}_n_ref"] = out[f"{name}_n"]


def clustered_r(
    x: Sequence[float | None],
    y: Sequence[float | None],
    families: Sequence[Hashable],
    seed: int = 0,
) -> tuple[float, float, float, int]:
    """Pearson r over items where both are finite, with a cluster-bootstrap interval (NaN
    when either is constant)."""
    xv = np.array([np.nan if v is None else float(v) for v in x], dtype=float)
    yv = np.array([np.nan if v is None else float(v) for v in y], dtype=float)
    keep = np.isfinite(xv) & np.isfinite(yv)
    xv, yv = xv[keep], yv[keep]
    fam = [f for f, k in zip(families, keep, strict=True) if k]
    if len(xv) < 3:
        return (math.nan, math.nan, math.nan, len(xv))
    est = float(_weighted_r(xv, yv, np.ones((1, len(xv))))[0])
    labels = encode_labels(fam)
    n_fam = int(labels.max()) + 1
    if n_fam < 2 or not math.isfinite(est):
        return (est, math.nan, math.nan, len(xv))
    # All resamples at once: a resample weighs each item by how often its family was drawn.
    pick = np.random.default_rng(seed).integers(0, n_fam, size=(N_BOOT, n_fam))
    counts = np.zeros((N_BOOT, n_fam))
    np.add.at(counts, (np.arange(N_BOOT)[:, None], pick), 1.0)
    boots = _weighted_r(xv, yv, counts[:, labels])
    finite = boots[np.isfinite(boots)]
    if len(finite) < N_BOOT / 2:  # undefined on most resamples: no honest interval
        return (est, math.nan, math.nan, len(xv))
    lo, hi = np.quantile(finite, [0.025, 0.975])
    return (est, float(lo), float(hi), len(xv))


def _weighted_r(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Pearson r of ``x`` and ``y`` under each row of weights ``w`` ``[B, n]`` (NaN where
    either is constant among the rows weighed)."""
    x, y = x - x.mean(), y - y.mean()
    total = w.sum(axis=1)
    mx, my = w @ x / total, w @ y / total
    cxy = w @ (x * y) / total - mx * my
    cxx = w @ (x * x) / total - mx * mx
    cyy = w @ (y * y) / total - my * my
    ok = (cxx > 1e-12) & (cyy > 1e-12)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, cxy / np.sqrt(np.where(ok, cxx * cyy, 1.0)), np.nan)


def put_r(
    out: dict[str, Any],
    name: str,
    x: Sequence[float | None],
    y: Sequence[float | None],
    families: Sequence[Hashable],
) -> None:
    est, lo, hi, n = clustered_r(x, y, families)
    out[name], out[f"{name}_ci_low"], out[f"{name}_ci_high"], out[f"{name}_n"] = est, lo, hi, n


def at_chance(low: Any, high: Any, chance: float) -> bool | None:
    """Whether an accuracy interval covers chance (None when the interval is undefined)."""
    try:
        lo, hi = float(low), float(high)
    except (TypeError, ValueError):
        return None
    if math.isnan(lo) or math.isnan(hi) or math.isnan(chance):
        return None
    return lo <= chance <= hi


def chance_sentence(acc: Any, low: Any, high: Any, chance: float, what: str) -> str:
    """One sentence on whether ``what`` (an accuracy) is above chance."""
    state = at_chance(low, high, chance)
    if state is None:
        return f"{what} is {pct(acc)} (chance {pct(chance)}; no interval, so undetermined)."
    if state:
        return (
            f"{what} is {pct(acc)} [{pct(low)}, {pct(high)}], at chance ({pct(chance)}): the "
            "model does not solve these items, so the results below license nothing about "
            "how its reasoning relates to its answers."
        )
    side = "above" if float(low) > chance else "below"
    return f"{what} is {pct(acc)} [{pct(low)}, {pct(high)}], {side} chance ({pct(chance)})."
