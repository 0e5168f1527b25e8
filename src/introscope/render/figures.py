"""Matplotlib helpers every slice's figures use (Agg backend, one PNG per figure).

A figure function takes a table and a path, writes one PNG and returns its path, or returns
None (writing nothing) when the table holds no data for it. Every estimate is drawn with its
95% CI.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

CONTROL_COLORS = {
    "concept": "#1f77b4",
    "random": "#ff7f0e",
    "negated": "#2ca02c",
    "other": "#9467bd",
    "matched_random": "#e377c2",
    "none": "#7f7f7f",
}
INSTRUCTION_COLORS = {
    "think": "#1f77b4",
    "dont_think": "#d62728",
    "silent_task": "#9467bd",
    "mention": "#8c564b",
}
DPI = 150


def num(x: Any) -> float:
    """A float, NaN for anything that is not a number."""
    try:
        f = float(x)
    except (TypeError, ValueError):
        return math.nan
    return f


def label(x: Any) -> str:
    """A tick label: integers without decimals, NaN as '-'."""
    f = num(x)
    if math.isnan(f):
        return "-"
    return str(int(f)) if f.is_integer() else f"{f:g}"


def yerr(t: pd.DataFrame, col: str) -> np.ndarray:
    """Asymmetric error bars ``[2, n]`` from ``col``'s CI columns (NaN -> 0)."""
    est = t[col].astype(float).to_numpy()
    lo = t[f"{col}_ci_low"].astype(float).to_numpy()
    hi = t[f"{col}_ci_high"].astype(float).to_numpy()
    err = np.vstack([est - lo, hi - est])
    return np.nan_to_num(np.clip(err, 0.0, None), nan=0.0)


def log_axis_err(t: pd.DataFrame, col: str) -> np.ndarray:
    """Error bars ``[2, n]`` of ``col`` for a log axis: a lower bound below a tenth of the
    estimate (a t interval of a skewed positive mean can reach below 0) is drawn to a tenth
    of it."""
    est = t[col].astype(float).to_numpy()
    low = np.maximum(t[f"{col}_ci_low"].astype(float).to_numpy(), est / 10)
    high = t[f"{col}_ci_high"].astype(float).to_numpy()
    return np.nan_to_num(np.clip(np.vstack([est - low, high - est]), 0.0, None), nan=0.0)


def save(
    fig: Figure,
    path: Path | str,
    rect: tuple[float, float, float, float] | None = None,
    *,
    layout: bool = True,
) -> Path:
    """Lay out (within ``rect``, the whole figure by default; ``layout=False``: the caller
    placed the axes itself), write a PNG, close."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if layout:
        fig.tight_layout(rect=rect)
    fig.savefig(p, dpi=DPI, format="png")
    plt.close(fig)
    return p


def save_with_legend(fig: Figure, ax: Axes, path: Path | str) -> Path:
    """Save with one legend for the whole figure, below the panels, built from ``ax``'s
    handles (it overlaps no data)."""
    handles, labels = ax.get_legend_handles_labels()
    # Data series (error-bar containers) first, reference lines after.
    order = sorted(range(len(handles)), key=lambda i: isinstance(handles[i], Line2D))
    handles, labels = [handles[i] for i in order], [labels[i] for i in order]
    bottom = 0.0
    if handles:
        ncol = min(3, len(handles))
        fig.legend(handles, labels, fontsize=7, loc="lower center", ncol=ncol, frameon=False)
        bottom = (0.3 + 0.17 * math.ceil(len(handles) / ncol)) / fig.get_figheight()
    return save(fig, path, rect=(0.0, bottom, 1.0, 1.0))


def injected_controls(values: Any) -> list[str]:
    """The injection controls present in ``values`` (not 'none'), in the usual order."""
    present = [str(c) for c in dict.fromkeys(values) if c is not None and str(c) != "none"]
    order = [c for c in CONTROL_COLORS if c in present]
    return order + sorted(set(present) - set(order))


def has(table: pd.DataFrame | None, cols: Sequence[str]) -> bool:
    """The table has rows, all ``cols``, and a finite value in the first of them."""
    return (
        table is not None
        and len(table) > 0
        and all(c in table.columns for c in cols)
        and bool(table[cols[0]].notna().any())
    )
