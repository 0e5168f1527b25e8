"""Multiplicity: Holm's step-down adjustment, for when several configurations are reported as
findings at once.

Written out in numpy rather than called from statsmodels' ``multipletests``: that function
runs ``gc.collect()`` on every Holm call, which costs ~0.5 s in a process holding a model and
is called once per table; the test suite checks both agree to the last bit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from introscope.stats.intervals import NAN


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values (as statsmodels ``multipletests(method="holm")``), in the input
    order. A NaN p-value (an undetermined test) stays NaN and does not count among the
    tests adjusted for: it cannot become a finding either way.

    Holm (1979) controls the family-wise error rate like Bonferroni but is uniformly more
    powerful: the i-th smallest of m p-values is multiplied by (m - i + 1), and the adjusted
    values are made monotone.
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full(len(p), NAN)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = holm_adjust(p[ok])
    return [float(v) for v in out]


def holm_findings(p_values: Sequence[float], alpha: float = 0.05) -> list[bool]:
    """Which tests are findings at family-wise level ``alpha`` after Holm's adjustment."""
    return [not math.isnan(v) and v < alpha for v in holm(p_values)]


def holm_adjust(p: np.ndarray) -> np.ndarray:
    """Holm adjustment of finite p-values: sort ascending, multiply the i-th (0-based) of m
    by m - i, take the running maximum, cap at 1 and put back in the input order."""
    order = np.argsort(p, kind="mergesort")
    m = len(p)
    stepped = np.maximum.accumulate(p[order] * np.arange(m, 0, -1))
    out = np.empty(m)
    out[order] = np.minimum(stepped, 1.0)
    return out
