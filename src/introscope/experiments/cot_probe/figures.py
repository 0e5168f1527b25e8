"""Figures of the probe experiment: accuracy by layer against the baselines, the decision
lead (where the answer becomes decodable vs where the text states it), steering flips."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from introscope.render.figures import has, label, save, save_with_legend, yerr
from introscope.tables import Tables

DIRECTION_COLORS = {"probe": "#1f77b4", "random": "#ff7f0e", "orthogonal": "#2ca02c"}


def figures(t: Tables, directory: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for name, path in (
        (
            "cot_probe_layers",
            plot_layers(
                t["probe_layers"], t["probe"], t["accuracy"], directory / "cot_probe_layers.png"
            ),
        ),
        ("cot_lead", plot_lead(t["items"], directory / "cot_lead.png")),
        ("cot_steering", plot_steering(t["steering"], directory / "cot_steering.png")),
    ):
        if path is not None:
            out[name] = path
    return out


def plot_layers(
    layers: pd.DataFrame, probe: pd.DataFrame, accuracy: pd.DataFrame, path: Path
) -> Path | None:
    """Out-of-fold probe accuracy at each layer (each layer's own probe) with the shuffled
    labels' accuracy, the majority baseline and chance as lines; 95% CIs."""
    if not has(layers, ["accuracy", "layer"]):
        return None
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    x = layers["layer"].astype(float).to_numpy()
    ax.errorbar(
        x,
        layers["accuracy"].astype(float),
        yerr=yerr(layers, "accuracy"),
        fmt="o-",
        ms=4,
        label="probe (final answer)",
    )
    ax.errorbar(
        x + 0.15,
        layers["shuffled"].astype(float),
        yerr=yerr(layers, "shuffled"),
        fmt="s--",
        ms=3,
        color="#7f7f7f",
        label="probe on shuffled labels",
    )
    if len(probe):
        ax.axhline(
            float(probe["majority"].iloc[0]),
            color="#d62728",
            lw=1,
            ls=":",
            label="majority-class baseline",
        )
    if len(accuracy):
        ax.axhline(
            float(accuracy["chance"].iloc[0]), color="black", lw=0.8, ls="--", label="chance"
        )
    ax.set_xlabel("layer (activation before the chain)")
    ax.set_ylabel("out-of-fold accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xticks(x, [label(v) for v in x])
    return save_with_legend(fig, ax, path)


def plot_lead(items: pd.DataFrame, path: Path) -> Path | None:
    """Per item, the chain position where its final answer becomes stably decodable
    against the position where the text states it (points above the diagonal: the
    activations lead the text)."""
    if not has(items, ["lead", "decodable_at", "stated_at"]):
        return None
    d = items[items["lead"].notna()]
    if len(d) == 0:
        return None
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    ax.scatter(d["decodable_at"].astype(float), d["stated_at"].astype(float), s=14, alpha=0.7)
    top = float(np.nanmax(d[["decodable_at", "stated_at"]].astype(float).to_numpy())) + 1
    ax.plot([0, top], [0, top], color="black", lw=0.8, ls="--")
    ax.set_xlabel("answer stably decodable from (chain tokens)")
    ax.set_ylabel("answer stated in the text at (chain tokens)")
    return save(fig, path)


def plot_steering(table: pd.DataFrame, path: Path) -> Path | None:
    """Flip rate of the final answer per steering direction and strength (95% CIs)."""
    if not has(table, ["flip", "direction", "strength"]):
        return None
    strengths = sorted(table["strength"].astype(float).unique())
    fig, ax = plt.subplots(figsize=(max(5.5, 1.6 * len(strengths) + 3), 3.8))
    for k, (direction, color) in enumerate(DIRECTION_COLORS.items()):
        sub = table[table["direction"] == direction]
        if len(sub) == 0:
            continue
        x = np.array([strengths.index(float(s)) for s in sub["strength"]]) + (k - 1) * 0.22
        ax.errorbar(
            x,
            sub["flip"].astype(float),
            yerr=yerr(sub, "flip"),
            fmt="o",
            ms=5,
            color=color,
            label=f"{direction} direction",
        )
    ax.set_xticks(range(len(strengths)), [f"{label(s)} x norm" for s in strengths])
    ax.set_ylabel("final answer flipped")
    ax.set_ylim(-0.02, 1.02)
    return save_with_legend(fig, ax, path)
