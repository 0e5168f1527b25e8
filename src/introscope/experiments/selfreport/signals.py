"""The suite's statistics on an item frame (torch-free): calibration of each self-report,
accuracy against chance per family, the residual signal beyond the surface-feature model
and partial correlations with hidden-state variables (``docs/statistics.md``).

Every interval is a cluster bootstrap over item families (:func:`introscope.stats.
cluster_bootstrap`, ``BOOT`` resamples, all at once through :mod:`introscope.stats.weighted`);
each row carries ``n`` (items) and ``n_families``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from introscope.experiments.selfreport.frame import SIGNALS, Signal, surface_design
from introscope.stats import clustered_partial_r, incremental_auroc, rate
from introscope.stats.weighted import (
    WeightedStatistic,
    w_aurc,
    w_auroc,
    w_brier,
    w_ece,
    w_pearson,
    weighted_bootstrap,
)
from introscope.tables import NAN, put_rate

#: Bootstrap resamples per interval (read at call time, so tests may lower it).
BOOT = 1000
Interval = tuple[float, float, float]


def put_interval(out: dict[str, Any], name: str, iv: Interval, n: int) -> None:
    out[name], out[f"{name}_ci_low"], out[f"{name}_ci_high"] = iv
    out[f"{name}_n"] = n


def complete(df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Rows where every column holds a number (or a bool)."""
    if len(df) == 0:
        return df
    keep = np.ones(len(df), dtype=bool)
    for c in columns:
        keep &= pd.to_numeric(df[c], errors="coerce").notna().to_numpy()
    return df[keep].reset_index(drop=True)


def arrays(df: pd.DataFrame, *columns: str) -> list[np.ndarray]:
    return [pd.to_numeric(df[c], errors="coerce").astype(float).to_numpy() for c in columns]


def metric_interval(
    df: pd.DataFrame,
    conf_col: str,
    target_col: str,
    fn: Callable[[np.ndarray, np.ndarray], WeightedStatistic],
    seed: int = 0,
) -> Interval:
    c, y = arrays(df, conf_col, target_col)
    return weighted_bootstrap(fn(c, y), df["family"].tolist(), BOOT, seed)


#: Each metric as a weighted statistic (:mod:`introscope.stats.weighted`: the same numbers
#: as ``introscope.stats.auroc`` ... on resampled rows, all resamples at once).
CALIBRATION_METRICS: dict[str, Callable[[np.ndarray, np.ndarray], WeightedStatistic]] = {
    "auroc": w_auroc,
    "ece": w_ece,
    "ece_adaptive": lambda c, y: w_ece(c, y, adaptive=True),
    "brier": w_brier,
    "aurc": w_aurc,
}


def calibration_row(df: pd.DataFrame, sig: Signal, seed: int = 0) -> dict[str, Any] | None:
    """AUROC for correctness, ECE (10 fixed and 10 adaptive bins), Brier and AURC of one
    signal, each with a family-clustered interval; None when no item has the signal."""
    d = complete(df, [sig.column, sig.target])
    if len(d) == 0:
        return None
    c, y = arrays(d, sig.column, sig.target)
    out: dict[str, Any] = {
        "signal": sig.name,
        "label": sig.label,
        "graded_against": sig.target,
        "n_families": int(d["family"].nunique()),
        "mean_confidence": float(c.mean()),
    }
    put_rate(out, "accuracy", (bool(v) for v in y))
    for name, fn in CALIBRATION_METRICS.items():
        put_interval(out, name, metric_interval(d, sig.column, sig.target, fn, seed), len(d))
    out["aurc_no_information"] = float(1.0 - y.mean())  # AURC of a signal that ranks at random
    return out


def calibration_table(df: pd.DataFrame, signals: Sequence[Signal] = SIGNALS) -> pd.DataFrame:
    rows = [r for s in signals if (r := calibration_row(df, s)) is not None]
    return pd.DataFrame(rows)


def chance_level(df: pd.DataFrame) -> float:
    """Mean guessing accuracy: 1 / n_options for multiple choice, 0 for open items."""
    n = pd.to_numeric(df["n_options"], errors="coerce").fillna(0).to_numpy()
    return float(np.mean(np.where(n > 0, 1.0 / np.maximum(n, 1), 0.0))) if len(n) else NAN


def accuracy_table(df: pd.DataFrame) -> pd.DataFrame:
    """Accuracy of the greedy answer per family and overall (Wilson CI), its chance level
    and whether the interval lies above it (``above_chance``)."""
    d = complete(df, ["correct"])
    rows = []
    groups = [(str(f), g) for f, g in d.groupby("family", sort=True)]
    for family, g in [*groups, ("all", d)]:
        if len(g) == 0:
            continue
        out: dict[str, Any] = {"family": family, "n_items": len(g)}
        put_rate(out, "accuracy", (bool(v) for v in g["correct"]))
        out["chance"] = chance_level(g)
        out["above_chance"] = bool(out["accuracy_ci_low"] > out["chance"])
        out["at_ceiling"] = bool(out["accuracy_ci_high"] >= 0.999)
        rows.append(out)
    return pd.DataFrame(rows)


def residual_row(
    df: pd.DataFrame, name: str, column: str, target: str, kind: str, label: str = ""
) -> dict[str, Any] | None:
    """The residual signal of one column about correctness: its AUROC, the out-of-fold AUROC
    of the surface-feature model with and without it (and their difference), and its partial
    correlation with correctness given the surface features."""
    d = complete(df, [column, target])
    if len(d) < 4 or d[target].astype(float).nunique() < 2:
        return None
    x, y = arrays(d, column, target)
    fam = d["family"].tolist()
    surface = surface_design(d)
    inc = incremental_auroc(y, surface, x, fam, n_boot=BOOT)
    out: dict[str, Any] = {
        "signal": name,
        "signal_label": label or name,
        "kind": kind,
        "graded_against": target,
        "n_families": int(d["family"].nunique()),
    }
    put_interval(out, "auroc", weighted_bootstrap(w_auroc(x, y), fam, BOOT), len(d))
    out["surface_auroc"], out["surface_plus_auroc"] = inc.base, inc.full
    put_interval(out, "incremental_auroc", inc.delta, len(d))
    put_interval(out, "partial_r", clustered_partial_r(y, x, surface, fam, BOOT), len(d))
    return out


def partial_r_row(
    df: pd.DataFrame, report: Signal, variable: str, label: str
) -> dict[str, Any] | None:
    """Partial correlation between a self-report and a hidden-state variable given the
    surface-feature model (family-clustered interval), next to the raw correlation."""
    d = complete(df, [report.column, variable])
    if len(d) < 5:
        return None
    y, x = arrays(d, report.column, variable)
    fam = d["family"].tolist()
    out: dict[str, Any] = {
        "report": report.name,
        "report_label": report.short,
        "variable": variable,
        "variable_label": label,
        "n_families": int(d["family"].nunique()),
    }
    put_interval(out, "r", weighted_bootstrap(w_pearson(y, x), fam, BOOT), len(d))
    put_interval(out, "partial_r", clustered_partial_r(y, x, surface_design(d), fam, BOOT), len(d))
    return out


def wilson_above(k: int, n: int, level: float) -> bool:
    return n > 0 and rate(k, n).low > level
