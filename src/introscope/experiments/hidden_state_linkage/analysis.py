"""Hidden-state linkage tables, headline rows and scorecard steps 102 and 104.

From the run's ``hidden_state_linkage`` trials (one per item): the per-item frame with the
hidden-state variables; the residual signal of each self-report (and of the hidden-state
variables themselves) about correctness beyond the surface-feature model; the partial
correlation of each self-report with each hidden-state variable given the surface features
(intervals clustered by family); and the same per layer (Fisher-z intervals, descriptive:
picking a layer from it is post hoc).

Variables: ``entropy`` (next-token entropy at the answer position), ``dropout_var``
(variance of the answer distribution over dropout passes), ``dropout_flip_rate``, ``norm``
(residual-stream norm at the answer position, z-scored per layer over items and averaged
over the declared layers) and ``lens_entropy`` (logit-lens entropy averaged over the
declared layers).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from introscope.experiments.base import ScoreInputs
from introscope.experiments.selfreport.frame import (
    REPORTS,
    SIGNALS,
    SURFACE_TEXT,
    item_frame,
    surface_design,
)
from introscope.experiments.selfreport.signals import (
    accuracy_table,
    complete,
    partial_r_row,
    residual_row,
)
from introscope.experiments.selfreport.wording import accuracy_note, units, verdict
from introscope.headlines import Headline, ci_or_none, headline_from_row, not_run
from introscope.stats import partial_correlation
from introscope.tables import RunFrame, Tables, frame

KIND = "hidden_state_linkage"
RESIDUAL_STEP = 102
LINKAGE_STEP = 104

#: variable -> what it is, for sentences.
VARIABLES: dict[str, str] = {
    "entropy": "next-token entropy at the answer position",
    "dropout_var": "variance of the answer distribution under dropout",
    "dropout_flip_rate": "rate at which dropout flips the top answer",
    "norm": "residual-stream norm at the answer position (declared layers)",
    "lens_entropy": "logit-lens entropy (declared layers)",
}
EXTRA = ("dropout_var", "dropout_flip_rate")


def layer_arrays(records: list[dict[str, Any]], key: str) -> np.ndarray:
    """``[n_items, n_layers]`` of a per-layer readout (NaN where missing)."""
    rows = [r["logits"].get(key) for r in records]
    width = max((len(x) for x in rows if isinstance(x, list)), default=0)
    out = np.full((len(rows), width), np.nan)
    for i, x in enumerate(rows):
        if isinstance(x, list):
            out[i, : len(x)] = [np.nan if v is None else float(v) for v in x]
    return out


def declared(records: list[dict[str, Any]]) -> list[int]:
    for r in records:
        d = r["logits"].get("declared_layers")
        if isinstance(d, list) and d:
            return [int(x) for x in d]
    return []


def linkage_items(run: RunFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, list[int]]:
    recs = run.records(KIND)
    items = item_frame(recs, extra=EXTRA)
    norms, lens = layer_arrays(recs, "norm_by_layer"), layer_arrays(recs, "lens_entropy_by_layer")
    layers = [j for j in declared(recs) if j < norms.shape[1]]
    if len(items) and layers:
        sd = np.nanstd(norms[:, layers], axis=0)
        z = (norms[:, layers] - np.nanmean(norms[:, layers], axis=0)) / np.where(sd > 0, sd, 1)
        items["norm"] = z.mean(axis=1)
        items["lens_entropy"] = lens[:, layers].mean(axis=1)
    elif len(items):
        items["norm"], items["lens_entropy"] = np.nan, np.nan
    return items, norms, lens, layers


def by_layer_table(items: pd.DataFrame, norms: np.ndarray, lens: np.ndarray) -> pd.DataFrame:
    """Partial r of each self-report with the norm and the lens entropy at every layer,
    given the surface features (Fisher-z interval; descriptive)."""
    rows: list[dict[str, Any]] = []
    if len(items) == 0:
        return frame(rows)
    designs: dict[tuple[int, ...], dict[str, list[float]]] = {}  # same rows, same design
    for variable, values in (("norm", norms), ("lens_entropy", lens)):
        for j in range(values.shape[1]):
            d = items.assign(_v=values[:, j], _row=np.arange(len(items)))
            for rep in REPORTS:
                sub = complete(d, [rep.column, "_v"])
                if len(sub) < 5:
                    continue
                key = tuple(sub["_row"].tolist())
                if key not in designs:
                    z = surface_design(sub)
                    designs[key] = {f"s{k}": z[:, k].tolist() for k in range(z.shape[1])}
                cov = designs[key]
                r, lo, hi, n = partial_correlation(
                    sub[rep.column].astype(float), sub["_v"].astype(float), cov
                )
                rows.append(
                    {
                        "report": rep.name,
                        "variable": variable,
                        "layer": j,
                        "partial_r": r,
                        "partial_r_ci_low": lo,
                        "partial_r_ci_high": hi,
                        "partial_r_n": n,
                    }
                )
    return frame(rows)


def tables(run: RunFrame, _upstream: Mapping[str, Tables]) -> Tables:
    with threadpool_limits(limits=1):  # hundreds of small regressions
        return linkage_tables(run)


def linkage_tables(run: RunFrame) -> Tables:
    items, norms, lens, _layers = linkage_items(run)
    if len(items) == 0:
        e = pd.DataFrame()
        return {"items": e, "accuracy": e, "residual_signal": e, "linkage": e, "by_layer": e}
    residual = [
        residual_row(items, s.name, s.column, s.target, "self-report", s.short) for s in SIGNALS
    ] + [
        residual_row(items, v, v, "correct", "hidden state", label)
        for v, label in VARIABLES.items()
    ]
    linkage = [
        partial_r_row(items, rep, v, label) for v, label in VARIABLES.items() for rep in REPORTS
    ]
    return {
        "items": items,
        "accuracy": accuracy_table(items),
        "residual_signal": frame([r for r in residual if r is not None]),
        "linkage": frame([r for r in linkage if r is not None]),
        "by_layer": by_layer_table(items, norms, lens),
    }


# --------------------------------------------------------------------------- sentences


def residual_sentence(row: Mapping[str, Any], accuracy: pd.DataFrame | None) -> str:
    inc = ci_or_none(
        row["incremental_auroc"], row["incremental_auroc_ci_low"], row["incremental_auroc_ci_high"]
    )
    pr = ci_or_none(row["partial_r"], row["partial_r_ci_low"], row["partial_r_ci_high"])
    reading = verdict(
        row["incremental_auroc_ci_low"],
        row["incremental_auroc_ci_high"],
        0.0,
        f"the {row['signal_label']} carries information about correctness beyond {SURFACE_TEXT}",
        "adding the report makes the surface-feature model worse out of fold",
        f"no information about correctness beyond {SURFACE_TEXT} is detectable",
    )
    return (
        f"Across {units(row['incremental_auroc_n'], row['n_families'])}, adding the "
        f"{row['signal_label']} to a surface-feature model of correctness changes its "
        f"out-of-fold AUROC by {inc} (surface alone "
        f"{float(row['surface_auroc']):.2f}, with the report {float(row['surface_plus_auroc']):.2f}); "
        f"partial r with correctness given the surface features {pr}: {reading}."
        + accuracy_note(accuracy)
    )


def linkage_sentence(row: Mapping[str, Any]) -> str:
    pr = ci_or_none(row["partial_r"], row["partial_r_ci_low"], row["partial_r_ci_high"])
    raw = ci_or_none(row["r"], row["r_ci_low"], row["r_ci_high"])
    reading = verdict(
        row["partial_r_ci_low"],
        row["partial_r_ci_high"],
        0.0,
        f"the {row['report_label']} rises with the {row['variable_label']} beyond what the "
        "surface features predict",
        f"the {row['report_label']} falls as the {row['variable_label']} rises, beyond what "
        "the surface features predict",
        f"no link between the {row['report_label']} and the {row['variable_label']} is "
        "detectable once the surface features are controlled",
    )
    return (
        f"Across {units(row['partial_r_n'], row['n_families'])}, partial r between the "
        f"{row['report_label']} and the {row['variable_label']} given {SURFACE_TEXT} is "
        f"{pr} (raw r {raw}): {reading}."
    )


def headlines(t: Tables, _upstream: Mapping[str, Tables]) -> list[Headline]:
    res = t["residual_signal"]
    if len(res) == 0:
        return []
    return [
        headline_from_row(
            f"residual signal of the {row['signal_label']} (incremental AUROC)",
            row,
            "incremental_auroc",
            residual_sentence(row, t["accuracy"]),
            unit="items",
            kind="shift",
        )
        for _, row in res[res["kind"] == "self-report"].iterrows()
    ]


def scorecard(inputs: ScoreInputs) -> list[Headline]:
    t = inputs.tables
    res, link = t["residual_signal"], t["linkage"]
    lines: list[Headline] = []
    if len(res) == 0:
        lines.append(
            not_run(RESIDUAL_STEP, "residual signal", "no hidden_state_linkage trials in this run.")
        )
    else:
        for rep in REPORTS:
            sub = res[(res["signal"] == rep.name) & (res["kind"] == "self-report")]
            if len(sub) == 0:
                lines.append(not_run(RESIDUAL_STEP, f"residual signal: {rep.label}", "no items."))
                continue
            lines.append(
                headline_from_row(
                    f"residual signal: {rep.label} (incremental AUROC beyond surface features)",
                    sub.iloc[0],
                    "incremental_auroc",
                    residual_sentence(sub.iloc[0], t["accuracy"]),
                    unit="items",
                    kind="shift",
                    step=RESIDUAL_STEP,
                )
            )
    if len(link) == 0:
        lines.append(
            not_run(LINKAGE_STEP, "hidden-state linkage", "no hidden_state_linkage trials.")
        )
        return lines
    for _, row in link.iterrows():
        lines.append(
            headline_from_row(
                f"{row['report_label']} ~ {row['variable']} (partial r)",
                row,
                "partial_r",
                linkage_sentence(row),
                unit="items",
                kind="correlation",
                step=LINKAGE_STEP,
            )
        )
    return lines
