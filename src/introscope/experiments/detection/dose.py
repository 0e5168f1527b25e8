"""Detection against injection strength: one dose-response curve per measure, layer and
contrast, instead of reading the strength at which a rate first passes.

Contrasts, each a per-concept effect at every strength:

* ``concept - none``, ``random - none``, ``negated - none``: the outcome under that vector
  minus the no-injection trials' mean outcome (the curve of each condition);
* ``concept - random``: the concept vector's outcome minus its norm-matched random vector's,
  at the same strength (the content-specific curve).

The outcome is the claim of detection (coherent and affirmative) on generation trials and
P(yes) on logit trials, per concept averaged over repeats. Curves are the logistic in
log2(strength) of :mod:`introscope.stats.dose`, with concept-bootstrap intervals; strengths
are also expressed relative to the residual stream (:mod:`introscope.experiments.dose`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from introscope.experiments.dose import (
    DOSE_COLUMNS,
    injected_norm,
    mean_or_none,
    put_dose,
    residual_norms,
)
from introscope.tables import (
    INJECTED_CONTROLS,
    Record,
    RunFrame,
    as_layer,
    as_strength,
    cond,
    grade_value,
    group,
    number,
    sort_key,
)

KIND = "detection"
COLUMNS = ["measure", "outcome", "layer", "contrast", *DOSE_COLUMNS]
CONTRASTS: tuple[str, ...] = (*(f"{c} - none" for c in INJECTED_CONTROLS), "concept - random")

Outcome = Callable[[Record], float | None]


def claims_detection(r: Record) -> float | None:
    """1.0 for a coherent, affirmative answer (rules grader), 0.0 otherwise, None ungraded."""
    aff = grade_value(r["grades"], "affirmative")
    coh = grade_value(r["grades"], "coherent")
    if aff is None or coh is None:
        return None
    return float(aff and coh)


def p_yes(r: Record) -> float | None:
    return number(r["logits"].get("p_yes"))


OUTCOMES: dict[str, tuple[str, Outcome]] = {
    "generation": ("claims_detection", claims_detection),
    "logits": ("p_yes", p_yes),
}


def concept_means(trials: Sequence[Record], outcome: Outcome) -> dict[tuple[str, float], float]:
    """(concept, strength) -> the concept's mean outcome there (over repeats)."""
    out: dict[tuple[str, float], float] = {}
    cells = group(trials, lambda r: (cond(r, "concept"), as_strength(cond(r, "strength"))))
    for (concept, strength), rs in cells.items():
        vals = [v for v in (outcome(r) for r in rs) if v is not None]
        if concept is not None and strength is not None and vals:
            out[(str(concept), strength)] = float(np.mean(vals))
    return out


def dose_response_table(run: RunFrame) -> pd.DataFrame:
    """One row per measure x layer x contrast (:data:`CONTRASTS`, those the run has data
    for): the dose-response columns of :func:`introscope.experiments.dose.put_dose`."""
    rows: list[dict[str, Any]] = []
    for measure, (outcome_name, outcome) in OUTCOMES.items():
        recs = run.records(KIND, measure)
        none = [r for r in recs if cond(r, "control") == "none"]
        base = mean_or_none(outcome(r) for r in none)
        resid = residual_norms(recs)
        injected = group(
            [r for r in recs if cond(r, "control") in INJECTED_CONTROLS],
            lambda r: (as_layer(cond(r, "layer")), cond(r, "control")),
        )
        layers = sorted({k[0] for k in injected if k[0] is not None}, key=sort_key)
        for layer in layers:
            means = {
                c: concept_means(injected.get((layer, c), []), outcome) for c in INJECTED_CONTROLS
            }
            norms = [injected_norm(r) for r in injected.get((layer, "concept"), [])]
            for contrast in CONTRASTS:
                points = contrast_points(contrast, means, base)
                if not points:
                    continue
                out: dict[str, Any] = {
                    "measure": measure,
                    "outcome": outcome_name,
                    "layer": layer,
                    "contrast": contrast,
                }
                put_dose(
                    out,
                    [s for _, s, _ in points],
                    [y for _, _, y in points],
                    [c for c, _, _ in points],
                    vector_norm=mean_or_none(norms),
                    resid_norm=resid.get(layer),
                )
                rows.append(out)
    return pd.DataFrame(rows, columns=COLUMNS)


def contrast_points(
    contrast: str, means: dict[str, dict[tuple[str, float], float]], base: float | None
) -> list[tuple[str, float, float]]:
    """(concept, strength, effect) points of one contrast."""
    if contrast == "concept - random":
        c, r = means["concept"], means["random"]
        return [(k[0], k[1], c[k] - r[k]) for k in c if k in r]
    if base is None:
        return []
    arm = means[contrast.removesuffix(" - none")]
    return [(k[0], k[1], v - base) for k, v in arm.items()]
