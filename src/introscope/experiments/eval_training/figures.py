"""The train-time arm figure: per model group (base model, each arm with seeds averaged per
item), the rate of each probe's outcome without a prefix, and the held-out hack rate with the
arm's own prefix; t intervals over items."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from introscope.experiments.eval_training.analysis import BASE, group_order
from introscope.render.figures import has, save, yerr
from introscope.tables import Tables

PANELS = (
    ("hack", "held-out hack rate, no prefix"),
    ("hack_prefixed", "held-out hack rate, own prefix"),
    ("capability", "solve rate, consistent items"),
    ("sycophancy", "agrees with a wrong user answer"),
)


def figures(t: Tables, directory: Path) -> dict[str, Path]:
    path = plot_arms(t, directory / "eval_training.png")
    return {"eval_training": path} if path is not None else {}


def plot_arms(t: Tables, path: Path) -> Path | None:
    table = t["eval_training"]
    if not has(table, ["rate", "group", "probe", "prefix"]):
        return None
    groups = group_order(table["group"])
    fig, axes = plt.subplots(1, len(PANELS), figsize=(13, 3.8), sharey=True)
    x = np.arange(len(groups))
    for ax, (probe, title) in zip(axes, PANELS, strict=True):
        sub = table[table["probe"] == probe]
        if probe == "hack_prefixed":
            # The base model's row with each arm's prefix is drawn at that arm's position.
            own = sub[sub["group"] == sub["prefix"]].set_index("group").reindex(groups)
            ref = sub[sub["group"] == BASE].set_index("prefix").reindex(groups)
            ax.errorbar(
                x - 0.1,
                ref["rate"].astype(float),
                yerr=yerr(ref, "rate"),
                fmt="s",
                color="#999999",
                capsize=3,
                label="base model, same prefix",
            )
            ax.errorbar(
                x + 0.1,
                own["rate"].astype(float),
                yerr=yerr(own, "rate"),
                fmt="o",
                color="#d62728",
                capsize=3,
                label="arm, own prefix",
            )
            ax.legend(fontsize=7)
        else:
            d = sub[sub["prefix"] == "no_prefix"].set_index("group").reindex(groups)
            ax.errorbar(
                x,
                d["rate"].astype(float),
                yerr=yerr(d, "rate"),
                fmt="o",
                color="#1f77b4",
                capsize=3,
            )
        ax.set_xticks(x, [g.replace("_", "-") for g in groups], rotation=35, ha="right")
        ax.set_title(title, fontsize=9)
        ax.set_ylim(-0.05, 1.05)
    axes[0].set_ylabel("share of items (seeds averaged; 95% t)")
    return save(fig, path)
