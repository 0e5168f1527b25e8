"""Figures of the hints experiment: switching and verbalisation per hint kind; the suite's
per-item synthesis as scatter plots."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from introscope.render.figures import has, save, save_with_legend, yerr
from introscope.tables import Tables

SERIES = (
    ("switch", "switched to the hint"),
    ("null_switch", "null hint lands on the target"),
    ("verbalised_given_switch", "P(mentions hint | switched)"),
)


#: Per-item quantities plotted against decodability before the chain.
SYNTHESIS_Y = (
    ("aoc", "early-answering AOC"),
    ("verbalisation", "share of hinted chains mentioning the hint"),
)


def figures(t: Tables, directory: Path) -> dict[str, Path]:
    out = {}
    path = plot_hints(t["hints"], directory / "cot_hints.png")
    if path is not None:
        out["cot_hints"] = path
    path = plot_synthesis(t.get("synthesis_items"), directory / "cot_synthesis.png")
    if path is not None:
        out["cot_synthesis"] = path
    return out


def plot_synthesis(items: pd.DataFrame | None, path: Path) -> Path | None:
    """Per item, decodability before the chain (x) against each quantity of the other
    slices (one panel each; items with both values)."""
    if items is None or not has(items, ["decodability"]):
        return None
    panels = []
    for col, name in SYNTHESIS_Y:
        if col not in items.columns:
            continue
        both = items[["decodability", col]].astype(float).dropna()
        if len(both):
            panels.append((both, name))
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    for ax, (both, name) in zip(axes[0], panels, strict=True):
        ax.scatter(both["decodability"], both.iloc[:, 1], s=18, alpha=0.7)
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("P(final answer) from the probe before the chain")
        ax.set_ylabel(name)
        ax.set_title(f"n = {len(both)} items", fontsize=9)
    return save(fig, path)


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
