"""Dose-response rows shared by the slices that sweep injection strength (category
thresholds, detection): an EC50 with a concept-bootstrap interval
(:func:`introscope.stats.dose.dose_response`), and strengths expressed as the injection's
size relative to the residual stream it is added to.

A strength ``s`` multiplies a vector ``v``; what the layer sees is ``s * |v|`` against the
norm ``|h|`` of the unperturbed residual stream at the injected positions, which differs
between layers and models by an order of magnitude. ``s * |v| / |h|`` (``relative``) makes
strengths and EC50s comparable across them. ``|v|`` is the injection's recorded
``vector_norm``; ``|h|`` is measured by the solver on the trial prompt without injection and
stored in the no-injection trial's readout as ``resid_norm`` ({layer: mean norm over the
injection window's prompt tokens}); runs made before it was recorded leave the relative
columns empty.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from introscope.stats.dose import dose_response
from introscope.tables import NAN, Record, as_dict, number

#: The readout key of the measured residual norms.
RESID_KEY = "resid_norm"
#: Bootstrap resamples of concepts for every EC50 interval (seeded: reports are reproducible).
N_BOOT = 1000

DOSE_COLUMNS = [
    "ec50",
    "ec50_ci_low",
    "ec50_ci_high",
    "ec50_n",
    "emax",
    "emax_ci_low",
    "emax_ci_high",
    "emax_n",
    "hill",
    "strength_min",
    "strength_max",
    "ec50_in_range",
    "vector_norm",
    "resid_norm",
    "relative_ec50",
    "relative_ec50_ci_low",
    "relative_ec50_ci_high",
]


def residual_norms(recs: Iterable[Record]) -> dict[int, float]:
    """Layer -> the residual norm the run measured there (mean over the trials that carry
    it; every such trial ran the same prompt)."""
    seen: dict[int, list[float]] = {}
    for r in recs:
        for k, v in as_dict(r["logits"].get(RESID_KEY)).items():
            f = number(v)
            if f is not None and str(k).lstrip("-").isdigit():
                seen.setdefault(int(k), []).append(f)
    return {layer: float(np.mean(v)) for layer, v in seen.items()}


def injected_norm(rec: Mapping[str, Any]) -> float | None:
    """The recorded norm of the trial's injected vector (None without an injection)."""
    return number(as_dict(rec.get("injection")).get("vector_norm"))


def relative(value: float, vector_norm: float | None, resid_norm: float | None) -> float:
    """``value * vector_norm / resid_norm`` (NaN when a norm is missing)."""
    if vector_norm is None or resid_norm is None or resid_norm <= 0:
        return NAN
    return value * vector_norm / resid_norm


def mean_or_none(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def put_dose(
    out: dict[str, Any],
    strengths: Sequence[float],
    effects: Sequence[float],
    concepts: Sequence[Hashable],
    *,
    vector_norm: float | None,
    resid_norm: float | None,
    n_boot: int = N_BOOT,
) -> None:
    """The :data:`DOSE_COLUMNS` of one curve: EC50 and Emax with concept-bootstrap CIs
    (``_n`` = concepts), the hill slope per doubling, the tested range, whether the EC50
    lies inside it, and the EC50 relative to the residual stream (``vector_norm``: the mean
    norm of the injected vectors, ``resid_norm``: the residual norm at the layer)."""
    d = dose_response(strengths, effects, concepts, n_boot=n_boot, seed=0)
    out.update(
        ec50=d.ec50,
        ec50_ci_low=d.ec50_low,
        ec50_ci_high=d.ec50_high,
        ec50_n=d.n_clusters,
        emax=d.emax,
        emax_ci_low=d.emax_low,
        emax_ci_high=d.emax_high,
        emax_n=d.n_clusters,
        hill=d.hill,
        strength_min=d.strength_min,
        strength_max=d.strength_max,
        ec50_in_range=None if np.isnan(d.ec50) else d.in_range,
        vector_norm=NAN if vector_norm is None else vector_norm,
        resid_norm=NAN if resid_norm is None else resid_norm,
        relative_ec50=relative(d.ec50, vector_norm, resid_norm),
        relative_ec50_ci_low=relative(d.ec50_low, vector_norm, resid_norm),
        relative_ec50_ci_high=relative(d.ec50_high, vector_norm, resid_norm),
    )
