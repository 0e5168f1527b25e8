"""Localization figure: accuracy by layer for the localization and abstractness questions."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from introscope.render.figures import has, injected_controls, label, num, save_with_legend, yerr
from introscope.tables import Tables

QUESTION_COLORS = {"injected": "#1f77b4", "abstract": "#9467bd"}
QUESTION_LABELS = {
    "injected": "which sentence was injected?",
    "abstract": "which sentence is most abstract?",
}


def figures(t: Tables, directory: Path) -> dict[str, Path]:
    """The localization figure, when the table has data."""
    path = plot_localization(t["localization"], directory / "localization.png")
    return {} if path is None else {"localization": path}


def plot_localization(table: pd.DataFrame, path: Path | str) -> Path | None:
    """One panel per strength: accuracy (the chosen sentence is the injected one; Wilson 95%
    CI) by layer for the localization question and the abstractness question on the same
    stimuli, with chance (1/N) as a dotted line and each question's no-injection accuracy as
    a dashed line. Only the concept-injection rows are drawn (the first other control when
    there is none). ``table`` is
    :func:`introscope.experiments.localization.analysis.localization_table`'s output."""
    if not has(table, ["accuracy", "question", "layer", "strength", "control"]):
        return None
    controls = injected_controls(table["control"])
    if not controls:
        return None
    inj = table[(table["control"].astype(str) == controls[0]) & table["accuracy"].notna()]
    inj = inj[inj["layer"].notna()]
    if len(inj) == 0:
        return None
    none = table[table["control"].astype(str) == "none"]
    layers = sorted({int(v) for v in inj["layer"]})
    strengths = sorted({float(s) for s in inj["strength"].dropna()}) or [math.nan]
    questions = [q for q in QUESTION_COLORS if q in set(inj["question"].astype(str))]
    questions += sorted(set(inj["question"].astype(str)) - set(questions))
    fig, axes = plt.subplots(
        1,
        len(strengths),
        figsize=(max(7.0, 4.6 * len(strengths)), 4.5),
        sharey=True,
        squeeze=False,
    )
    for ax, s in zip(axes[0], strengths, strict=True):
        sub = inj if math.isnan(s) else inj[inj["strength"].astype(float) == s]
        for k, q in enumerate(questions):
            color = QUESTION_COLORS.get(q, f"C{k + 3}")
            g = sub[sub["question"].astype(str) == q].sort_values("layer")
            if len(g):
                x = np.asarray([layers.index(int(v)) for v in g["layer"]], dtype=float)
                x += (k - (len(questions) - 1) / 2) * 0.15
                ax.errorbar(
                    x,
                    g["accuracy"].astype(float),
                    yerr=yerr(g, "accuracy"),
                    marker="o",
                    ms=4,
                    capsize=3,
                    color=color,
                    label=QUESTION_LABELS.get(q, q),
                )
            nq = none[(none["question"].astype(str) == q) & none["accuracy"].notna()]
            if len(nq):
                ax.axhline(
                    num(nq["accuracy"].iloc[0]),
                    color=color,
                    lw=0.9,
                    ls="--",
                    alpha=0.7,
                    label=f"{q}: no injection",
                )
        chance = pd.to_numeric(sub.get("chance", pd.Series(dtype=float)), errors="coerce")
        chance = chance.dropna()
        if len(chance):
            ax.axhline(float(chance.iloc[0]), color="0.3", lw=1.0, ls=":", label="chance (1/N)")
        ax.set_title(f"{controls[0]} injection, strength {label(s)}", fontsize=10)
        ax.set_xticks(range(len(layers)), [str(v) for v in layers])
        ax.set_xlim(-0.6, len(layers) - 0.4)
        ax.set_xlabel("layer")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("accuracy: picks the injected sentence\n(Wilson 95% CI)")
    fig.suptitle(
        "Localization vs abstractness: is the injected sentence picked more often when\n"
        "asked where the injection was than when asked which one is most abstract?",
        fontsize=9,
    )
    return save_with_legend(fig, axes[0][0], path)
