"""One number format per kind of quantity, used by the scorecard, the summary and the tables.

Rates are percentages ("42%"), differences of rates percentage points ("+12 pp"),
probabilities, shifts, log-odds, bits, correlations and coefficients two decimals, cosines
three. An interval that could not be computed reads "no interval", never a pair of NaNs.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from introscope.headlines import ValueKind
from introscope.tables import to_float

SIGNED: frozenset[str] = frozenset(
    {"rate_difference", "shift", "logodds", "correlation", "cosine", "coefficient"}
)


def fmt_value(x: Any, kind: ValueKind) -> str:
    """``x`` printed as a ``kind``; 'n/a' when it is not a number."""
    v = to_float(x)
    if math.isnan(v):
        return "n/a"
    if kind == "rate":
        return f"{100 * v:.0f}%"
    if kind == "rate_difference":
        return f"{100 * v:+.0f} pp"
    if kind == "strength":
        return f"{v:g}"
    dec = 3 if kind == "cosine" else 2
    sign = "+" if kind in SIGNED else ""
    return f"{v:{sign}.{dec}f}"


def fmt_estimate(est: Any, lo: Any, hi: Any, kind: ValueKind) -> str:
    """``42% [30%, 55%]``, ``+0.12 [+0.03, +0.21]``; ``+0.12 (no interval)`` when the interval
    is undefined; 'n/a' without an estimate."""
    e = fmt_value(est, kind)
    if e == "n/a":
        return e
    a, b = to_float(lo), to_float(hi)
    if math.isnan(a) or math.isnan(b):
        return f"{e} (no interval)"
    if kind == "rate_difference":  # "+12 pp [+3, +21]": the unit once
        return f"{e} [{100 * a:+.0f}, {100 * b:+.0f}]"
    return f"{e} [{fmt_value(a, kind)}, {fmt_value(b, kind)}]"


def fmt_plain(value: Any, name: str = "") -> str:
    """A table cell that is not an estimate: integers as integers, p-values to three
    decimals, cosines to three, every other number to two; missing as '-'."""
    if value is None or isinstance(value, bool):
        return "-" if value is None else str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) or hasattr(value, "dtype"):
        v = to_float(value)
        if math.isnan(v):
            return "-"
        if v.is_integer() and not name.endswith(("p_value", "bits")):
            return str(int(v))
        if name.endswith("p_value"):
            return "<0.001" if v < 0.001 else f"{v:.3f}"
        return f"{v:.3f}" if "cos" in name else f"{v:.2f}"
    try:
        if pd.isna(value):
            return "-"
    except (TypeError, ValueError):
        pass
    return str(value)
