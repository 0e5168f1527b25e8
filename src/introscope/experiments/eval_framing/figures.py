"""The evaluation-framing figure: hack, solve and flag rates by framing (Wilson intervals clustered by item),
one panel per item group, benchmark- and chat-style formats side by side; one figure per
measure that ran (forced choice, generation)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from introscope.render.figures import has, save_with_legend, yerr
from introscope.tables import Tables

PANELS = (
    ("hackable", "hack_rate", "hack rate, hackable items"),
    ("consistent_tests", "solve_rate", "solve rate, consistent items"),
    ("contradicted_tests", "flag_rate", "flag rate, contradicted items"),
)
FORMAT_COLORS = {"benchmark": "#1f77b4", "chat": "#ff7f0e"}


def figures(t: Tables, directory: Path) -> dict[str, Path]:
    """``eval_framing`` (forced choice) and ``eval_framing_generation``, those that ran."""
    out = {}
    for measure, name in (("logits", "eval_framing"), ("generation", "eval_framing_generation")):
        path = plot_rates(t, directory / f"{name}.png", measure)
        if path is not None:
            out[name] = path
    return out


def plot_rates(t: Tables, path: Path, measure: str = "logits") -> Path | None:
    table = t["eval_framing"]
    if not has(table, ["hack_rate", "framing", "format", "measure"]):
        return None
    table = table[table["measure"] == measure]
    if len(table) == 0:
        return None
    fig, axes = plt.subplots(1, len(PANELS), figsize=(12, 3.8), sharey=True)
    for ax, (items, col, title) in zip(axes, PANELS, strict=True):
        sub = table[(table["items"] == items) & (table["format"] != "all")]
        framings = list(dict.fromkeys(sub["framing"]))
        x = np.arange(len(framings))
        for k, fmt in enumerate(FORMAT_COLORS):
            d = sub[sub["format"] == fmt].set_index("framing").reindex(framings)
            if d[col].notna().any():
                ax.errorbar(
                    x + (k - 0.5) * 0.25,
                    d[col].astype(float),
                    yerr=yerr(d, col),
                    fmt="o",
                    color=FORMAT_COLORS[fmt],
                    label=f"{fmt}-style",
                    capsize=3,
                )
        ax.set_xticks(x, [f.replace("_", "-") for f in framings], rotation=35, ha="right")
        ax.set_title(title, fontsize=9)
        ax.set_ylim(-0.05, 1.05)
    axes[0].set_ylabel("share of trials (95% Wilson, clustered by item)")
    return save_with_legend(fig, axes[0], path)
