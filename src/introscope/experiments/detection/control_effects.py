"""Each injection's detection effect next to its functional effect size.

An anomaly control only tests "does the report track *what* was injected, or only *that*
something was?" if it perturbs the model about as much as the concept vector does. The
steering check measures that perturbation (KL of the next-token distribution on a neutral
prompt, :mod:`introscope.experiments.steering_check`); this module puts it next to the
detection effect of the same control at the same layer x strength, so a matched
perturbation is shown rather than assumed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from introscope.render.figures import (
    CONTROL_COLORS,
    has,
    injected_controls,
    log_axis_err,
    save_with_legend,
)
from introscope.tables import NAN, Tables, frame, row_at

#: The detection effect read from each detection table: (source, table, column, what it is).
EFFECTS = (
    ("text", "detection", "net_affirmative", "net detection claim rate"),
    ("logits", "detection_logits", "p_yes_shift", "P(yes) shift"),
)
FAMILY = ("", "_ci_low", "_ci_high", "_n")


def control_effects_table(t: Tables, upstream: Mapping[str, Tables]) -> pd.DataFrame:
    """One row per detection source x layer x strength x injected control: ``effect`` (the
    detection effect over no injection, with its CI and n as in the detection table),
    ``kl`` (mean KL on the neutral prompt over concepts, t CI), ``kl_ratio`` (the control's
    KL over the concept vector's, paired per concept) and ``kl_match``. KL columns are NaN
    where the run has no steering-check trials at that configuration."""
    kl = upstream.get("steering_check", {}).get("kl")
    rows = []
    for source, name, col, what in EFFECTS:
        table = t[name]
        if len(table) == 0 or col not in table.columns:
            continue
        for _, r in table.iterrows():
            control = r["control"]
            if control == "none":
                continue
            out: dict[str, Any] = {
                "source": source,
                "measure": what,
                "layer": r["layer"],
                "strength": r["strength"],
                "control": control,
            }
            for suffix in FAMILY:
                out[f"effect{suffix}"] = r[f"{col}{suffix}"]
            k = row_at(kl, r["layer"], r["strength"], control=control)
            for family in ("kl", "kl_ratio"):
                for suffix in FAMILY:
                    out[f"{family}{suffix}"] = NAN if k is None else k[f"{family}{suffix}"]
            out["kl_match"] = "not measured" if k is None else k["kl_match"]
            rows.append(out)
    return frame(rows)


def plot_control_effects(table: pd.DataFrame, path: Path | str) -> Path | None:
    """Detection effect (y) against KL on the neutral prompt (x, log scale), one colour per
    control, one point per layer x strength, one panel per detection source; 95% CIs both
    ways (:func:`log_axis_err` for the KL). Matched perturbations sit at the same x: a
    control far left of the concept vector was never a fair test of content."""
    if not has(table, ["kl", "effect"]):
        return None
    t = table[(table["kl"].astype(float) > 0) & table["effect"].notna()]
    sources = [s for s, *_ in EFFECTS if s in set(t["source"])]
    if not sources:
        return None
    fig, axes = plt.subplots(1, len(sources), figsize=(5.2 * len(sources), 4.2), squeeze=False)
    for ax, source in zip(axes[0], sources, strict=True):
        sub = t[t["source"] == source]
        for control in injected_controls(sub["control"]):
            c = sub[sub["control"] == control]
            x = c["kl"].astype(float).to_numpy()
            y = c["effect"].astype(float).to_numpy()
            xerr = log_axis_err(c, "kl")
            yerr = np.nan_to_num(
                np.clip(
                    np.vstack(
                        [
                            y - c["effect_ci_low"].astype(float).to_numpy(),
                            c["effect_ci_high"].astype(float).to_numpy() - y,
                        ]
                    ),
                    0.0,
                    None,
                ),
                nan=0.0,
            )
            ax.errorbar(
                x,
                y,
                xerr=xerr,
                yerr=yerr,
                fmt="o",
                ms=4,
                capsize=2,
                alpha=0.85,
                color=CONTROL_COLORS.get(str(control), "0.3"),
                label=str(control),
            )
        ax.axhline(0.0, color="0.4", lw=0.9, ls="--")
        ax.set_xscale("log")
        ax.set_xlabel("KL(injected ‖ no injection) on a neutral prompt, nats")
        ax.set_ylabel(f"detection effect: {sub['measure'].iloc[0]}")
        ax.set_title(f"{source} readout", fontsize=9)
        ax.grid(alpha=0.3)
    fig.suptitle(
        "Detection effect against functional effect size, per control\n(one point per layer x "
        "strength; matched perturbations sit at the same KL)",
        fontsize=9,
    )
    return save_with_legend(fig, axes[0][0], path)
