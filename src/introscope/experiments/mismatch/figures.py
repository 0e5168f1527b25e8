"""Mismatch figure: the congruent and incongruent shift in P(yes) by configuration."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from introscope.render.figures import (
    CONTROL_COLORS,
    has,
    injected_controls,
    label,
    num,
    save_with_legend,
    yerr,
)
from introscope.tables import Tables

CONGRUENCE_COLORS = {"congruent": "#1f77b4", "incongruent": "#ff7f0e"}


def figures(t: Tables, directory: Path) -> dict[str, Path]:
    """The mismatch figure, when the table has data."""
    path = plot_mismatch(t["mismatch"], directory / "mismatch.png")
    return {} if path is None else {"mismatch": path}


def plot_mismatch(table: pd.DataFrame, path: Path | str) -> Path | None:
    """One panel per injection control: the shift in P(yes) to "Are you thinking about X?"
    against no injection (same asked word), when X is the injected concept (congruent) and
    when it is another word (incongruent), for each layer x strength, with 95% CIs.

    Falls back to the raw mean P(yes) (with the no-injection mean as a line) when the
    table has no baseline-corrected shifts. ``table`` is
    :func:`introscope.experiments.mismatch.analysis.mismatch_table`'s output.
    """
    if not has(table, ["control", "layer", "strength"]):
        return None
    shifted = has(table, ["congruent_shift", "incongruent_shift"]) and bool(
        table["incongruent_shift"].notna().any()
    )
    cols = (
        ("congruent_shift", "incongruent_shift")
        if shifted
        else ("p_yes_congruent", "p_yes_incongruent")
    )
    if not has(table, list(cols)):
        return None
    t = table[table[cols[0]].notna() | table[cols[1]].notna()]
    controls = injected_controls(t["control"])
    if not controls:
        return None
    configs = list(
        dict.fromkeys(
            (label(r["layer"]), label(r["strength"]))
            for _, r in t.sort_values(["layer", "strength"]).iterrows()
        )
    )
    xlabels = [f"L{la}\ns={s}" for la, s in configs]
    fig, axes = plt.subplots(
        1,
        len(controls),
        figsize=(max(4.8, 1.0 + 0.7 * len(configs)) * len(controls), 4.5),
        sharey=True,
        squeeze=False,
    )
    for ax, control in zip(axes[0], controls, strict=True):
        sub = t[t["control"].astype(str) == control]
        pos = [configs.index((label(r["layer"]), label(r["strength"]))) for _, r in sub.iterrows()]
        for k, (col, name) in enumerate(zip(cols, ("congruent", "incongruent"), strict=True)):
            x = np.asarray(pos, dtype=float) + (k - 0.5) * 0.18
            ax.errorbar(
                x,
                sub[col].astype(float),
                yerr=yerr(sub, col),
                fmt="o",
                ms=5,
                capsize=3,
                color=CONGRUENCE_COLORS[name],
                label=f"{name} (X = {'injected concept' if k == 0 else 'another word'})",
            )
        if shifted:
            ax.axhline(0.0, color="0.4", lw=0.9, ls="--", label="no-injection P(yes)")
        elif "p_yes_baseline" in sub.columns and sub["p_yes_baseline"].notna().any():
            ax.axhline(
                num(sub["p_yes_baseline"].dropna().iloc[0]),
                color=CONTROL_COLORS["none"],
                lw=0.9,
                ls="--",
                label="no injection",
            )
        ax.set_xticks(range(len(configs)), xlabels, fontsize=8)
        ax.set_xlim(-0.6, len(configs) - 0.4)
        ax.set_title(f"{control} injection", fontsize=10)
        ax.grid(alpha=0.3, axis="y")
    axes[0][0].set_ylabel(
        "P(yes) − no-injection P(yes)\n(same asked word; mean, 95% CI)"
        if shifted
        else "mean P(yes) (95% CI)"
    )
    fig.suptitle(
        "Mismatch: 'Are you thinking about X?'\na gap between congruent and incongruent means "
        "the answer depends on which concept was injected",
        fontsize=9,
    )
    return save_with_legend(fig, axes[0][0], path)
