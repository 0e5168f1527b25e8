"""Steering-check tables: the positive control per layer x strength, and the functional effect
size (KL) of every control.

The concept is the unit: each concept contributes one value per (layer, strength, control)
(the mean of its trials there), and every interval is a t interval over concepts.

* ``steering_check`` -- per layer x strength: ``concept_lift`` and ``random_lift`` (the
  concept word's log-probability under the injection minus without it, nats) and
  ``concept_minus_random``, the paired per-concept difference (concept vector minus random
  vector), with ``verdict`` "passes" (interval above 0), "fails" (an interval that does not
  lie above 0) or "undetermined" (no interval).
* ``kl`` -- per layer x strength x control: ``kl`` (KL of the injected next-token
  distribution from the no-injection one on the neutral prompt, nats; mean over concepts),
  ``lift``, and ``kl_ratio``: the control's KL over the concept vector's, paired per concept
  (geometric mean, t interval on the log ratio), read by ``kl_match`` against the factor
  :data:`KL_MATCH_FACTOR` declared here in advance.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from introscope.experiments.grid import CONTROL_DESCRIPTIONS, INJECTED_CONTROLS
from introscope.headlines import Headline, cfg_text, ci_text, headline_from_row, post_hoc
from introscope.stats import paired_mean_ci
from introscope.tables import (
    CONTROL_ORDER,
    NAN,
    Record,
    RunFrame,
    Tables,
    as_layer,
    as_strength,
    best_row,
    cond,
    frame,
    number,
    put_diff,
    put_mean,
    sort_key,
    to_float,
)

KIND = "steering_check"
#: A control's functional effect is "comparable" to the concept vector's when the interval of
#: its KL ratio lies within [1/F, F] (declared before any run, not tuned).
KL_MATCH_FACTOR = 2.0

PerConcept = dict[tuple[Any, Any], dict[str, dict[str, dict[str, float]]]]


def per_concept(recs: list[Record]) -> PerConcept:
    """(layer, strength) -> control -> concept -> {measure: mean over the concept's trials}:
    ``lift`` (concept word log-prob under injection minus without) and ``kl``."""
    acc: dict[tuple[Any, Any], dict[str, dict[str, dict[str, list[float]]]]] = {}
    for r in recs:
        concept, control = cond(r, "concept"), cond(r, "control")
        key = (as_layer(cond(r, "layer")), as_strength(cond(r, "strength")))
        lp = number(r["logits"].get("concept_logprob"))
        clean = number(r["logits"].get("concept_logprob_clean"))
        kl = number(r["logits"].get("kl"))
        cell = acc.setdefault(key, {}).setdefault(control, {}).setdefault(concept, {})
        if lp is not None and clean is not None:
            cell.setdefault("lift", []).append(lp - clean)
        if kl is not None:
            cell.setdefault("kl", []).append(kl)
    return {
        key: {
            control: {
                concept: {m: float(np.mean(v)) for m, v in vals.items() if v}
                for concept, vals in concepts.items()
            }
            for control, concepts in controls.items()
        }
        for key, controls in acc.items()
    }


def verdict(low: Any) -> str:
    """'passes' when the interval lies above 0, 'fails' when it does not, 'undetermined'
    without an interval."""
    v = to_float(low)
    if math.isnan(v):
        return "undetermined"
    return "passes" if v > 0 else "fails"


def paired(
    a: Mapping[str, dict[str, float]], b: Mapping[str, dict[str, float]], m: str
) -> list[float]:
    """Per-concept differences ``a - b`` of measure ``m`` over the concepts both have."""
    return [a[c][m] - b[c][m] for c in a if c in b and m in a[c] and m in b[c]]


def steering_table(run: RunFrame) -> pd.DataFrame:
    """The positive control per layer x strength (see the module docstring)."""
    data = per_concept(run.records(KIND))
    rows = []
    for (layer, strength), controls in sorted(
        data.items(), key=lambda kv: (sort_key(kv[0][0]), sort_key(kv[0][1]))
    ):
        concept, rand = controls.get("concept", {}), controls.get("random", {})
        out: dict[str, Any] = {"layer": layer, "strength": strength}
        put_mean(out, "concept_lift", (v.get("lift") for v in concept.values()))
        put_mean(out, "random_lift", (v.get("lift") for v in rand.values()))
        put_diff(out, "concept_minus_random", paired_mean_ci(paired(concept, rand, "lift")))
        out["verdict"] = verdict(out["concept_minus_random_ci_low"])
        rows.append(out)
    return frame(rows)


def kl_match(low: Any, high: Any) -> str:
    """How a control's KL ratio interval compares with the concept vector's KL:
    'comparable' (within a factor :data:`KL_MATCH_FACTOR` either way), 'weaker' / 'stronger'
    (the whole interval below / above 1, outside that band), 'not shown comparable' (an
    interval reaching outside the band on both sides or straddling 1 beyond it) or
    'undetermined' (no interval)."""
    lo, hi = to_float(low), to_float(high)
    if math.isnan(lo) or math.isnan(hi):
        return "undetermined"
    if lo >= 1 / KL_MATCH_FACTOR and hi <= KL_MATCH_FACTOR:
        return "comparable"
    if hi < 1:
        return "weaker"
    if lo > 1:
        return "stronger"
    return "not shown comparable"


def put_ratio(out: dict[str, Any], name: str, log_ratios: list[float]) -> None:
    """The geometric-mean ratio with the t interval of the mean log ratio, exponentiated."""
    d = paired_mean_ci(log_ratios)
    out[name] = math.exp(d.estimate) if not math.isnan(d.estimate) else NAN
    out[f"{name}_ci_low"] = math.exp(d.low) if not math.isnan(d.low) else NAN
    out[f"{name}_ci_high"] = math.exp(d.high) if not math.isnan(d.high) else NAN
    out[f"{name}_n"] = d.n_a


def kl_table(run: RunFrame) -> pd.DataFrame:
    """Every control's functional effect per layer x strength (see the module docstring).
    Concepts with a KL of 0 under either vector have no ratio and are left out of it
    (``kl_ratio_n`` counts the rest)."""
    data = per_concept(run.records(KIND))
    rows = []
    for (layer, strength), controls in sorted(
        data.items(), key=lambda kv: (sort_key(kv[0][0]), sort_key(kv[0][1]))
    ):
        ref = controls.get("concept", {})
        for control in sorted(controls, key=lambda c: sort_key(c, CONTROL_ORDER)):
            vals = controls[control]
            out: dict[str, Any] = {"layer": layer, "strength": strength, "control": control}
            put_mean(out, "kl", (v.get("kl") for v in vals.values()))
            put_mean(out, "lift", (v.get("lift") for v in vals.values()))
            if control == "concept":
                put_ratio(out, "kl_ratio", [])
                out["kl_match"] = "reference"
            else:
                logs = [
                    math.log(vals[c]["kl"] / ref[c]["kl"])
                    for c in vals
                    if c in ref and vals[c].get("kl", 0.0) > 0 and ref[c].get("kl", 0.0) > 0
                ]
                put_ratio(out, "kl_ratio", logs)
                out["kl_match"] = kl_match(out["kl_ratio_ci_low"], out["kl_ratio_ci_high"])
            rows.append(out)
    return frame(rows)


def tables(run: RunFrame, _upstream: Mapping[str, Tables]) -> Tables:
    return {"steering_check": steering_table(run), "kl": kl_table(run)}


# --------------------------------------------------------------------------- headlines


def headlines(t: Tables, _upstream: Mapping[str, Tables]) -> list[Headline]:
    """How many configurations pass the positive control and the largest concept - random
    difference (selected after the fact), then, per control, at how many configurations its
    KL is comparable to the concept vector's."""
    table, kl = t["steering_check"], t["kl"]
    if len(table) == 0:
        return []
    n = len(table)
    k = int((table["verdict"] == "passes").sum())
    lines = [
        Headline(
            "steering check: configurations passing",
            k / n,
            NAN,
            NAN,
            n,
            f"On a neutral prompt the concept vector raises its word's log-probability more "
            f"than a norm-matched random vector (t interval over concepts above 0) at {k} of "
            f"{n} layer x strength configurations.",
            unit="configurations",
            kind="rate",
        )
    ]
    row, m = best_row(table, "concept_minus_random")
    if row is not None:
        lines.append(
            headline_from_row(
                "steering check: largest concept − random difference",
                row,
                "concept_minus_random",
                f"At {cfg_text(row['layer'], row['strength'])}{post_hoc(m)}, the concept "
                "vector changes its word's log-probability by "
                f"{ci_text(row['concept_minus_random'], row['concept_minus_random_ci_low'], row['concept_minus_random_ci_high'])} "
                "nats more than a random vector (paired per concept).",
                unit="concepts",
            )
        )
    for control in [c for c in INJECTED_CONTROLS if c != "concept"]:
        rows = kl[(kl["control"] == control) & kl["kl_ratio_n"].gt(0)] if len(kl) else kl
        if len(rows) == 0:
            continue
        c = int((rows["kl_match"] == "comparable").sum())
        lines.append(
            Headline(
                f"KL comparable to the concept vector's ({control})",
                c / len(rows),
                NAN,
                NAN,
                len(rows),
                f"{CONTROL_DESCRIPTIONS[control].capitalize()}: its KL on the neutral prompt "
                f"is within a factor of {KL_MATCH_FACTOR:g} of the concept vector's (paired "
                f"per concept, whole interval) at {c} of {len(rows)} configurations; median "
                f"ratio {float(rows['kl_ratio'].median()):.2f}.",
                unit="configurations",
                kind="rate",
            )
        )
    return lines
