"""Lead-sensitivity figure: per report and lead, the shift with the lead next to the
movement per standard deviation of the hidden state."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from introscope.render.figures import has, save, yerr
from introscope.tables import Tables


def figures(t: Tables, directory: Path) -> dict[str, Path]:
    p = plot_shift(t["shift"], directory / "lead_sensitivity.png")
    return {"lead_sensitivity": p} if p is not None else {}


def plot_shift(table: pd.DataFrame, path: Path) -> Path | None:
    if not has(table, ["shift", "state_effect", "report_label", "lead"]):
        return None
    t = table.reset_index(drop=True)
    names = (t["report_label"].astype(str) + " | " + t["lead"].astype(str)).tolist()
    y = np.arange(len(t))
    fig, ax = plt.subplots(figsize=(6.4, 0.7 + 0.36 * len(t)))
    ax.errorbar(
        t["shift"].astype(float).abs(),
        y - 0.12,
        xerr=yerr(
            t.assign(
                shift=t["shift"].abs(),
                shift_ci_low=np.minimum(t["shift_ci_low"].abs(), t["shift_ci_high"].abs()),
                shift_ci_high=np.maximum(t["shift_ci_low"].abs(), t["shift_ci_high"].abs()),
            ),
            "shift",
        ),
        fmt="o",
        capsize=2,
        label="|shift with the lead|",
    )
    ax.errorbar(
        t["state_effect"].astype(float),
        y + 0.12,
        xerr=yerr(t, "state_effect"),
        fmt="s",
        capsize=2,
        label="movement per SD of entropy",
    )
    ax.set_yticks(y, names, fontsize=7)
    ax.set_xlabel("change in the report (95% CI by family)")
    ax.invert_yaxis()
    ax.legend(fontsize=7)
    return save(fig, path)
