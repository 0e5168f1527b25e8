"""Neurofeedback figures: report accuracy against the number of examples, per axis (one
panel per declared layer), and the control shifts."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from introscope.render.figures import has, save, yerr
from introscope.tables import Tables, clean

STYLE = {"random": ("grey", "--"), "length": ("#8c564b", ":")}


def figures(t: Tables, directory: Path) -> dict[str, Path]:
    drawn = {
        "neurofeedback_report": plot_report(t["report"], directory / "neurofeedback_report.png"),
        "neurofeedback_control": plot_control(
            t["control"], directory / "neurofeedback_control.png"
        ),
    }
    return {k: v for k, v in drawn.items() if v is not None}


def plot_report(table: pd.DataFrame, path: Path) -> Path | None:
    """Accuracy (Wilson CI) against shots; layer-free axes appear in every panel."""
    if not has(table, ["accuracy", "axis", "shots"]):
        return None
    layers = sorted({clean(v) for v in table["layer"] if clean(v) is not None}) or [None]
    fig, axes = plt.subplots(
        1, len(layers), figsize=(4.6 * len(layers), 3.6), squeeze=False, sharey=True
    )
    for ax, layer in zip(axes[0], layers, strict=True):
        sub = table[table["layer"].map(lambda v, lay=layer: clean(v) in (lay, None))]
        for axis in dict.fromkeys(sub["axis"]):
            s = sub[sub["axis"] == axis].sort_values("shots")
            color, ls = STYLE.get(str(axis), (None, "-"))
            x = np.log2(s["shots"].astype(float).to_numpy() + 1)
            ax.errorbar(
                x,
                s["accuracy"].astype(float),
                yerr=yerr(s, "accuracy"),
                marker="o",
                ms=3,
                capsize=2,
                ls=ls,
                color=color,
                label=str(axis),
            )
        ax.axhline(0.5, color="black", lw=0.6)
        ticks = sorted(sub["shots"].unique())
        ax.set_xticks(np.log2(np.array(ticks, dtype=float) + 1), [str(int(k)) for k in ticks])
        ax.set_xlabel("labelled examples in context")
        ax.set_title("layer-free axes" if layer is None else f"layer {int(layer)}", fontsize=9)
    axes[0][0].set_ylabel("report accuracy (95% CI)")
    axes[0][0].legend(fontsize=7)
    return save(fig, path)


def plot_control(table: pd.DataFrame, path: Path) -> Path | None:
    if not has(table, ["shift", "axis", "task"]):
        return None
    t = table.copy()
    t["name"] = (
        t["task"].astype(str)
        + ": "
        + t["axis"].astype(str)
        + t["layer"].map(lambda v: "" if clean(v) is None else f" @L{int(v)}")
    )
    fig, ax = plt.subplots(figsize=(6.0, 0.6 + 0.3 * len(t)))
    y = np.arange(len(t))
    ax.errorbar(t["shift"].astype(float), y, xerr=yerr(t, "shift"), fmt="o", capsize=2)
    ax.axvline(0.0, color="grey", lw=0.8, ls="--")
    ax.set_yticks(y, list(t["name"]), fontsize=7)
    ax.set_xlabel("score for target A minus target B (bank SDs, 95% CI)")
    ax.invert_yaxis()
    return save(fig, path)
