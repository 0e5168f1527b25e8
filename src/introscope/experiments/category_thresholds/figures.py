"""The category-threshold figure: the concept-minus-random P(yes) difference by strength, one
colour per category, one panel per layer, with each category's fitted dose-response curve
and its EC50."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from introscope.experiments.category_thresholds.analysis import category_label
from introscope.render.figures import has, save
from introscope.stats.dose import emax_curve
from introscope.tables import Tables

CATEGORY_COLORS = {
    "abstract_nouns": "#1f77b4",
    "concrete_nouns": "#ff7f0e",
    "famous_people": "#2ca02c",
    "countries": "#d62728",
    "verbs": "#9467bd",
}


def figures(t: Tables, directory: Path) -> dict[str, Path]:
    path = plot_category_thresholds(
        t["thresholds"], t["category_thresholds"], directory / "category_thresholds.png"
    )
    return {} if path is None else {"category_thresholds": path}


def plot_category_thresholds(
    table: pd.DataFrame, curves: pd.DataFrame, path: Path | str
) -> Path | None:
    """One panel per layer: the concept-minus-random P(yes) difference (mean over a
    category's concepts, 95% CI) against strength, one colour per category, with the
    category's fitted logistic in log2 strength (``curves``: :func:`~introscope.experiments.
    category_thresholds.analysis.category_threshold_table`) and its EC50 marked and named in
    the legend.

    ``table`` is :func:`~introscope.experiments.category_thresholds.analysis.threshold_table`'s
    output; returns None (writing nothing) when it holds no data.
    """
    need = ["diff", "category", "layer", "strength", "diff_ci_low", "diff_ci_high"]
    if not has(table, need):
        return None
    t = table[table["diff"].notna()]
    fits = (
        {(str(r["category"]), int(r["layer"])): r for r in curves.to_dict("records")}
        if has(curves, ["ec50", "emax", "hill", "category", "layer"])
        else {}
    )
    layers = sorted(int(x) for x in t["layer"].unique())
    fig, axes = plt.subplots(
        1, len(layers), figsize=(4.2 * len(layers), 3.8), sharey=True, squeeze=False
    )
    cats = list(dict.fromkeys(t["category"]))
    for ax, layer in zip(axes[0], layers, strict=True):
        tl = t[t["layer"] == layer]
        for k, cat in enumerate(cats):
            g = tl[tl["category"] == cat].sort_values("strength")
            if len(g) == 0:
                continue
            x = g["strength"].to_numpy(dtype=float)
            est = g["diff"].to_numpy(dtype=float)
            err = np.vstack([est - g["diff_ci_low"].to_numpy(dtype=float), g["diff_ci_high"] - est])
            err = np.nan_to_num(np.clip(err, 0.0, None), nan=0.0)
            color = CATEGORY_COLORS.get(str(cat), f"C{k}")
            name = category_label(str(cat))
            fit = fits.get((str(cat), layer))
            ec50 = float(fit["ec50"]) if fit is not None else math.nan
            label = f"{name} (EC50 {ec50:.3g})" if not math.isnan(ec50) else f"{name} (no fit)"
            # Slight horizontal offsets keep overlapping error bars readable on a log axis.
            xo = x * 2 ** ((k - (len(cats) - 1) / 2) * 0.04)
            ax.errorbar(xo, est, yerr=err, marker="o", ms=4, capsize=3, ls="none", color=color)
            if fit is not None and not math.isnan(ec50):
                xs = np.geomspace(x.min(), x.max(), 60)
                ys = emax_curve(xs, ec50, float(fit["emax"]), float(fit["hill"]))
                ax.plot(xs, ys, color=color, lw=1.4, label=label)
                if x.min() <= ec50 <= x.max():
                    ax.plot([ec50], [float(fit["emax"]) / 2], "|", ms=14, mew=2, color=color)
            else:
                ax.plot([], [], color=color, label=label)
        ax.axhline(0.0, color="0.5", lw=0.8, ls="--")
        ax.set_xscale("log", base=2)
        strengths = sorted(float(s) for s in tl["strength"].unique())
        ax.set_xticks(strengths)
        ax.set_xticklabels([f"{s:g}" for s in strengths])
        ax.set_xlabel("injection strength")
        ax.set_title(f"layer {layer}")
        ax.legend(fontsize=7, loc="upper left")
    axes[0][0].set_ylabel("P(yes): concept − matched random\n(mean over concepts, 95% CI)")
    fig.suptitle(
        "Category dose-response (lines: logistic in log2 strength; ticks: EC50)", fontsize=9
    )
    return save(fig, path)
