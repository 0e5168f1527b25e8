"""Detection figures: net detection by layer x strength, the detection report under each
control, mutual information by layer, and the confabulation profile."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from introscope.experiments.detection.control_effects import plot_control_effects
from introscope.render.figures import CONTROL_COLORS, has, label, num, save, yerr
from introscope.tables import Tables


def figures(t: Tables, directory: Path) -> dict[str, Path]:
    """Every detection figure that has data, by name."""
    drawn = {
        "net_detection_heatmap": plot_net_detection_heatmap(
            t["detection"], directory / "net_detection_heatmap.png"
        ),
        "detection_controls": plot_detection_controls(
            t["detection"], directory / "detection_controls.png"
        ),
        "mutual_information": plot_mutual_information(
            t["mutual_information"], directory / "mutual_information.png"
        ),
        "confabulation": plot_confabulation(t["confabulation"], directory / "confabulation.png"),
        "control_effects": plot_control_effects(
            t["control_effects"], directory / "control_effects.png"
        ),
    }
    return {name: path for name, path in drawn.items() if path is not None}


def plot_net_detection_heatmap(
    table: pd.DataFrame, path: Path | str, metric: str = "net_detection"
) -> Path | None:
    """Heatmap of a net score (default ``net_detection``) for concept injection, layer x
    strength, each cell annotated with the estimate, its CI and n."""
    if not has(table, [metric, "layer", "strength", "control"]):
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
    ax.set_xticks(range(len(strengths)), [label(s) for s in strengths])
    ax.set_yticks(range(len(layers)), [str(v) for v in layers])
    ax.set_xlabel("injection strength")
    ax.set_ylabel("layer")
    ax.set_title(f"{metric.replace('_', ' ')}\n(concept injection minus no-injection control)")
    fig.colorbar(im, ax=ax, label="rate difference")
    return save(fig, path)


def plot_detection_controls(
    table: pd.DataFrame, path: Path | str, metric: str = "claims_detection"
) -> Path | None:
    """Detection-claim rate (default) by layer for concept / random / negated injection, one
    panel per strength, with the no-injection control's rate as a grey band (95% CI)."""
    if not has(table, [metric, "layer", "strength", "control"]):
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
            if not math.isnan(num(c[metric])):
                ax.axhspan(
                    num(c[f"{metric}_ci_low"]),
                    num(c[f"{metric}_ci_high"]),
                    color=CONTROL_COLORS["none"],
                    alpha=0.2,
                    label="no injection (95% CI)",
                )
                ax.axhline(num(c[metric]), color=CONTROL_COLORS["none"], lw=1)
        controls = [c for c in ("concept", "random", "negated") if c in set(sub["control"])]
        controls += sorted(set(sub["control"].dropna()) - set(controls))
        for k, control in enumerate(controls):
            t = sub[sub["control"] == control].sort_values("layer")
            x = t["layer"].astype(float).to_numpy() + (k - (len(controls) - 1) / 2) * 0.15
            ax.errorbar(
                x,
                t[metric].astype(float),
                yerr=yerr(t, metric),
                marker="o",
                ms=4,
                capsize=3,
                label=str(control),
                color=CONTROL_COLORS.get(str(control)),
            )
        ax.set_title("strength " + label(s))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("layer")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(metric.replace("_", " ") + " rate")
    axes[0][-1].legend(fontsize=8, loc="upper right")
    fig.suptitle("Detection report under concept injection and its controls")
    return save(fig, path)


def plot_mutual_information(table: pd.DataFrame, path: Path | str) -> Path | None:
    """Corrected MI (bits, bootstrap CI) by layer with the strengths pooled, one panel per
    source (candidate readout / text), one line per control; the shuffled-label baseline's
    95th percentile (dotted) and the ceiling log2(K) (dashed) for concept injection."""
    if not has(table, ["mi_bits", "layer", "source", "control"]):
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
                yerr=yerr(c, "mi_bits"),
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
    return save(fig, path)


def plot_confabulation(table: pd.DataFrame, path: Path | str, top: int = 20) -> Path | None:
    """Horizontal bars: how often each wrong concept is named (the ``top`` most frequent),
    coloured by concreteness, annotated with the mean cosine to the injected concept."""
    if not has(table, ["count", "named"]):
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
    return save(fig, path)
