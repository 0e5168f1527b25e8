"""Hidden-state linkage figures: the residual signal of each report, partial r per report
and variable, and partial r by layer."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from introscope.render.figures import has, save, yerr
from introscope.tables import Tables


def figures(t: Tables, directory: Path) -> dict[str, Path]:
    drawn = {
        "residual_signal": plot_forest(
            t["residual_signal"],
            "incremental_auroc",
            "signal",
            "AUROC(surface + signal) - AUROC(surface), out of fold (95% CI by family)",
            directory / "linkage_residual_signal.png",
        ),
        "linkage": plot_forest(
            t["linkage"],
            "partial_r",
            "pair",
            "partial r given the surface features (95% CI by family)",
            directory / "linkage_partial_r.png",
        ),
        "linkage_by_layer": plot_by_layer(t["by_layer"], directory / "linkage_by_layer.png"),
    }
    return {k: v for k, v in drawn.items() if v is not None}


def plot_forest(table: pd.DataFrame, col: str, label: str, xlabel: str, path: Path) -> Path | None:
    if not has(table, [col]):
        return None
    t = table.copy()
    if label == "pair":
        t["pair"] = t["report"].astype(str) + " ~ " + t["variable"].astype(str)
    fig, ax = plt.subplots(figsize=(6.4, 0.6 + 0.32 * len(t)))
    y = np.arange(len(t))
    ax.errorbar(t[col].astype(float), y, xerr=yerr(t, col), fmt="o", capsize=2)
    ax.axvline(0.0, color="grey", lw=0.8, ls="--")
    ax.set_yticks(y, [str(x) for x in t[label]], fontsize=7)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.invert_yaxis()
    return save(fig, path)


def plot_by_layer(table: pd.DataFrame, path: Path) -> Path | None:
    if not has(table, ["partial_r", "layer", "report", "variable"]):
        return None
    variables = list(dict.fromkeys(table["variable"]))
    fig, axes = plt.subplots(1, len(variables), figsize=(5.0 * len(variables), 3.6), squeeze=False)
    for ax, var in zip(axes[0], variables, strict=True):
        for rep in dict.fromkeys(table["report"]):
            s = table[(table["variable"] == var) & (table["report"] == rep)].sort_values("layer")
            x = s["layer"].astype(float).to_numpy()
            line = ax.plot(x, s["partial_r"].astype(float), marker="o", ms=2, label=str(rep))
            ax.fill_between(
                x,
                s["partial_r_ci_low"].astype(float),
                s["partial_r_ci_high"].astype(float),
                color=line[0].get_color(),
                alpha=0.15,
            )
        ax.axhline(0.0, color="grey", lw=0.8)
        ax.set_title(f"report ~ {var} at each layer", fontsize=9)
        ax.set_xlabel("layer")
    axes[0][0].set_ylabel("partial r (Fisher-z 95% CI)")
    axes[0][0].legend(fontsize=7)
    return save(fig, path)
