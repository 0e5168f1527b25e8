"""The suite's trials as one row per (item, condition), and the surface-feature design
(torch-free).

Every item trial's readout holds the probe's answer and self-reports (:mod:`.probe`) and
the item's surface features; :func:`item_frame` flattens them with the condition (item,
family, lead ...) into a DataFrame whose columns the slices' statistics read.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from introscope.items import SURFACE_FEATURES
from introscope.tables import Record, clean, number

#: Readout scalars every item trial carries.
READOUT_KEYS: tuple[str, ...] = (
    "answer",
    "correct",
    "conf_option",
    "entropy",
    "option_entropy",
    "sampled_answer",
    "sampled_correct",
    "p_true",
    "verbal",
    "p_ik",
    "n_options",
    "difficulty",
    "suggestion",
    "followed_suggestion",
)


@dataclass(frozen=True)
class Signal:
    """A self-report and the correctness it is graded against."""

    name: str
    column: str
    target: str  # "correct" (the greedy answer) or "sampled_correct"
    label: str
    short: str


SIGNALS: tuple[Signal, ...] = (
    Signal("option", "conf_option", "correct", "option-logprob confidence", "option confidence"),
    Signal("p_true", "p_true", "sampled_correct", "P(True) on its own sampled answer", "P(True)"),
    Signal("verbal", "verbal", "correct", "verbal 0-100 confidence", "verbal confidence"),
    Signal("p_ik", "p_ik", "correct", "P(I know), asked before answering", "P(I know)"),
)
SIGNAL_BY_NAME: dict[str, Signal] = {s.name: s for s in SIGNALS}

#: The self-reports whose link to hidden-state variables is tested (not the option
#: probability, which is itself a readout of the answer distribution).
REPORTS: tuple[Signal, ...] = tuple(s for s in SIGNALS if s.name != "option")


def _value(v: Any) -> Any:
    if isinstance(v, bool | np.bool_):
        return bool(v)
    n = number(v)
    return n if n is not None else clean(v)


def item_frame(
    records: Iterable[Record], extra: Iterable[str] = (), condition_keys: Iterable[str] = ()
) -> pd.DataFrame:
    """One row per trial: ``item``, ``family``, the ``condition_keys``, every readout key
    (missing -> None), the ``extra`` readout keys and ``surface_<feature>`` columns."""
    keys = (*READOUT_KEYS, *extra)
    rows = []
    for r in records:
        c, lo = r["condition"], r["logits"]
        row: dict[str, Any] = {"item": c.get("item"), "family": c.get("family")}
        for k in condition_keys:
            row[k] = clean(c.get(k))
        for k in keys:
            row[k] = _value(lo.get(k))
        surface = lo.get("surface") if isinstance(lo.get("surface"), Mapping) else {}
        for f in SURFACE_FEATURES:
            row[f"surface_{f}"] = number(surface.get(f))
        rows.append(row)
    return pd.DataFrame(rows)


def surface_design(df: pd.DataFrame, with_family: bool = True) -> np.ndarray:
    """The surface-feature model's design ``[n, k]``: log question length, digit count,
    option count, total option length, and (``with_family``) one dummy per family but the
    first. Missing values are filled with the column mean."""
    cols = [
        np.log1p(df["surface_question_chars"].astype(float).to_numpy()),
        df["surface_digit_count"].astype(float).to_numpy(),
        df["surface_option_count"].astype(float).to_numpy(),
        np.log1p(df["surface_option_chars"].astype(float).to_numpy()),
    ]
    x = np.column_stack(cols) if len(df) else np.zeros((0, len(cols)))
    if with_family and len(df):
        fams, codes = np.unique(df["family"].astype(str).to_numpy(), return_inverse=True)
        if len(fams) > 1:  # one dummy per family but the first (sorted)
            x = np.column_stack([x, np.eye(len(fams))[codes.ravel()][:, 1:]])
    means = np.nanmean(np.where(np.isfinite(x), x, np.nan), axis=0) if len(x) else []
    for j in range(x.shape[1]):
        bad = ~np.isfinite(x[:, j])
        x[bad, j] = 0.0 if math.isnan(means[j]) else means[j]
    return x


SURFACE_TEXT = "question length, digits, option count and length, and item family"
