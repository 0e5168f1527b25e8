"""Steering-check figures: the positive control by strength (one line per layer), and every
control's KL on the neutral prompt by strength (one panel per layer)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from introscope.render.figures import (
    CONTROL_COLORS,
    has,
    injected_controls,
    label,
    log_axis_err,
    save_with_legend,
    yerr,
)
from introscope.tables import Tables


def figures(t: Tables, directory: Path) -> dict[str, Path]:
    out = {}
    p = plot_steering(t["steering_check"], directory / "steering_check.png")
    if p is not None:
        out["steering_check"] = p
    p = plot_kl(t["kl"], directory / "steering_kl.png")
    if p is not None:
        out["steering_kl"] = p
    return out


def plot_steering(table: pd.DataFrame, path: Path | str) -> Path | None:
    """Concept minus random change in the concept word's log-probability (mean over concepts,
    95% t CI) against strength (log axis: strength 0 is left out), one line per layer."""
    if not has(table, ["concept_minus_random", "layer", "strength"]):
        return None
    table = table[table["strength"].astype(float) > 0]  # a log axis: strength 0 is no injection
    if len(table) == 0:
        return None
    fig, ax = plt.subplots(figsize=(6.0, 4.2))
    layers = sorted(table["layer"].dropna().unique())
    cmap = plt.get_cmap("viridis")
    for i, layer in enumerate(layers):
        sub = table[table["layer"] == layer].sort_values("strength")
        offset = (i - (len(layers) - 1) / 2) * 0.03
        ax.errorbar(
            sub["strength"].astype(float) * 2**offset,
            sub["concept_minus_random"].astype(float),
            yerr=yerr(sub, "concept_minus_random"),
            fmt="o-",
            ms=4,
            capsize=3,
            color=cmap(i / max(1, len(layers) - 1)),
            label=f"layer {label(layer)}",
        )
    ax.axhline(0.0, color="0.4", lw=0.9, ls="--")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("injection strength")
    ax.set_ylabel("concept − random, Δ log P(word), nats\n(mean over concepts, 95% CI)")
    ax.set_title(
        "Positive control: does the concept vector steer toward its word\n"
        "more than a random vector of the same norm? (neutral prompt)",
        fontsize=9,
    )
    ax.grid(alpha=0.3)
    return save_with_legend(fig, ax, path)


def plot_kl(table: pd.DataFrame, path: Path | str) -> Path | None:
    """KL of the next-token distribution from no injection (mean over concepts, 95% t CI)
    against strength, one line per control, one panel per layer."""
    if not has(table, ["kl", "layer", "strength", "control"]):
        return None
    layers = sorted(table["layer"].dropna().unique())
    controls = injected_controls(table["control"])
    fig, axes = plt.subplots(
        1, len(layers), figsize=(2.7 * len(layers) + 0.8, 3.8), sharey=True, squeeze=False
    )
    for ax, layer in zip(axes[0], layers, strict=True):
        for k, control in enumerate(controls):
            sub = table[(table["layer"] == layer) & (table["control"] == control)]
            sub = sub[sub["kl"].astype(float) > 0].sort_values("strength")
            if len(sub) == 0:
                continue
            offset = (k - (len(controls) - 1) / 2) * 0.04
            ax.errorbar(
                sub["strength"].astype(float) * 2**offset,
                sub["kl"].astype(float),
                yerr=log_axis_err(sub, "kl"),
                fmt="o-",
                ms=3,
                capsize=2,
                color=CONTROL_COLORS.get(control, "0.3"),
                label=control,
            )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("strength")
        ax.set_title(f"layer {label(layer)}", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("KL(injected ‖ no injection), nats\n(mean over concepts, 95% CI)")
    fig.suptitle(
        "Functional effect of each injection on a neutral prompt: a control with a much "
        "smaller KL\nthan the concept vector is not a matched perturbation",
        fontsize=9,
    )
    return save_with_legend(fig, axes[0][0], path)
