"""The steering figure: change in the hack candidate's probability by strength (t intervals
over items), the evaluation-awareness direction against random directions (left) and the
framing direction against a random direction with the behavioural framing effect as a band
(right), one line per layer."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from introscope.render.figures import has, save_with_legend, yerr
from introscope.tables import Tables

PANELS = (
    (
        "eval_steering_awareness",
        (("awareness_minus_none", "awareness direction"), ("random_minus_none", "random")),
        "awareness direction, neutral framing",
    ),
    (
        "eval_steering_framing",
        (("injected_minus_none", "framing direction"), ("random_minus_none", "random")),
        "framing direction, judgment framing",
    ),
)
COLORS = ("#1f77b4", "#7f7f7f")


def figures(t: Tables, directory: Path) -> dict[str, Path]:
    path = plot_steering(t, directory / "eval_steering.png")
    return {"eval_steering": path} if path is not None else {}


def plot_steering(t: Tables, path: Path) -> Path | None:
    if not has(t["eval_steering_awareness"], ["awareness_minus_none", "strength"]):
        return None
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, (name, cols, title) in zip(axes, PANELS, strict=True):
        table = t[name]
        if len(table) == 0:
            ax.set_visible(False)
            continue
        d = table[table["outcome"] == "p_hack"]
        layers = sorted(set(d["layer"]))
        for li, layer in enumerate(layers):
            sub = d[d["layer"] == layer].sort_values("strength")
            x = sub["strength"].astype(float).to_numpy()
            for k, (col, what) in enumerate(cols):
                ax.errorbar(
                    x + (k - 0.5) * 0.04 * (max(x) - min(x) or 1.0),
                    sub[col].astype(float),
                    yerr=yerr(sub, col),
                    fmt="o-" if li == 0 else "s--",
                    color=COLORS[k],
                    label=f"{what}, L{int(layer)}",
                    capsize=3,
                )
        if name == "eval_steering_framing":
            row = d.iloc[0]
            lo, hi = pd.to_numeric(
                pd.Series([row["behavioural_ci_low"], row["behavioural_ci_high"]])
            )
            if pd.notna(lo) and pd.notna(hi):
                ax.axhspan(lo, hi, color="#ff7f0e", alpha=0.2, label="self-diag. minus judgment")
            ax.axhline(float(row["behavioural"]), color="#ff7f0e", lw=1)
        ax.axhline(0.0, color="black", lw=0.6)
        ax.set_xlabel("strength (signed)")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("change in p(hack) vs no injection (95% t, items)")
    return save_with_legend(fig, axes[0], path)
