"""Sentence pieces the chain-of-thought slices share (mechanistic wording throughout: "the
final answer is linearly decodable from the activations before the reasoning", never "the
model has already decided")."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from introscope.headlines import Headline, ValueKind, ci_or_none, headline_from_row, not_run
from introscope.render.numbers import fmt_estimate
from introscope.tables import to_float


def verdict(low: Any, high: Any, above: str, below: str, neither: str) -> str:
    """``above`` when the interval lies above 0, ``below`` under it, ``neither`` when it
    covers 0, and "undetermined (no interval)." when it is undefined (every verdict ends its
    sentence)."""
    lo, hi = to_float(low), to_float(high)
    if math.isnan(lo) or math.isnan(hi):
        return "undetermined (no interval)."
    if lo > 0:
        return above
    if hi < 0:
        return below
    return neither


def interval(row: Mapping[str, Any], col: str, signed: bool = False) -> str:
    return ci_or_none(row.get(col), row.get(f"{col}_ci_low"), row.get(f"{col}_ci_high"), signed)


def rate_interval(row: Mapping[str, Any], col: str) -> str:
    """``25% [10%, 40%]`` (``25% (no interval)`` when it is undefined)."""
    return fmt_estimate(row.get(col), row.get(f"{col}_ci_low"), row.get(f"{col}_ci_high"), "rate")


def pp_interval(row: Mapping[str, Any], col: str) -> str:
    """A difference of rates: ``+12 pp [+3, +21]``."""
    return fmt_estimate(
        row.get(col), row.get(f"{col}_ci_low"), row.get(f"{col}_ci_high"), "rate_difference"
    )


def article(word: str) -> str:
    return f"an {word}" if word[:1].lower() in "aeiou" else f"a {word}"


def first_row(table: pd.DataFrame | None) -> pd.Series | None:
    if table is None or len(table) == 0:
        return None
    return table.iloc[0]


def line(
    step: int,
    name: str,
    row: Mapping[str, Any] | None,
    col: str,
    sentence: str,
    *,
    kind: ValueKind,
    unit: str = "items",
    why_missing: str = "",
    config: str = "",
    null: float = 0.0,
) -> Headline:
    """A scorecard line from a row's column family, or a "Not run" line when the row or its
    n is missing."""
    if row is None or not to_float(row.get(f"{col}_n")) > 0:
        return not_run(step, name, why_missing or "the run has no data for this line.")
    if math.isnan(to_float(row.get(col))):
        return not_run(
            step,
            name,
            "the estimate is undefined on these data (a quantity is constant across items, or "
            "no item qualifies).",
            prefix="Not available",
        )
    return headline_from_row(
        name, row, col, sentence, kind=kind, unit=unit, step=step, config=config, null=null
    )


def summary(lines: list[Headline]) -> list[Headline]:
    """Scorecard lines as summary rows (no step, only those with data)."""
    return [
        Headline(
            ln.name,
            ln.estimate,
            ln.ci_low,
            ln.ci_high,
            ln.n,
            ln.sentence,
            ln.unit,
            ln.kind,
            ln.config,
            None,
            True,
            ln.null,
        )
        for ln in lines
        if ln.available
    ]
