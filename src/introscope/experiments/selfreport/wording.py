"""Sentences the suite's scorecard lines share (torch-free): how many items and families a
number rests on, whether accuracy was above chance, and interval verdicts."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from introscope.headlines import pct
from introscope.render.numbers import fmt_estimate
from introscope.tables import to_float


def units(n_items: Any, n_families: Any) -> str:
    return f"{int(to_float(n_items))} items in {int(to_float(n_families))} families"


def accuracy_note(accuracy: pd.DataFrame | None) -> str:
    """Whether the answers were above chance (the "all" row of an accuracy table), and
    which families lie between chance and ceiling."""
    if accuracy is None or len(accuracy) == 0:
        return ""
    allrow = accuracy[accuracy["family"] == "all"]
    if len(allrow) == 0:
        return ""
    a = allrow.iloc[0]
    fams = accuracy[accuracy["family"] != "all"]
    between = fams[fams["above_chance"] & ~fams["at_ceiling"]]["family"].tolist()
    acc = fmt_estimate(a["accuracy"], a["accuracy_ci_low"], a["accuracy_ci_high"], "rate")
    if not bool(a["above_chance"]):
        return (
            f" Accuracy is {acc} against a chance level of {pct(a['chance'])}: the answers "
            "are at chance, so correctness carries little to read and these numbers license "
            "nothing about it."
        )
    where = f" (between chance and ceiling in {', '.join(between)})" if between else ""
    return f" Accuracy is {acc} against a chance level of {pct(a['chance'])}{where}."


def verdict(low: Any, high: Any, null: float, above: str, below: str, none: str) -> str:
    """``above`` when the interval lies above ``null``, ``below`` when below, ``none`` when it
    covers it; "undetermined" when the interval is undefined."""
    lo, hi = to_float(low), to_float(high)
    if math.isnan(lo) or math.isnan(hi):
        return "the interval is undetermined (too few items or families), so no verdict"
    if lo > null:
        return above
    if hi < null:
        return below
    return none
