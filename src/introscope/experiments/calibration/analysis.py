"""Calibration tables, headline rows and scorecard step 101.

Every table comes from the run's ``calibration`` trials (one per item, no lead): the
per-item frame, accuracy per family against chance, and per self-report (option-logprob
confidence, P(True) on the sampled answer, verbal confidence, P(I know)) AUROC for
correctness, ECE with fixed and adaptive bins, Brier and AURC, each with an interval
clustered by item family; and the reliability-diagram bins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from introscope.experiments.base import ScoreInputs
from introscope.experiments.selfreport.frame import SIGNAL_BY_NAME, SIGNALS, item_frame
from introscope.experiments.selfreport.signals import accuracy_table, calibration_table, complete
from introscope.experiments.selfreport.wording import accuracy_note, units, verdict
from introscope.headlines import Headline, ci_or_none, headline_from_row, not_run
from introscope.stats.calibration import bin_edges, bin_index
from introscope.tables import RunFrame, Tables, frame, put_rate

KIND = "calibration"
STEP = 101
N_BINS = 10


def reliability_table(items: pd.DataFrame) -> pd.DataFrame:
    """Per signal and equal-width confidence bin: mean confidence and accuracy (Wilson)."""
    rows = []
    for sig in SIGNALS:
        d = complete(items, [sig.column, sig.target]) if len(items) else items
        if len(d) == 0:
            continue
        conf = d[sig.column].astype(float).to_numpy()
        y = d[sig.target].astype(float).to_numpy()
        idx = bin_index(conf, bin_edges(conf, N_BINS, adaptive=False))
        for b in sorted(set(idx.tolist())):
            m = idx == b
            out: dict[str, Any] = {
                "signal": sig.name,
                "bin": b,
                "mean_confidence": float(conf[m].mean()),
            }
            put_rate(out, "accuracy", (bool(t) for t in y[m]))
            rows.append(out)
    return frame(rows)


def tables(run: RunFrame, _upstream: Mapping[str, Tables]) -> Tables:
    items = item_frame(run.records(KIND))
    if len(items) == 0:
        empty = pd.DataFrame()
        return {"items": empty, "accuracy": empty, "calibration": empty, "reliability": empty}
    return {
        "items": items,
        "accuracy": accuracy_table(items),
        "calibration": calibration_table(items),
        "reliability": reliability_table(items),
    }


def signal_sentence(row: Mapping[str, Any], accuracy: pd.DataFrame | None) -> str:
    auroc = ci_or_none(row["auroc"], row["auroc_ci_low"], row["auroc_ci_high"], signed=False)
    reading = verdict(
        row["auroc_ci_low"],
        row["auroc_ci_high"],
        0.5,
        "the signal carries information about whether the answer is correct",
        "the signal ranks wrong answers above right ones",
        "no detectable information about correctness (the interval covers 0.5)",
    )
    return (
        f"Across {units(row['auroc_n'], row['n_families'])}, the {row['label']} separates "
        f"correct from incorrect answers with AUROC {auroc}: {reading}. "
        f"ECE {ci_or_none(row['ece'], row['ece_ci_low'], row['ece_ci_high'], signed=False)} "
        f"(adaptive bins {ci_or_none(row['ece_adaptive'], row['ece_adaptive_ci_low'], row['ece_adaptive_ci_high'], signed=False)}), "
        f"Brier {ci_or_none(row['brier'], row['brier_ci_low'], row['brier_ci_high'], signed=False)}, "
        f"AURC {ci_or_none(row['aurc'], row['aurc_ci_low'], row['aurc_ci_high'], signed=False)} "
        f"against {float(row['aurc_no_information']):.2f} for a signal without information; "
        f"mean confidence {float(row['mean_confidence']):.2f}." + accuracy_note(accuracy)
    )


def headlines(t: Tables, _upstream: Mapping[str, Tables]) -> list[Headline]:
    cal = t["calibration"]
    return [
        headline_from_row(
            f"calibration: AUROC of the {row['label']}",
            row,
            "auroc",
            signal_sentence(row, t["accuracy"]),
            unit="items",
            kind="probability",
            null=0.5,
        )
        for _, row in cal.iterrows()
    ]


def scorecard(inputs: ScoreInputs) -> list[Headline]:
    cal = inputs.tables["calibration"]
    name = "calibration (AUROC / ECE)"
    if len(cal) == 0:
        return [not_run(STEP, name, "no calibration trials in this run.")]
    lines = []
    for sig in SIGNALS:
        sub = cal[cal["signal"] == sig.name]
        if len(sub) == 0:
            lines.append(not_run(STEP, f"{name}: {sig.label}", "no item has this signal."))
            continue
        row = sub.iloc[0]
        lines.append(
            headline_from_row(
                f"{name}: {SIGNAL_BY_NAME[sig.name].label}",
                row,
                "auroc",
                signal_sentence(row, inputs.tables["accuracy"]),
                unit="items",
                kind="probability",
                step=STEP,
                null=0.5,
            )
        )
    return lines
