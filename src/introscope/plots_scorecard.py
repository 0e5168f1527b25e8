"""Figures that go with the scorecard (:mod:`introscope.scorecard`).

Same conventions as :mod:`introscope.plots`: each ``plot_*(table, path)`` writes one PNG
(matplotlib, Agg backend) and returns its path, or returns None and writes nothing when the
table holds no data for that figure. Every estimate is drawn with its 95% CI.
"""

from __future__ import annotations

import importlib
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from introscope import plots
from introscope.plots import CONTROL_COLORS, INSTRUCTION_COLORS, _has, _save, _yerr

__all__ = [
    "plot_category_thresholds",
    "plot_confabulation",
    "plot_detection_vs_bias",
    "plot_instruction_cosines",
    "plot_mutual_information",
]


def plot_detection_vs_bias(table: pd.DataFrame, path: Path | str) -> Path | None:
    """Detection P(yes) shift vs yes-bias shift across configurations (the table of
    :func:`introscope.analysis.yes_bias_table`); delegates to
    :func:`introscope.plots.plot_yes_bias_scatter`."""
    return plots.plot_yes_bias_scatter(table, path)


def plot_mutual_information(table: pd.DataFrame, path: Path | str) -> Path | None:
    """Corrected MI (bits, bootstrap CI) by layer with the strengths pooled, one panel per
    source (candidate readout / text), one line per control; the shuffled-label baseline's
    95th percentile (dotted) and the ceiling log2(K) (dashed) for concept injection."""
    if not _has(table, ["mi_bits", "layer", "source", "control"]):
        return None
    t = table[table["mi_bits"].notna() & table["layer"].notna()]
    if "pooled_strengths" in t.columns:
        pooled = t[t["pooled_strengths"].astype(bool)]
        # A single-strength grid has no pooled rows: its only rows are the per-layer rows.
        t = pooled if len(pooled) else t
    if len(t) == 0:
        return None
    sources = [s for s in ("logits", "text") if s in set(t["source"])]
    titles = {"logits": "candidate readout (top candidate)", "text": "generated text (rules)"}
    fig, axes = plt.subplots(
        1, len(sources), figsize=(5.2 * len(sources), 4.0), squeeze=False, sharey=True
    )
    for ax, source in zip(axes[0], sources, strict=True):
        s = t[t["source"] == source]
        for control in [c for c in ("concept", "random", "negated") if c in set(s["control"])]:
            c = s[s["control"] == control].sort_values("layer")
            c = c.drop_duplicates("layer")
            x = c["layer"].astype(float).to_numpy()
            ax.errorbar(
                x,
                c["mi_bits"].astype(float),
                yerr=_yerr(c, "mi_bits"),
                marker="o",
                ms=4,
                capsize=3,
                label=f"{control} (Miller-Madow)",
                color=CONTROL_COLORS.get(control),
            )
            if control == "concept":
                ax.plot(
                    x,
                    c["shuffled_p95_bits"].astype(float),
                    ls=":",
                    color="k",
                    lw=1,
                    label="shuffled labels, 95th pct (plug-in)",
                )
                ax.plot(
                    x,
                    c["shuffled_mean_bits"].astype(float),
                    ls="-",
                    color="grey",
                    lw=1,
                    alpha=0.7,
                    label="shuffled labels, mean (plug-in)",
                )
                ax.plot(x, c["max_bits"].astype(float), ls="--", color="k", lw=1, label="log2(K)")
        ax.axhline(0.0, color="grey", lw=0.5)
        ax.set_title(titles.get(source, source))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("layer")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("MI(injected; reported) [bits]")
    fig.suptitle("Information the report carries about the injected concept")
    return _save(fig, path)


def plot_category_thresholds(table: pd.DataFrame, path: Path | str) -> Path | None:
    """Category thresholds with CIs: delegates to
    ``introscope.plots_thresholds.plot_category_thresholds`` when that module exists."""
    try:
        module = importlib.import_module("introscope.plots_thresholds")
    except ImportError:
        return None
    fn = getattr(module, "plot_category_thresholds", None)
    if fn is None or table is None or len(table) == 0:
        return None
    out = fn(table, path)
    return Path(out) if out is not None else None


def plot_confabulation(table: pd.DataFrame, path: Path | str, top: int = 20) -> Path | None:
    """Horizontal bars: how often each wrong concept is named (the ``top`` most frequent),
    coloured by concreteness, annotated with the mean cosine to the injected concept."""
    if not _has(table, ["count", "named"]):
        return None
    t = table.sort_values("count", ascending=False).head(top).iloc[::-1]
    colors = {True: "#1f77b4", False: "#ff7f0e", None: "#7f7f7f"}
    labels = {True: "concrete noun", False: "other listed concept", None: "unlisted / unknown"}
    fig, ax = plt.subplots(figsize=(6.4, max(2.5, 0.32 * len(t) + 1.2)))
    conc = [None if pd.isna(v) else bool(v) for v in t["concrete"]]
    y = np.arange(len(t))
    ax.barh(y, t["count"].astype(float), color=[colors[c] for c in conc])
    ax.set_yticks(y, [str(n) for n in t["named"]], fontsize=8)
    if "cosine" in t.columns:
        for i, v in enumerate(t["cosine"]):
            if not (v is None or (isinstance(v, float) and math.isnan(v))):
                ax.text(
                    float(t["count"].iloc[i]), i, f"  cos {float(v):+.2f}", va="center", fontsize=7
                )
    for c in (True, False, None):
        if c in conc:
            ax.barh([np.nan], [0], color=colors[c], label=labels[c])
    ax.set_xlabel("confabulated trials naming it")
    ax.set_title("Concepts named when the report misidentifies the injection")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def plot_instruction_cosines(table: pd.DataFrame, path: Path | str) -> Path | None:
    """Think / don't-think / silent-task / mention: mean cosine with the word's vector minus
    the other-words baseline (``delta``, t CI band) by layer, one line per instruction (the
    table of :func:`introscope.analysis.intentional_control_table`)."""
    if not _has(table, ["delta", "layer", "instruction"]):
        return None
    t = table[table["delta"].notna()]
    if "row_type" in t.columns:
        t = t[t["row_type"] == "instruction"]
    if len(t) == 0:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for instr in list(dict.fromkeys(t["instruction"])):
        s = t[t["instruction"] == instr].sort_values("layer")
        x = s["layer"].astype(float).to_numpy()
        line = ax.plot(
            x,
            s["delta"].astype(float),
            marker="o",
            ms=3,
            label=str(instr),
            color=INSTRUCTION_COLORS.get(str(instr)),
        )
        lo = s["delta_ci_low"].astype(float).to_numpy()
        hi = s["delta_ci_high"].astype(float).to_numpy()
        if np.isfinite(lo).any():
            ax.fill_between(x, lo, hi, color=line[0].get_color(), alpha=0.2)
    ax.axhline(0.0, color="grey", lw=0.8)
    # With few trials the t bands can dwarf the estimates; keep the estimates readable and
    # say that the bands are cut off.
    est = np.abs(t["delta"].astype(float).to_numpy())
    bounds = np.abs(t[["delta_ci_low", "delta_ci_high"]].astype(float).to_numpy())
    lim = max(3.0 * float(np.nanmax(est)), 0.02)
    if np.isfinite(bounds).any() and float(np.nanmax(bounds)) > lim:
        ax.set_ylim(-lim, lim)
        ax.text(0.02, 0.02, "CI bands clipped to the axes", transform=ax.transAxes, fontsize=7)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("layer")
    ax.set_ylabel("cosine with the word's vector − other words")
    ax.set_title("Think / don't think / silent task / mention, by layer")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)
