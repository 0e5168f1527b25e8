"""Prefill figure: the apology rate per injected condition, grouped by layer x strength."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from introscope.experiments.prefill.params import CONDITIONS
from introscope.render.figures import has, label, num, save
from introscope.tables import Tables

PREFILL_COLORS = {"none": "#7f7f7f", "match": "#1f77b4", "other": "#ff7f0e"}


def figures(t: Tables, directory: Path) -> dict[str, Path]:
    """The prefill figure, when the run has data for it."""
    path = plot_prefill(t["prefill"], directory / "prefill.png")
    return {"prefill": path} if path is not None else {}


def plot_prefill(table: pd.DataFrame, path: Path | str) -> Path | None:
    """Apology rate (95% Wilson CI) per injected condition, grouped by layer x strength."""
    if not has(table, ["apology", "injected"]):
        return None
    t = table[table["apology"].notna()]
    if len(t) == 0:
        return None
    inj = t[t["injected"] != "none"]
    configs = list(
        dict.fromkeys(zip(inj["layer"].map(label), inj["strength"].map(label), strict=True))
    )
    none = t[t["injected"] == "none"]
    if not configs:
        configs = [("-", "-")]
    conditions = [c for c in CONDITIONS if c in set(t["injected"])]
    conditions += sorted(set(t["injected"].dropna()) - set(conditions))
    width = 0.8 / max(1, len(conditions))
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(configs) * len(conditions) / 2 + 3), 4))
    for k, condition in enumerate(conditions):
        ests, errs_lo, errs_hi = [], [], []
        for layer, strength in configs:
            if condition == "none":
                # no-injection trials carry no layer: the matched ones if any, else all
                m = (none["layer"].map(label) == layer) & (none["strength"].map(label) == strength)
                s = none[m] if m.any() else none
            else:
                sub = t[t["injected"] == condition]
                s = sub[
                    (sub["layer"].map(label) == layer) & (sub["strength"].map(label) == strength)
                ]
            if len(s) == 0:
                ests.append(np.nan)
                errs_lo.append(0.0)
                errs_hi.append(0.0)
                continue
            r = s.iloc[0]
            e = num(r["apology"])
            ests.append(e)
            errs_lo.append(max(0.0, e - num(r["apology_ci_low"])))
            errs_hi.append(max(0.0, num(r["apology_ci_high"]) - e))
        x = np.arange(len(configs)) + (k - (len(conditions) - 1) / 2) * width
        ax.bar(
            x,
            np.nan_to_num(ests),
            width,
            yerr=[errs_lo, errs_hi],
            capsize=3,
            label=f"injected: {condition}",
            color=PREFILL_COLORS.get(str(condition)),
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
    return save(fig, path)
