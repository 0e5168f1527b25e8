"""The one-figure scorecard: each step's estimate with its 95% interval against its null.

Lines measure different things (rates, shifts, bits, correlations), so every line gets its
own horizontal axis; the null (no effect) is a dashed vertical line.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt

from introscope.headlines import Headline
from introscope.render.figures import save
from introscope.render.numbers import fmt_estimate


def plot_forest(lines: Sequence[Headline], path: Path) -> Path | None:
    """Write the forest plot of the scorecard lines that have an estimate; None if none."""
    shown = [ln for ln in lines if ln.available and not math.isnan(ln.estimate)]
    if not shown:
        return None
    height = 0.55 * len(shown) + 0.6
    fig, axes = plt.subplots(len(shown), 1, figsize=(9.0, height), squeeze=False)
    # Fixed margins (in inches, so they do not grow with the number of lines) instead of
    # tight_layout, which measures every label of every panel: seconds for a full scorecard,
    # and it gives up anyway once the names fill the left margin.
    fig.subplots_adjust(
        left=0.42, right=0.8, top=1 - 0.45 / height, bottom=0.3 / height, hspace=1.2
    )
    for ax, ln in zip(axes[:, 0], shown, strict=True):
        lo, hi = ln.ci_low, ln.ci_high
        has_ci = not (math.isnan(lo) or math.isnan(hi))
        points = [ln.estimate] + ([lo, hi] if has_ci else [])
        if not math.isnan(ln.null):
            points.append(ln.null)
            ax.axvline(ln.null, color="grey", ls="--", lw=0.8)
        left, right = min(points), max(points)
        pad = 0.15 * (right - left) or 0.1 * max(abs(right), 1e-3)
        ax.set_xlim(left - pad, right + pad)
        if has_ci:
            ax.hlines(0, lo, hi, color="#1f77b4", lw=2)
        excludes = has_ci and not math.isnan(ln.null) and not lo <= ln.null <= hi
        ax.plot(ln.estimate, 0, "o", color="#d62728" if excludes else "#1f77b4", ms=5)
        ax.set_yticks([])
        ax.tick_params(axis="x", labelsize=6, pad=1)
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
        name = textwrap.shorten(f"{ln.step}. {ln.name}", 58, placeholder="…")
        ax.text(-0.02, 0.5, name, transform=ax.transAxes, ha="right", va="center", fontsize=7)
        ax.text(
            1.02,
            0.5,
            fmt_estimate(ln.estimate, lo, hi, ln.kind),
            transform=ax.transAxes,
            ha="left",
            va="center",
            fontsize=7,
        )
    fig.suptitle(
        "Scorecard: estimate and 95% CI per line; dashed = no effect (red: interval excludes it)",
        fontsize=8,
        y=1 - 0.1 / height,
        va="top",
    )
    return save(fig, path, layout=False)
