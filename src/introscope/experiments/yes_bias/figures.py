"""The yes-bias figures, all in log-odds of "yes": detection against control shift per
configuration, the same per concept at one configuration, and the questions' no-injection
baselines next to the detection question's (the scorecard's step 3 reads the same tables,
so the figures are drawn once, here)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from introscope.experiments.selection import concept_list
from introscope.experiments.yes_bias.held_out import held_row
from introscope.experiments.yes_bias.logodds import DETECTION, KEPT
from introscope.headlines import cfg_text
from introscope.render.figures import CONTROL_COLORS, has, num, save, yerr
from introscope.tables import Tables, best_row


def figures(t: Tables, directory: Path) -> dict[str, Path]:
    out = {
        "yes_bias": plot_yes_bias_scatter(t["yes_bias"], directory / "yes_bias.png"),
        "yes_bias_concepts": plot_concepts(
            t["yes_bias"],
            t["yes_bias_concepts"],
            directory / "yes_bias_concepts.png",
            held_row(t, "logits"),
        ),
        "yes_bias_baselines": plot_baselines(
            t["yes_bias_questions"], directory / "yes_bias_baselines.png"
        ),
    }
    return {k: v for k, v in out.items() if v is not None}


def identity_line(ax: Axes, values: np.ndarray) -> None:
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    pad = 0.05 * max(hi - lo, 0.1)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=1, label="y = x")


def plot_yes_bias_scatter(table: pd.DataFrame, path: Path | str) -> Path | None:
    """Detection vs control log-odds shift across configurations (means over concepts, t
    intervals), the y = x line and the Pearson r."""
    if not has(table, ["detection_shift", "control_shift"]):
        return None
    t = table[table["detection_shift"].notna() & table["control_shift"].notna()]
    if len(t) == 0:
        return None
    fig, ax = plt.subplots(figsize=(5.2, 4.8))
    for control in sorted(set(t["control"].dropna())):
        s = t[t["control"] == control]
        ax.errorbar(
            s["control_shift"].astype(float),
            s["detection_shift"].astype(float),
            xerr=yerr(s, "control_shift"),
            yerr=yerr(s, "detection_shift"),
            fmt="o",
            ms=4,
            capsize=2,
            alpha=0.85,
            label=str(control),
            color=CONTROL_COLORS.get(str(control)),
        )
    identity_line(
        ax,
        np.concatenate(
            [t["control_shift"].astype(float).to_numpy(), t["detection_shift"].to_numpy(float)]
        ),
    )
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
    ax.set_xlabel("control questions: log-odds shift of 'yes'")
    ax.set_ylabel("detection question: log-odds shift of 'yes'")
    ax.set_title("Detection vs. control-question shift (means over concepts)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return save(fig, path)


def plot_concepts(
    configs: pd.DataFrame,
    concepts: pd.DataFrame,
    path: Path | str,
    held: pd.Series | None = None,
) -> Path | None:
    """Per concept at step 3's configuration (``held``: the ``yes_bias_held_out`` logits
    row; the concepts it was chosen on are drawn hollow), else at the concept configuration
    with the largest mean detection shift: the detection shift against the control shift, a
    bar from the 'yes'-answer to the 'no'-answer questions' shift; points above y = x move
    more than the control questions."""
    if not has(configs, ["detection_shift"]) or not has(concepts, ["bias_corrected"]):
        return None
    if held is not None:
        row, k = held, 1
    else:
        row, k = best_row(configs, "detection_shift", configs["control"] == "concept")
    if row is None:
        return None
    at = concepts[
        (concepts["layer"] == row["layer"])
        & (concepts["strength"] == row["strength"])
        & (concepts["control"] == "concept")
        & concepts["bias_corrected"].notna()
    ]
    if len(at) == 0:
        return None
    x = at["control_shift"].to_numpy(float)
    y = at["detection_shift"].to_numpy(float)
    fig, ax = plt.subplots(figsize=(5.4, 5.0))
    ax.hlines(
        y,
        at["control_yes_shift"].to_numpy(float),
        at["control_no_shift"].to_numpy(float),
        color="0.7",
        lw=1,
        label="'yes'- to 'no'-answer questions",
    )
    color = CONTROL_COLORS.get("concept")
    est = set(concept_list(held["estimated_on"])) if held is not None else set(at["concept"])
    used = at["concept"].astype(str).isin(est).to_numpy()
    ax.plot(x[used], y[used], "o", ms=5, color=color, label="concept")
    if (~used).any():
        ax.plot(x[~used], y[~used], "o", ms=5, mfc="none", color=color, label="chosen on")
    for name, xi, yi in zip(at["concept"], x, y, strict=True):
        ax.annotate(str(name), (xi, yi), fontsize=7, xytext=(3, 3), textcoords="offset points")
    identity_line(ax, np.concatenate([x, y]))
    if held is not None:  # hollow points: the concepts the configuration was chosen on
        picked = " (step 3's configuration)"
    else:
        picked = f" (largest of {k}, selected after the fact)" if k > 1 else ""
    ax.set_title(f"Per concept at {cfg_text(row['layer'], row['strength'])}{picked}", fontsize=9)
    ax.set_xlabel("control questions: log-odds shift of 'yes'")
    ax.set_ylabel("detection question: log-odds shift of 'yes'")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return save(fig, path)


def plot_baselines(questions: pd.DataFrame, path: Path | str) -> Path | None:
    """No-injection log-odds of 'yes' per question, by true answer (hollow: dropped), with
    the detection question's as a vertical line: do the controls span it?"""
    if not has(questions, ["log_odds", "status"]):
        return None
    q = questions[(questions["measure"] == "logits") & questions["log_odds"].notna()]
    if len(q) == 0:
        return None
    fig, ax = plt.subplots(figsize=(6.0, 2.8))
    rng = np.random.default_rng(0)  # vertical jitter only, so overlapping points show
    for i, answer in enumerate(("no", "yes")):
        s = q[q["answer"] == answer]
        kept = s["status"] == KEPT
        for mask, face in ((kept, "C0"), (~kept, "none")):
            lo = s.loc[mask, "log_odds"].to_numpy(float)
            ax.scatter(
                lo, i + rng.uniform(-0.15, 0.15, len(lo)), s=14, facecolors=face, edgecolors="C0"
            )
    ref = q[q["question_id"] == DETECTION]
    if len(ref):
        x = float(ref["log_odds"].iloc[0])
        ax.axvline(x, color="C3", lw=1.5)
        ax.text(
            x,
            1.01,
            "detection question",
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="bottom",
            color="C3",
            fontsize=8,
        )
    ax.set_yticks([0, 1], ["'no'-answer", "'yes'-answer"])
    ax.set_xlabel("no-injection log-odds of 'yes' (hollow: dropped)")
    ax.set_title("Control-question baselines", fontsize=9, pad=14)
    ax.grid(alpha=0.3, axis="x")
    return save(fig, path)
