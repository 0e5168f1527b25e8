"""Calibration figures: reliability diagrams, AUROC per self-report, accuracy per family
against chance."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from introscope.experiments.selfreport.frame import SIGNAL_BY_NAME
from introscope.render.figures import has, save, yerr
from introscope.tables import Tables


def figures(t: Tables, directory: Path) -> dict[str, Path]:
    drawn = {
        "reliability": plot_reliability(
            t["reliability"], directory / "calibration_reliability.png"
        ),
        "calibration_auroc": plot_auroc(t["calibration"], directory / "calibration_auroc.png"),
        "calibration_accuracy": plot_accuracy(
            t["accuracy"], directory / "calibration_accuracy.png"
        ),
    }
    return {k: v for k, v in drawn.items() if v is not None}


def plot_reliability(table: pd.DataFrame, path: Path) -> Path | None:
    """One panel per self-report: accuracy (Wilson CI) against mean confidence per bin."""
    if not has(table, ["accuracy", "mean_confidence", "signal"]):
        return None
    signals = list(dict.fromkeys(table["signal"]))
    fig, axes = plt.subplots(1, len(signals), figsize=(3.2 * len(signals), 3.4), squeeze=False)
    for ax, name in zip(axes[0], signals, strict=True):
        s = table[table["signal"] == name]
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
        ax.errorbar(
            s["mean_confidence"].astype(float),
            s["accuracy"].astype(float),
            yerr=yerr(s, "accuracy"),
            fmt="o",
            ms=4,
            capsize=2,
        )
        sizes = s["accuracy_n"].astype(int).tolist()
        for x, y, n in zip(s["mean_confidence"], s["accuracy"], sizes, strict=True):
            ax.annotate(
                str(n), (float(x), float(y)), fontsize=6, xytext=(3, 3), textcoords="offset points"
            )
        label = SIGNAL_BY_NAME[name].label if name in SIGNAL_BY_NAME else str(name)
        ax.set_title(label, fontsize=8)
        ax.set_xlim(0, 1)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("mean confidence in bin")
    axes[0][0].set_ylabel("accuracy (95% CI; n per bin)")
    fig.suptitle("Reliability of each self-report (10 equal-width bins)")
    return save(fig, path)


def plot_auroc(table: pd.DataFrame, path: Path) -> Path | None:
    """AUROC for correctness of each self-report, family-clustered 95% CI; 0.5 = none."""
    if not has(table, ["auroc", "label"]):
        return None
    fig, ax = plt.subplots(figsize=(6.0, 0.6 + 0.5 * len(table)))
    y = np.arange(len(table))
    ax.errorbar(table["auroc"].astype(float), y, xerr=yerr(table, "auroc"), fmt="o", capsize=3)
    ax.axvline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_yticks(y, [str(x) for x in table["label"]], fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("AUROC for correctness (95% CI clustered by family)")
    ax.invert_yaxis()
    return save(fig, path)


def plot_accuracy(table: pd.DataFrame, path: Path) -> Path | None:
    """Accuracy per family (Wilson CI) with its chance level."""
    if not has(table, ["accuracy", "family", "chance"]):
        return None
    fig, ax = plt.subplots(figsize=(6.4, 0.6 + 0.32 * len(table)))
    y = np.arange(len(table))
    ax.errorbar(
        table["accuracy"].astype(float), y, xerr=yerr(table, "accuracy"), fmt="o", capsize=2
    )
    ax.scatter(table["chance"].astype(float), y, marker="|", s=120, color="red", label="chance")
    ax.set_yticks(y, [str(x) for x in table["family"]], fontsize=8)
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("accuracy of the greedy answer (95% CI)")
    ax.invert_yaxis()
    ax.legend(fontsize=7)
    return save(fig, path)
