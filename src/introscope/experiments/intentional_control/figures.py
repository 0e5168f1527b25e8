"""Intentional-control figures: the cosine with the word's vector by layer (with its
baseline), the same minus the baseline (``delta``) by layer, and ``delta`` by sentence token
and layer."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from introscope.experiments.intentional_control.params import INSTRUCTIONS
from introscope.render.figures import INSTRUCTION_COLORS, has, save
from introscope.tables import Tables, sort_key


def figures(t: Tables, directory: Path) -> dict[str, Path]:
    """Every intentional-control figure that has data, by name."""
    drawn = {
        "intentional_control": plot_intentional_control(
            t["intentional_control"], directory / "intentional_control.png"
        ),
        "instruction_cosines": plot_instruction_cosines(
            t["intentional_control"], directory / "instruction_cosines.png"
        ),
        "intentional_control_tokens": plot_intentional_control_tokens(
            t["intentional_control_tokens"], directory / "intentional_control_tokens.png"
        ),
    }
    return {name: path for name, path in drawn.items() if path is not None}


def plot_intentional_control(table: pd.DataFrame, path: Path | str) -> Path | None:
    """Mean cosine with the word's concept vector by layer, per instruction (95% CI band),
    with each instruction's other-words baseline dashed."""
    if not has(table, ["cos", "layer", "instruction"]):
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
    return save(fig, path)


def plot_instruction_cosines(table: pd.DataFrame, path: Path | str) -> Path | None:
    """Think / don't-think / silent-task / mention: mean cosine with the word's vector minus
    the other-words baseline (``delta``, t CI band) by layer, one line per instruction (the
    instruction rows of the ``intentional_control`` table)."""
    if not has(table, ["delta", "layer", "instruction"]):
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
    return save(fig, path)


def plot_intentional_control_tokens(table: pd.DataFrame, path: Path | str) -> Path | None:
    """One heatmap per instruction (in the usual instruction order): token position (x) by
    layer (y), mean cosine with the word's vector minus the baseline words' mean cosine."""
    if not has(table, ["delta", "instruction", "token", "layer"]):
        return None
    instructions = sorted(
        dict.fromkeys(table["instruction"]), key=lambda s: sort_key(s, INSTRUCTIONS)
    )
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
    # A colorbar shared by several panels does not go with tight_layout (render.save):
    # crop to the drawn content instead.
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return out
