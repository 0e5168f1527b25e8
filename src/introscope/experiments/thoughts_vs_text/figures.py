"""Thoughts-vs-text figure: identification of the injected word and exact transcription of
the sentence, by layer."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import MaxNLocator

from introscope.experiments.thoughts_vs_text.analysis import DEFAULT_CHANCE
from introscope.render.figures import has, label, num, save, yerr
from introscope.tables import Tables


def figures(t: Tables, directory: Path) -> dict[str, Path]:
    """The thoughts-vs-text figure, when the run has data for it."""
    path = plot_thoughts_vs_text(t["thoughts_vs_text"], directory / "thoughts_vs_text.png")
    return {"thoughts_vs_text": path} if path is not None else {}


def plot_thoughts_vs_text(table: pd.DataFrame, path: Path | str) -> Path | None:
    """Identification of the injected word (and exact transcription) by layer, one line per
    strength and control, with the chance level."""
    if not has(table, ["identification", "layer", "control"]):
        return None
    t = table[table["identification"].notna()]
    inj = t[(t["control"] != "none") & t["layer"].notna()]
    if len(t) == 0:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True, squeeze=False)
    for ax, metric, title in (
        (axes[0][0], "identification", "Injected word picked among candidates"),
        (axes[0][1], "exact_match", "Sentence transcribed exactly"),
    ):
        groups = list(dict.fromkeys(zip(inj["control"], inj["strength"].map(label), strict=True)))
        for control, strength in groups:
            s = inj[(inj["control"] == control) & (inj["strength"].map(label) == strength)]
            s = s[s[metric].notna()].sort_values("layer")
            if len(s) == 0:
                continue
            ax.errorbar(
                s["layer"].astype(float),
                s[metric].astype(float),
                yerr=yerr(s, metric),
                marker="o",
                ms=4,
                capsize=3,
                label=f"{control}, strength {strength}",
            )
        none = t[t["control"] == "none"]
        if len(none) and not math.isnan(num(none.iloc[0][metric])):
            r = none.iloc[0]
            ax.axhspan(
                num(r[f"{metric}_ci_low"]),
                num(r[f"{metric}_ci_high"]),
                color="grey",
                alpha=0.2,
                label="no injection (95% CI)",
            )
        if metric == "identification":
            chance = num(t["chance"].iloc[0]) if "chance" in t.columns else DEFAULT_CHANCE
            ax.axhline(chance, color="k", ls=":", lw=1, label=f"chance ({chance:.2f})")
        ax.set_title(title)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("layer")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("rate")
    fig.suptitle("Thoughts vs. text")
    return save(fig, path)
