"""Figures of the hints experiment: switching and verbalisation per hint kind."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from introscope.render.figures import has, save_with_legend, yerr
from introscope.tables import Tables

SERIES = (
    ("switch", "switched to the hint"),
    ("null_switch", "null hint lands on the target"),
    ("verbalised_given_switch", "P(mentions hint | switched)"),
)


def figures(t: Tables, directory: Path) -> dict[str, Path]:
    path = plot_hints(t["hints"], directory / "cot_hints.png")
    return {} if path is None else {"cot_hints": path}


def plot_hints(table: pd.DataFrame, path: Path) -> Path | None:
    """Per hint kind (and all): switch rate, the null hint's rate, and P(verbalised |
    switched), with 95% CIs."""
    if not has(table, ["switch", "hint"]):
        return None
    fig, ax = plt.subplots(figsize=(max(5.5, 1.3 * len(table) + 2), 3.8))
    xs = np.arange(len(table))
    for k, (col, name) in enumerate(SERIES):
        if col not in table.columns:
            continue
        ax.errorbar(
            xs + (k - 1) * 0.22,
            table[col].astype(float),
            yerr=yerr(table, col),
            fmt="o",
            ms=5,
            label=name,
        )
    ax.set_xticks(xs, [str(h) for h in table["hint"]])
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("rate (eligible item-hint pairs)")
    return save_with_legend(fig, ax, path)
