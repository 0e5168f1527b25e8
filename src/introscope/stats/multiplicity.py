"""Multiplicity: Holm's step-down adjustment (statsmodels), for when several
configurations are reported as findings at once."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from statsmodels.stats.multitest import multipletests

from introscope.stats.intervals import NAN


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values (statsmodels ``multipletests(method="holm")``), in the input
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
        out[ok] = multipletests(p[ok], method="holm")[1]
    return [float(v) for v in out]


def holm_findings(p_values: Sequence[float], alpha: float = 0.05) -> list[bool]:
    """Which tests are findings at family-wise level ``alpha`` after Holm's adjustment."""
    return [not math.isnan(v) and v < alpha for v in holm(p_values)]
