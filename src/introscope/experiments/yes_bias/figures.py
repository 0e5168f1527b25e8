"""The yes-bias figure: detection shift against yes-bias shift across configurations (the
scorecard's step 3 reads the same table, so the figure is drawn once, here)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from introscope.render.figures import CONTROL_COLORS, has, num, save, yerr
from introscope.tables import Tables


def figures(t: Tables, directory: Path) -> dict[str, Path]:
    path = plot_yes_bias_scatter(t["yes_bias"], directory / "yes_bias.png")
    return {} if path is None else {"yes_bias": path}


def plot_yes_bias_scatter(table: pd.DataFrame, path: Path | str) -> Path | None:
    """Detection P(yes) shift vs yes-bias P(yes) shift across configurations, with CIs,
    the y = x line and the Pearson r."""
    if not has(table, ["detection_shift", "yes_bias_shift"]):
        return None
    t = table[table["detection_shift"].notna() & table["yes_bias_shift"].notna()]
    if len(t) == 0:
        return None
    fig, ax = plt.subplots(figsize=(5.2, 4.8))
    for control in sorted(set(t["control"].dropna())):
        s = t[t["control"] == control]
        ax.errorbar(
            s["yes_bias_shift"].astype(float),
            s["detection_shift"].astype(float),
            xerr=yerr(s, "yes_bias_shift"),
            yerr=yerr(s, "detection_shift"),
            fmt="o",
            ms=4,
            capsize=2,
            alpha=0.85,
            label=str(control),
            color=CONTROL_COLORS.get(str(control)),
        )
    vals = np.concatenate(
        [
            t["yes_bias_shift"].astype(float).to_numpy(),
            t["detection_shift"].astype(float).to_numpy(),
        ]
    )
    lo, hi = float(np.nanmin(vals)), float(np.nanmax(vals))
    pad = 0.05 * max(hi - lo, 0.1)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=1, label="y = x")
    r = num(t["pearson_r"].iloc[0]) if "pearson_r" in t.columns else math.nan
    if not math.isnan(r):
        lo_r, hi_r = num(t["pearson_ci_low"].iloc[0]), num(t["pearson_ci_high"].iloc[0])
        ci = "no CI, n < 4" if math.isnan(lo_r) else f"[{lo_r:.2f}, {hi_r:.2f}]"
        ax.text(
            0.03,
            0.97,
            f"r = {r:.2f} {ci} (n={int(t['pearson_n'].iloc[0])} configurations)",
            transform=ax.transAxes,
            va="top",
            fontsize=9,
        )
    ax.set_xlabel("yes-bias shift in P(yes) (questions whose answer is 'no')")
    ax.set_ylabel("detection shift in P(yes)")
    ax.set_title("Detection shift vs. general yes-bias shift")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return save(fig, path)
