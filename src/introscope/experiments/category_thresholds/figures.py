"""The category-threshold figure: the concept-minus-random P(yes) difference by strength, one
line per category, one panel per layer."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from introscope.experiments.category_thresholds.analysis import category_label
from introscope.render.figures import has, save
from introscope.tables import Tables

CATEGORY_COLORS = {
    "abstract_nouns": "#1f77b4",
    "concrete_nouns": "#ff7f0e",
    "famous_people": "#2ca02c",
    "countries": "#d62728",
    "verbs": "#9467bd",
}


def figures(t: Tables, directory: Path) -> dict[str, Path]:
    path = plot_category_thresholds(t["thresholds"], directory / "category_thresholds.png")
    return {} if path is None else {"category_thresholds": path}


def plot_category_thresholds(table: pd.DataFrame, path: Path | str) -> Path | None:
    """One panel per layer: the concept-minus-random P(yes) difference (mean over a
    category's concepts, 95% CI) against strength, one line per category; each category's
    threshold (lowest strength whose CI excludes 0) is ringed and named in the legend.

    ``table`` is :func:`~introscope.experiments.category_thresholds.analysis.threshold_table`'s
    output; returns None (writing nothing) when it holds no data.
    """
    need = ["diff", "category", "layer", "strength", "diff_ci_low", "diff_ci_high", "threshold"]
    if not has(table, need):
        return None
    t = table[table["diff"].notna()]
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
            thr = float(g["threshold"].iloc[0])
            name = category_label(str(cat))
            label = f"{name} (≥{thr:g})" if not math.isnan(thr) else f"{name} (none)"
            # Slight horizontal offsets keep overlapping error bars readable on a log axis.
            xo = x * 2 ** ((k - (len(cats) - 1) / 2) * 0.04)
            ax.errorbar(xo, est, yerr=err, marker="o", ms=4, capsize=3, color=color, label=label)
            if not math.isnan(thr):
                i = int(np.argmin(np.abs(x - thr)))
                ax.plot(xo[i], est[i], "o", ms=11, mfc="none", mec=color, mew=1.8)
        ax.axhline(0.0, color="0.5", lw=0.8, ls="--")
        ax.set_xscale("log", base=2)
        strengths = sorted(float(s) for s in tl["strength"].unique())
        ax.set_xticks(strengths)
        ax.set_xticklabels([f"{s:g}" for s in strengths])
        ax.set_xlabel("injection strength")
        ax.set_title(f"layer {layer}")
        ax.legend(fontsize=7, loc="upper left")
    axes[0][0].set_ylabel("P(yes): concept − matched random\n(mean over concepts, 95% CI)")
    fig.suptitle("Category thresholds (ringed: lowest strength, CI > 0)", fontsize=9)
    return save(fig, path)
