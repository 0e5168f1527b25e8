"""Table columns of the chain-of-thought suite, with the item as the unit and intervals from a
cluster bootstrap over item families (``docs/statistics.md``): a rate is a mean of 0 / 1 per
item, a difference is a mean of per-item paired differences, a correlation is Pearson's r over
items. Column conventions are those of :mod:`introscope.tables` (``X``, ``X_ci_low``,
``X_ci_high``, ``X_n``; differences add ``X_n_ref``). Undefined values (NaN) leave the n.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from introscope.headlines import pct
from introscope.stats import cluster_bootstrap

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
    """(mean, low, high, n) over the finite values, interval from whole families resampled."""
    v, fam = _finite(values, families)
    if len(v) == 0:
        return (math.nan, math.nan, math.nan, 0)
    est, lo, hi = cluster_bootstrap(lambda i: float(v[i].mean()), fam, N_BOOT, seed)
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

    def r(i: np.ndarray) -> float:
        a, b = xv[i], yv[i]
        if a.std() < 1e-12 or b.std() < 1e-12:
            return math.nan
        return float(np.corrcoef(a, b)[0, 1])

    est, lo, hi = cluster_bootstrap(r, fam, N_BOOT, seed)
    return (est, lo, hi, len(xv))


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
