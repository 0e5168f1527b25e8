"""Tables for reading: every (estimate, ci_low, ci_high, n) column family collapsed to one
string column, numbers in one format per kind (:mod:`introscope.render.numbers`)."""

from __future__ import annotations

import math

import pandas as pd

from introscope.render.numbers import fmt_plain
from introscope.tables import is_nan, to_float

SIGNED_MARKERS = ("shift", "delta", "vs_", "net_", "corrected", "gap", "coef")


def families(columns: list[str]) -> list[str]:
    """Columns that have ``_ci_low`` and ``_ci_high`` companions."""
    return [c for c in columns if f"{c}_ci_low" in columns and f"{c}_ci_high" in columns]


def decimals(col: str) -> int:
    return 3 if "cos" in col else 2


def format_table(table: pd.DataFrame | None) -> pd.DataFrame:
    """The table with every family collapsed: rates as ``0.20 [0.11, 0.33] (n=50)``,
    differences (families with ``_n_ref``, or named like one) as ``+0.50 [+0.33, +0.63]
    (n=50 vs 50)``, cosines to three decimals and everything else to two; an undefined
    interval reads ``(no interval)``."""
    if table is None or len(table) == 0:
        return pd.DataFrame()
    cols = [str(c) for c in table.columns]
    fams = families(cols)
    consumed = {f"{f}_{s}" for f in fams for s in ("ci_low", "ci_high", "n", "n_ref")}
    out: dict[str, list[str]] = {}
    for col in cols:
        if col in consumed:
            continue
        if col not in fams:
            out[col] = [fmt_plain(v, col) for v in table[col]]
            continue
        signed = f"{col}_n_ref" in cols or any(k in col for k in SIGNED_MARKERS)
        fmt = ("{:+." if signed else "{:.") + f"{decimals(col)}f}}"
        cells = []
        for i in range(len(table)):
            e = to_float(table[col].iloc[i])
            lo = to_float(table[f"{col}_ci_low"].iloc[i])
            hi = to_float(table[f"{col}_ci_high"].iloc[i])
            n = table[f"{col}_n"].iloc[i] if f"{col}_n" in cols else None
            if math.isnan(e):
                cells.append("-" if n is None or is_nan(n) or int(n) == 0 else f"n/a (n={int(n)})")
                continue
            text = fmt.format(e)
            text += (
                " (no interval)"
                if math.isnan(lo) or math.isnan(hi)
                else f" [{fmt.format(lo)}, {fmt.format(hi)}]"
            )
            if n is not None and not is_nan(n):
                n_s = str(int(n))
                ref = table[f"{col}_n_ref"].iloc[i] if f"{col}_n_ref" in cols else None
                if ref is not None and not is_nan(ref):
                    n_s += f" vs {int(ref)}"
                text += f" (n={n_s})"
            cells.append(text)
        out[col] = cells
    return pd.DataFrame(out)


def drop_empty(table: pd.DataFrame) -> pd.DataFrame:
    """Columns that are NaN on every row removed (e.g. the other row type's columns)."""
    return table.dropna(axis=1, how="all").reset_index(drop=True)
