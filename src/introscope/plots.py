"""Paper-quality PNG figures from the tables in :mod:`introscope.analysis`.

Each ``plot_*(table, path)`` writes one PNG (matplotlib, Agg backend) and returns its path,
or returns None (writing nothing) when the table holds no data for that figure. Every
estimate is drawn with its 95% CI.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

__all__ = [
    "plot_detection_controls",
    "plot_intentional_control",
    "plot_net_detection_heatmap",
    "plot_prefill",
    "plot_thoughts_vs_text",
    "plot_yes_bias_scatter",
]

CONTROL_COLORS = {
    "concept": "#1f77b4",
    "random": "#ff7f0e",
    "negated": "#2ca02c",
    "none": "#7f7f7f",
}
INSTRUCTION_COLORS = {
    "think": "#1f77b4",
    "dont_think": "#d62728",
    "silent_task": "#9467bd",
    "mention": "#8c564b",
}
PREFILL_COLORS = {"none": "#7f7f7f", "match": "#1f77b4", "other": "#ff7f0e"}
DPI = 150


def _num(x: Any) -> float:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return math.nan
    return f


def _label(x: Any) -> str:
    f = _num(x)
    if math.isnan(f):
        return "-"
    return str(int(f)) if f.is_integer() else f"{f:g}"


def _yerr(t: pd.DataFrame, col: str) -> np.ndarray:
    est = t[col].astype(float).to_numpy()
    lo = t[f"{col}_ci_low"].astype(float).to_numpy()
    hi = t[f"{col}_ci_high"].astype(float).to_numpy()
    err = np.vstack([est - lo, hi - est])
    return np.nan_to_num(np.clip(err, 0.0, None), nan=0.0)


def _save(
    fig: Figure, path: Path | str, rect: tuple[float, float, float, float] | None = None
) -> Path:
    """Lay out (within ``rect``, the whole figure by default), write a PNG, close."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout(rect=rect)
    fig.savefig(p, dpi=DPI, format="png")
    plt.close(fig)
    return p


def _has(table: pd.DataFrame | None, cols: Sequence[str]) -> bool:
    return (
        table is not None
        and len(table) > 0
        and all(c in table.columns for c in cols)
        and bool(table[cols[0]].notna().any())
    )


def plot_net_detection_heatmap(
    table: pd.DataFrame, path: Path | str, metric: str = "net_detection"
) -> Path | None:
    """Heatmap of a net score (default ``net_detection``) for concept injection, layer x
    strength, each cell annotated with the estimate, its CI and n."""
    if not _has(table, [metric, "layer", "strength", "control"]):
        return None
    t = table[(table["control"] == "concept") & table[metric].notna()]
    if len(t) == 0:
        return None
    layers = sorted({int(v) for v in t["layer"].dropna()})
    strengths = sorted({float(v) for v in t["strength"].dropna()})
    if not layers or not strengths:
        return None
    grid = np.full((len(layers), len(strengths)), np.nan)
    notes: dict[tuple[int, int], str] = {}
    for _, r in t.iterrows():
        if pd.isna(r["layer"]) or pd.isna(r["strength"]):
            continue
        i, j = layers.index(int(r["layer"])), strengths.index(float(r["strength"]))
        grid[i, j] = float(r[metric])
        notes[(i, j)] = (
            f"{r[metric]:+.2f}\n[{r[f'{metric}_ci_low']:+.2f}, {r[f'{metric}_ci_high']:+.2f}]"
            f"\nn={int(r[f'{metric}_n'])}"
        )
    lim = max(0.05, float(np.nanmax(np.abs(grid))))
    fig, ax = plt.subplots(
        figsize=(max(5.5, 2.0 + 1.5 * len(strengths)), max(3.2, 1.4 + 0.75 * len(layers))),
        squeeze=True,
    )
    im = ax.imshow(grid, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto", origin="lower")
    for (i, j), text in notes.items():
        ax.text(
            j,
            i,
            text,
            ha="center",
            va="center",
            fontsize=7,
            color="white" if abs(grid[i, j]) > 0.6 * lim else "black",
        )
    ax.set_xticks(range(len(strengths)), [_label(s) for s in strengths])
    ax.set_yticks(range(len(layers)), [str(v) for v in layers])
    ax.set_xlabel("injection strength")
    ax.set_ylabel("layer")
    ax.set_title(f"{metric.replace('_', ' ')}\n(concept injection minus no-injection control)")
    fig.colorbar(im, ax=ax, label="rate difference")
    return _save(fig, path)


def plot_detection_controls(
    table: pd.DataFrame, path: Path | str, metric: str = "claims_detection"
) -> Path | None:
    """Detection-claim rate (default) by layer for concept / random / negated injection, one
    panel per strength, with the no-injection control's rate as a grey band (95% CI)."""
    if not _has(table, [metric, "layer", "strength", "control"]):
        return None
    inj = table[table["control"] != "none"]
    inj = inj[inj["layer"].notna() & inj[metric].notna()]
    if len(inj) == 0:
        return None
    ctrl = table[table["control"] == "none"]
    strengths = sorted({float(s) for s in inj["strength"].dropna()}) or [math.nan]
    fig, axes = plt.subplots(
        1,
        len(strengths),
        figsize=(max(6.0, 4.2 * len(strengths)), 3.8),
        sharey=True,
        squeeze=False,
    )
    for ax, s in zip(axes[0], strengths, strict=True):
        sub = inj if math.isnan(s) else inj[inj["strength"].astype(float) == s]
        if len(ctrl):
            c = ctrl.iloc[0]
            if not math.isnan(_num(c[metric])):
                ax.axhspan(
                    _num(c[f"{metric}_ci_low"]),
                    _num(c[f"{metric}_ci_high"]),
                    color=CONTROL_COLORS["none"],
                    alpha=0.2,
                    label="no injection (95% CI)",
                )
                ax.axhline(_num(c[metric]), color=CONTROL_COLORS["none"], lw=1)
        controls = [c for c in ("concept", "random", "negated") if c in set(sub["control"])]
        controls += sorted(set(sub["control"].dropna()) - set(controls))
        for k, control in enumerate(controls):
            t = sub[sub["control"] == control].sort_values("layer")
            x = t["layer"].astype(float).to_numpy() + (k - (len(controls) - 1) / 2) * 0.15
            ax.errorbar(
                x,
                t[metric].astype(float),
                yerr=_yerr(t, metric),
                marker="o",
                ms=4,
                capsize=3,
                label=str(control),
                color=CONTROL_COLORS.get(str(control)),
            )
        ax.set_title("strength " + _label(s))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("layer")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(metric.replace("_", " ") + " rate")
    axes[0][-1].legend(fontsize=8, loc="upper right")
    fig.suptitle("Detection report under concept injection and its controls")
    return _save(fig, path)


def plot_yes_bias_scatter(table: pd.DataFrame, path: Path | str) -> Path | None:
    """Detection P(yes) shift vs yes-bias P(yes) shift across configurations, with CIs,
    the y = x line and the Pearson r."""
    if not _has(table, ["detection_shift", "yes_bias_shift"]):
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
            xerr=_yerr(s, "yes_bias_shift"),
            yerr=_yerr(s, "detection_shift"),
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
    r = _num(t["pearson_r"].iloc[0]) if "pearson_r" in t.columns else math.nan
    if not math.isnan(r):
        lo_r, hi_r = _num(t["pearson_ci_low"].iloc[0]), _num(t["pearson_ci_high"].iloc[0])
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
    return _save(fig, path)


def plot_intentional_control(table: pd.DataFrame, path: Path | str) -> Path | None:
    """Mean cosine with the word's concept vector by layer, per instruction (95% CI band),
    with each instruction's other-words baseline dashed."""
    if not _has(table, ["cos", "layer", "instruction"]):
        return None
    t = table[(table["row_type"] == "instruction") & table["cos"].notna()]
    if len(t) == 0:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for instr in list(dict.fromkeys(t["instruction"])):
        s = t[t["instruction"] == instr].sort_values("layer")
        x = s["layer"].astype(float).to_numpy()
        color = INSTRUCTION_COLORS.get(str(instr))
        line = ax.plot(x, s["cos"].astype(float), marker="o", ms=3, label=str(instr), color=color)
        c = line[0].get_color()
        lo = s["cos_ci_low"].astype(float).to_numpy()
        hi = s["cos_ci_high"].astype(float).to_numpy()
        if np.isfinite(lo).any():
            ax.fill_between(x, lo, hi, color=c, alpha=0.2)
        ax.plot(x, s["baseline"].astype(float), ls="--", lw=1, color=c, label=f"{instr} baseline")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("layer")
    ax.set_ylabel("cosine with the word's concept vector")
    ax.set_title("Intentional control: alignment with the word's vector by layer")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, path)


def plot_prefill(table: pd.DataFrame, path: Path | str) -> Path | None:
    """Apology rate (95% Wilson CI) per injected condition, grouped by layer x strength."""
    if not _has(table, ["apology", "injected"]):
        return None
    t = table[table["apology"].notna()]
    if len(t) == 0:
        return None
    inj = t[t["injected"] != "none"]
    configs = list(
        dict.fromkeys(zip(inj["layer"].map(_label), inj["strength"].map(_label), strict=True))
    )
    none = t[t["injected"] == "none"]
    if not configs:
        configs = [("-", "-")]
    conditions = [c for c in ("none", "match", "other") if c in set(t["injected"])]
    conditions += sorted(set(t["injected"].dropna()) - set(conditions))
    width = 0.8 / max(1, len(conditions))
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(configs) * len(conditions) / 2 + 3), 4))
    for k, cond in enumerate(conditions):
        ests, errs_lo, errs_hi = [], [], []
        for layer, strength in configs:
            if cond == "none":
                m = (none["layer"].map(_label) == layer) & (
                    none["strength"].map(_label) == strength
                )
                s = none[m] if m.any() else none
            else:
                sub = t[t["injected"] == cond]
                s = sub[
                    (sub["layer"].map(_label) == layer) & (sub["strength"].map(_label) == strength)
                ]
            if len(s) == 0:
                ests.append(np.nan)
                errs_lo.append(0.0)
                errs_hi.append(0.0)
                continue
            r = s.iloc[0]
            e = _num(r["apology"])
            ests.append(e)
            errs_lo.append(max(0.0, e - _num(r["apology_ci_low"])))
            errs_hi.append(max(0.0, _num(r["apology_ci_high"]) - e))
        x = np.arange(len(configs)) + (k - (len(conditions) - 1) / 2) * width
        ax.bar(
            x,
            np.nan_to_num(ests),
            width,
            yerr=[errs_lo, errs_hi],
            capsize=3,
            label=f"injected: {cond}",
            color=PREFILL_COLORS.get(str(cond)),
        )
    ax.set_xticks(
        range(len(configs)), [f"L{layer}\ns={strength}" for layer, strength in configs], fontsize=8
    )
    ax.set_xlabel("injection layer / strength")
    ax.set_ylabel("apology rate")
    ax.set_ylim(0, 1.05)
    ax.set_title("Prefill: apology for the prefilled word")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def plot_thoughts_vs_text(table: pd.DataFrame, path: Path | str) -> Path | None:
    """Identification of the injected word (and exact transcription) by layer, one line per
    strength and control, with the chance level."""
    if not _has(table, ["identification", "layer", "control"]):
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
        groups = list(dict.fromkeys(zip(inj["control"], inj["strength"].map(_label), strict=True)))
        for control, strength in groups:
            s = inj[(inj["control"] == control) & (inj["strength"].map(_label) == strength)]
            s = s[s[metric].notna()].sort_values("layer")
            if len(s) == 0:
                continue
            ax.errorbar(
                s["layer"].astype(float),
                s[metric].astype(float),
                yerr=_yerr(s, metric),
                marker="o",
                ms=4,
                capsize=3,
                label=f"{control}, strength {strength}",
            )
        none = t[t["control"] == "none"]
        if len(none) and not math.isnan(_num(none.iloc[0][metric])):
            r = none.iloc[0]
            ax.axhspan(
                _num(r[f"{metric}_ci_low"]),
                _num(r[f"{metric}_ci_high"]),
                color="grey",
                alpha=0.2,
                label="no injection (95% CI)",
            )
        if metric == "identification":
            chance = _num(t["chance"].iloc[0]) if "chance" in t.columns else 0.1
            ax.axhline(chance, color="k", ls=":", lw=1, label=f"chance ({chance:.2f})")
        ax.set_title(title)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("layer")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("rate")
    fig.suptitle("Thoughts vs. text")
    return _save(fig, path)
