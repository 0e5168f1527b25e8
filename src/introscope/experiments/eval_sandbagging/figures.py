"""The sandbagging-check figure: accuracy against weight-noise sigma, one line per framing,
with t intervals over items."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from introscope.render.figures import has, save_with_legend, yerr
from introscope.tables import Tables


def figures(t: Tables, directory: Path) -> dict[str, Path]:
    path = plot_accuracy(t, directory / "eval_sandbagging.png")
    return {"eval_sandbagging": path} if path is not None else {}


def plot_accuracy(t: Tables, path: Path) -> Path | None:
    table = t["eval_sandbagging"]
    if not has(table, ["accuracy", "framing", "sigma"]):
        return None
    sigmas = sorted(set(table["sigma"]))
    # Evenly spaced positions labelled with sigma: the scales are usually geometric.
    x = {s: i for i, s in enumerate(sigmas)}
    fig, ax = plt.subplots(figsize=(6, 3.8))
    framings = list(dict.fromkeys(table["framing"]))
    for k, framing in enumerate(framings):
        d = table[table["framing"] == framing].sort_values("sigma")
        offset = (k - (len(framings) - 1) / 2) * 0.06
        ax.errorbar(
            np.array([x[s] for s in d["sigma"]]) + offset,
            d["accuracy"].astype(float),
            yerr=yerr(d, "accuracy"),
            fmt="o-",
            label=framing.replace("_", "-"),
            capsize=3,
        )
    ax.set_xticks(range(len(sigmas)), [f"{s:g}" for s in sigmas])
    ax.set_xlabel("weight noise sigma (relative to each matrix's std)")
    ax.set_ylabel("accuracy (95% t over items)")
    ax.set_ylim(-0.05, 1.05)
    return save_with_legend(fig, ax, path)
