"""Figures for the mismatch and localization controls (matplotlib, Agg backend, PNG).

Each ``plot_*(table, path)`` takes the table of :mod:`introscope.analysis_controls`, writes
one PNG and returns its path, or returns None (writing nothing) when the table holds no data
for the figure. Every estimate is drawn with its 95% CI.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from introscope.plots import CONTROL_COLORS, _has, _label, _num, _save, _yerr

__all__ = ["plot_localization", "plot_mismatch"]

CONGRUENCE_COLORS = {"congruent": "#1f77b4", "incongruent": "#ff7f0e"}
QUESTION_COLORS = {"injected": "#1f77b4", "abstract": "#9467bd"}
QUESTION_LABELS = {
    "injected": "which sentence was injected?",
    "abstract": "which sentence is most abstract?",
}


def _controls(values: Any) -> list[str]:
    present = [str(c) for c in dict.fromkeys(values) if c is not None and str(c) != "none"]
    order = [c for c in ("concept", "random", "negated") if c in present]
    return order + sorted(set(present) - set(order))


def _save_with_legend(fig: Figure, ax: Axes, path: Path | str) -> Path:
    """Save with one legend for the whole figure, below the panels, built from ``ax``'s
    handles (it overlaps no data)."""
    handles, labels = ax.get_legend_handles_labels()
    # Data series (error-bar containers) first, reference lines after.
    order = sorted(range(len(handles)), key=lambda i: isinstance(handles[i], Line2D))
    handles, labels = [handles[i] for i in order], [labels[i] for i in order]
    bottom = 0.0
    if handles:
        ncol = min(3, len(handles))
        fig.legend(handles, labels, fontsize=7, loc="lower center", ncol=ncol, frameon=False)
        bottom = (0.3 + 0.17 * math.ceil(len(handles) / ncol)) / fig.get_figheight()
    return _save(fig, path, rect=(0.0, bottom, 1.0, 1.0))


def plot_mismatch(table: pd.DataFrame, path: Path | str) -> Path | None:
    """One panel per injection control: the shift in P(yes) to "Are you thinking about X?"
    against no injection (same asked word), when X is the injected concept (congruent) and
    when it is another word (incongruent), for each layer x strength, with 95% CIs.

    Falls back to the raw mean P(yes) (with the no-injection mean as a line) when the
    table has no baseline-corrected shifts. ``table`` is
    :func:`introscope.analysis_controls.mismatch_table`'s output.
    """
    if not _has(table, ["control", "layer", "strength"]):
        return None
    shifted = _has(table, ["congruent_shift", "incongruent_shift"]) and bool(
        table["incongruent_shift"].notna().any()
    )
    cols = (
        ("congruent_shift", "incongruent_shift")
        if shifted
        else ("p_yes_congruent", "p_yes_incongruent")
    )
    if not _has(table, list(cols)):
        return None
    t = table[table[cols[0]].notna() | table[cols[1]].notna()]
    controls = _controls(t["control"])
    if not controls:
        return None
    configs = list(
        dict.fromkeys(
            (_label(r["layer"]), _label(r["strength"]))
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
        pos = [
            configs.index((_label(r["layer"]), _label(r["strength"]))) for _, r in sub.iterrows()
        ]
        for k, (col, name) in enumerate(zip(cols, ("congruent", "incongruent"), strict=True)):
            x = np.asarray(pos, dtype=float) + (k - 0.5) * 0.18
            ax.errorbar(
                x,
                sub[col].astype(float),
                yerr=_yerr(sub, col),
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
                _num(sub["p_yes_baseline"].dropna().iloc[0]),
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
    return _save_with_legend(fig, axes[0][0], path)


def plot_localization(table: pd.DataFrame, path: Path | str) -> Path | None:
    """One panel per strength: accuracy (the chosen sentence is the injected one; Wilson 95%
    CI) by layer for the localization question and the abstractness question on the same
    stimuli, with chance (1/N) as a dotted line and each question's no-injection accuracy as
    a dashed line. Only the concept-injection rows are drawn (the first other control when
    there is none). ``table`` is :func:`introscope.analysis_controls.localization_table`'s
    output."""
    if not _has(table, ["accuracy", "question", "layer", "strength", "control"]):
        return None
    controls = _controls(table["control"])
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
                    yerr=_yerr(g, "accuracy"),
                    marker="o",
                    ms=4,
                    capsize=3,
                    color=color,
                    label=QUESTION_LABELS.get(q, q),
                )
            nq = none[(none["question"].astype(str) == q) & none["accuracy"].notna()]
            if len(nq):
                ax.axhline(
                    _num(nq["accuracy"].iloc[0]),
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
        ax.set_title(f"{controls[0]} injection, strength {_label(s)}", fontsize=10)
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
    return _save_with_legend(fig, axes[0][0], path)


def plot_intentional_control_tokens(table: pd.DataFrame, path: Path | str) -> Path | None:
    """One heatmap per instruction: token position (x) by layer (y), mean cosine with the
    word's vector minus the baseline words' mean cosine."""
    if table is None or table.empty:
        return None
    instructions = list(dict.fromkeys(table["instruction"]))
    vmax = float(np.nanmax(np.abs(table["delta"].to_numpy(dtype=float)))) or 1.0
    fig, axes = plt.subplots(
        1, len(instructions), figsize=(3.6 * len(instructions), 3.8), sharey=True, squeeze=False
    )
    image = None
    for ax, instruction in zip(axes[0], instructions, strict=True):
        sub = table[table["instruction"] == instruction]
        grid = sub.pivot(index="layer", columns="token", values="delta").sort_index()
        image = ax.imshow(
            grid.to_numpy(dtype=float),
            aspect="auto",
            origin="lower",
            cmap="RdBu_r",
            vmin=-vmax,
            vmax=vmax,
        )
        ax.set_title(str(instruction).replace("_", " "))
        ax.set_xlabel("sentence token")
    axes[0][0].set_ylabel("layer")
    if image is not None:
        fig.colorbar(image, ax=axes[0].tolist(), label="cos(word) - cos(baseline words)")
    fig.suptitle("Intentional control by token and layer")
    out = Path(path)
    fig.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return out
