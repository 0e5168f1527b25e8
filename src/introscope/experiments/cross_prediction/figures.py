"""Cross-prediction figures: accuracy of each predictor by property and shot count."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from introscope.render.figures import has, save, yerr
from introscope.tables import Tables

COLORS = {"self": "#1f77b4", "other": "#ff7f0e", "classifier": "#7f7f7f"}


def figures(t: Tables, directory: Path) -> dict[str, Path]:
    p = plot_predictions(t["predictions"], directory / "cross_prediction.png")
    return {"cross_prediction": p} if p is not None else {}


def plot_predictions(table: pd.DataFrame, path: Path) -> Path | None:
    """One panel per property: accuracy (95% CI by family) against shots, per predictor,
    with the majority-class rate dashed."""
    if not has(table, ["accuracy", "property", "shots", "predictor"]):
        return None
    props = list(dict.fromkeys(table["property"]))
    fig, axes = plt.subplots(1, len(props), figsize=(4.0 * len(props), 3.4), squeeze=False)
    for ax, prop in zip(axes[0], props, strict=True):
        sub = table[table["property"] == prop]
        for j, who in enumerate(dict.fromkeys(sub["predictor"])):
            s = sub[sub["predictor"] == who].sort_values("shots")
            x = s["shots"].astype(float).to_numpy() + (j - 1) * 0.15
            ax.errorbar(
                x,
                s["accuracy"].astype(float),
                yerr=yerr(s, "accuracy"),
                fmt="o-",
                ms=4,
                capsize=2,
                label=str(who),
                color=COLORS.get(str(who)),
            )
        maj = sub.groupby("shots")["majority_rate"].first()
        ax.plot(
            maj.index.astype(float),
            maj.to_numpy(dtype=float),
            ls="--",
            color="grey",
            lw=0.8,
            label="majority class",
        )
        ax.set_xticks(np.unique(sub["shots"].astype(float)))
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(str(prop), fontsize=9)
        ax.set_xlabel("in-context examples of the first model's behaviour")
    axes[0][0].set_ylabel("prediction accuracy (95% CI)")
    axes[0][0].legend(fontsize=7)
    return save(fig, path)
