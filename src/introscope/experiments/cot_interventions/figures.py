"""Figures of the interventions experiment: the early-answering curve and mistake
following against its control."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from introscope.render.figures import has, save, save_with_legend, yerr
from introscope.tables import Tables


def figures(t: Tables, directory: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for name, path in (
        (
            "cot_early_answering",
            plot_early(t["early_answering"], directory / "cot_early_answering.png"),
        ),
        ("cot_mistakes", plot_mistakes(t["mistakes"], directory / "cot_mistakes.png")),
    ):
        if path is not None:
            out[name] = path
    return out


def plot_early(table: pd.DataFrame, path: Path) -> Path | None:
    """Share of forced answers equal to the final answer against the fraction of the chain
    shown (95% CIs); the area above the curve is the AOC."""
    if not has(table, ["same_answer", "fraction"]):
        return None
    fig, ax = plt.subplots(figsize=(4.8, 3.8))
    x = 100 * table["fraction"].astype(float).to_numpy()
    y = table["same_answer"].astype(float).to_numpy()
    ax.errorbar(x, y, yerr=yerr(table, "same_answer"), fmt="o-", ms=4)
    ax.fill_between(x, y, 1.0, alpha=0.15, label="area over the curve")
    ax.set_xlabel("% of the chain's tokens shown")
    ax.set_ylabel("same answer as after the whole chain")
    ax.set_ylim(-0.02, 1.02)
    return save(fig, path)


def plot_mistakes(table: pd.DataFrame, path: Path) -> Path | None:
    """Per chain source, the rate at which the final answer is the mistake's option, after
    the mistake and in the control (95% CIs)."""
    if not has(table, ["follows", "control_follows", "source"]):
        return None
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    xs = np.arange(len(table))
    for k, (col, name) in enumerate(
        (("follows", "after the mistake"), ("control_follows", "control"))
    ):
        ax.errorbar(
            xs + (k - 0.5) * 0.2,
            table[col].astype(float),
            yerr=yerr(table, col),
            fmt="o",
            ms=5,
            label=name,
        )
    ax.set_xticks(xs, [str(s) for s in table["source"]])
    ax.set_ylabel("final answer = the mistake's option")
    ax.set_ylim(-0.02, 1.02)
    return save_with_legend(fig, ax, path)
