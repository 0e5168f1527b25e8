"""Leakage vs introspection in the identification readout (issue 10 defect 3), with
concepts as the unit, and the step-5 scorecard lines.

The logits identification prefills 'Yes, I detect an injected thought. It is about the word
"' while the injection still adds the concept's direction at the answer position, so any
steering vector that raises its word's logit "identifies" it. Each logits trial is therefore
also read in a neutral frame (a word game that never asks about injected thoughts,
:mod:`introscope.experiments.detection.frames`) under the same injection -- same vector,
layer, strength and window semantics, over as many tokens. Identification that is only the
vector pushing its word shows up in both frames; identification that depends on being asked
about an injected thought shows up in the detection frame only.

* :func:`leakage_table`: per variant x layer x strength x control, over the concepts with
  both readouts: ``identification`` (detection frame: the concept ranks first among the
  run's concepts) and ``neutral_identification`` (the same after the word-game prefill), as
  means over concepts of each concept's top-1 rate (t intervals over concepts);
  ``identification_vs_chance`` and ``neutral_vs_chance`` (per concept minus 1/n_candidates,
  t intervals); ``frame_difference`` = detection minus neutral frame, paired per concept
  (t interval over concepts). Rates' bounds are clipped to [0, 1], differences' to [-1, 1].
  A continuous version of the same contrast, in nats: ``logprob_lift`` and
  ``neutral_logprob_lift`` = the concept's first-token log-probability under injection
  minus its log-probability on the variant's no-injection trial in the same frame, and
  ``lift_difference`` = detection minus neutral lift, paired per concept. A vector that only
  pushes its word lifts it alike in both frames. ``n`` columns count concepts.
* :func:`leakage_mi_table`: mutual information (bits) between the injected concept and the
  top candidate, in each frame, per variant x control x layer with strengths pooled (a
  concept needs at least two trials for MI to say anything).

The ``internal`` variant's rows are the internality check: the injection touches only the
acknowledgement turn, so the question and answer positions see it only through attention to
perturbed keys and values; its P(yes) shift is in the ``variants`` table
(:mod:`introscope.experiments.detection.wordings`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from introscope.experiments.base import Selection
from introscope.experiments.detection.content import mi_row
from introscope.experiments.detection.params import VARIANTS
from introscope.experiments.detection.wordings import (
    line_config,
    put_clipped,
    put_paired,
    variant_of,
)
from introscope.headlines import Headline, cfg_text, ci_or_none, headline_from_row, not_run
from introscope.tables import (
    INJECTED_CONTROLS,
    NAN,
    Record,
    RunFrame,
    Tables,
    as_layer,
    as_strength,
    clean,
    cond,
    group,
    number,
    put_mean,
    row_at,
    sort_key,
    to_float,
)

FRAMES = {"detection": "top_candidate", "neutral": "neutral_top_candidate"}


def leakage_trials(run: RunFrame) -> list[Record]:
    """Injected logits trials that carry both the detection-frame and the neutral-frame
    rank (runs made before the neutral readout existed have none)."""
    out = []
    for r in run.records("detection", "logits"):
        if cond(r, "control") not in INJECTED_CONTROLS or not isinstance(cond(r, "concept"), str):
            continue
        lg = r["logits"]
        if number(lg.get("concept_rank")) is None or number(lg.get("neutral_rank")) is None:
            continue
        out.append(r)
    return out


def cell_key(r: Record) -> tuple[Any, ...]:
    return (
        variant_of(r),
        as_layer(cond(r, "layer")),
        as_strength(cond(r, "strength")),
        cond(r, "control"),
    )


def cell_order(key: tuple[Any, ...]) -> tuple[Any, ...]:
    variant, layer, strength, control = key
    return (
        sort_key(variant, VARIANTS),
        sort_key(layer),
        sort_key(strength),
        sort_key(control, INJECTED_CONTROLS),
    )


def by_concept(trials: list[Record], value: Any) -> dict[str, float]:
    """Per concept, the mean of ``value(trial)`` over its trials (None values left out)."""
    per: dict[str, list[float]] = {}
    for t in trials:
        v = value(t)
        if v is not None:
            per.setdefault(str(cond(t, "concept")), []).append(float(v))
    return {c: float(np.mean(v)) for c, v in per.items()}


def top1(field: str) -> Any:
    def value(t: Record) -> float | None:
        rank = number(t["logits"].get(field))
        return None if rank is None else float(rank == 1)

    return value


def baselines(run: RunFrame) -> dict[tuple[str, str], dict[str, float]]:
    """(variant, frame) -> each candidate's mean log-probability on the variant's
    no-injection trials (the baseline of the log-probability lifts)."""
    keys = {"detection": "candidate_logprobs", "neutral": "neutral_candidate_logprobs"}
    sums: dict[tuple[str, str], dict[str, list[float]]] = {}
    for r in run.records("detection", "logits"):
        if cond(r, "control") != "none":
            continue
        for frame, key in keys.items():
            lps = r["logits"].get(key)
            if not isinstance(lps, dict):
                continue
            per = sums.setdefault((variant_of(r), frame), {})
            for c, v in lps.items():
                if number(v) is not None:
                    per.setdefault(c, []).append(float(v))
    return {k: {c: float(np.mean(v)) for c, v in per.items()} for k, per in sums.items()}


def lift(field: str, base: dict[str, float] | None) -> Any:
    """A trial's log-probability of its concept minus the concept's no-injection baseline."""

    def value(t: Record) -> float | None:
        lp = number(t["logits"].get(field))
        ref = None if base is None else base.get(str(cond(t, "concept")))
        return None if lp is None or ref is None else lp - ref

    return value


def leakage_table(run: RunFrame) -> pd.DataFrame:
    """Identification in the detection frame vs the neutral frame (module docstring)."""
    groups = group(leakage_trials(run), cell_key)
    base = baselines(run)
    rows = []
    for key in sorted(groups, key=cell_order):
        variant, layer, strength, control = key
        trials = groups[key]
        det = by_concept(trials, top1("concept_rank"))
        neu = by_concept(trials, top1("neutral_rank"))
        concepts = sorted(det)
        nc = [number(t["logits"].get("n_candidates")) for t in trials]
        chance = float(np.mean([1.0 / n for n in nc if n])) if any(nc) else NAN
        out: dict[str, Any] = {
            "variant": variant,
            "layer": layer,
            "strength": strength,
            "control": control,
            "n_trials": len(trials),
            "n_concepts": len(concepts),
            "chance": chance,
        }
        put_clipped(out, "identification", [det[c] for c in concepts], 0.0, 1.0)
        put_clipped(out, "neutral_identification", [neu[c] for c in concepts], 0.0, 1.0)
        put_paired(out, "identification_vs_chance", [det[c] - chance for c in concepts], 1.0)
        put_paired(out, "neutral_vs_chance", [neu[c] - chance for c in concepts], 1.0)
        put_paired(out, "frame_difference", [det[c] - neu[c] for c in concepts], 1.0)
        d_lift = by_concept(trials, lift("concept_logprob", base.get((variant, "detection"))))
        n_lift = by_concept(trials, lift("neutral_logprob", base.get((variant, "neutral"))))
        both = sorted(set(d_lift) & set(n_lift))
        put_mean(out, "logprob_lift", [d_lift[c] for c in both])
        put_mean(out, "neutral_logprob_lift", [n_lift[c] for c in both])
        put_paired(out, "lift_difference", [d_lift[c] - n_lift[c] for c in both], None)
        rows.append(out)
    return pd.DataFrame(rows)


def leakage_mi_table(
    run: RunFrame, *, n_shuffles: int = 200, n_boot: int = 500, seed: int = 0
) -> pd.DataFrame:
    """MI between injected concept and top candidate in each frame, per variant x control x
    layer with strengths pooled; a group with fewer than two trials per concept gets no row."""
    by_layer = group(leakage_trials(run), lambda r: cell_key(r)[:2] + cell_key(r)[3:])
    rows = []
    for key in sorted(by_layer, key=lambda k: cell_order((k[0], k[1], None, k[2]))):
        variant, layer, control = key
        trials = by_layer[key]
        if len(trials) < 2 * len({cond(t, "concept") for t in trials}):
            continue
        for frame, field in FRAMES.items():
            pairs = [
                (str(cond(t, "concept")), str(t["logits"].get(field)))
                for t in trials
                if isinstance(t["logits"].get(field), str)
            ]
            if len(pairs) < 2:
                continue
            base = {
                "variant": variant,
                "control": control,
                "layer": layer,
                "frame": frame,
                "n_strengths": len({cond(t, "strength") for t in trials}),
            }
            rows.append(mi_row(base, pairs, n_shuffles, n_boot, seed))
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- step 5

LEAKAGE_NAME = "identification minus neutral frame (leakage control)"
INTERNAL_NAME = "identification minus neutral frame (earlier-turn injection)"


def leakage_lines(t: Tables, sel: Selection | None) -> list[Headline]:
    """Step 5: the detection-minus-neutral-frame contrast under the paper's window, and
    under the earlier-turn (internal) window."""
    return [contrast_line(t, sel, "default"), contrast_line(t, sel, "internal")]


def contrast_line(t: Tables, sel: Selection | None, variant: str) -> Headline:
    table = t["leakage"]
    name = LEAKAGE_NAME if variant == "default" else INTERNAL_NAME
    rows = table[table["variant"] == variant] if len(table) else table
    if len(rows) == 0:
        why = (
            "the run has no logits detection trials with the neutral-frame readout (runs "
            "made before it existed lack it)."
            if variant == "default"
            else "the run has no logits detection trials with grid.variants 'internal'."
        )
        return not_run(5, name, why)
    picked = line_config(rows, sel, [variant])
    if picked is None:
        return not_run(5, name, "no concept-injection trials with both readouts.")
    layer, strength, note = picked
    row = row_at(rows, layer, strength, control="concept")
    assert row is not None
    cfg = cfg_text(layer, strength)
    chance = to_float(row["chance"])
    where = (
        "under the paper's window (from the trial question through the answer)"
        if variant == "default"
        else "with the injection on the acknowledgement turn only (the question and answer "
        "see it only through attention to earlier positions)"
    )
    body = (
        f"At {cfg}{note}, {where}, the candidate readout names the injected concept in "
        f"{ci_or_none(row['identification'], row['identification_ci_low'], row['identification_ci_high'], signed=False)} "
        "of concepts after the detection prefill and in "
        f"{ci_or_none(row['neutral_identification'], row['neutral_identification_ci_low'], row['neutral_identification_ci_high'], signed=False)} "
        f"after the neutral word-game prefill, under the same injection (chance {chance:.3f}); "
        "detection minus neutral frame, paired per concept: "
        f"{ci_or_none(row['frame_difference'], row['frame_difference_ci_low'], row['frame_difference_ci_high'])}"
        f" over {int(row['n_concepts'])} concepts: "
    )
    lift_text = (
        ""
        if math.isnan(to_float(row["lift_difference"]))
        else " In log-probability, the injection lifts the concept's first token by "
        f"{ci_or_none(row['logprob_lift'], row['logprob_lift_ci_low'], row['logprob_lift_ci_high'])} "
        "nats in the detection frame and by "
        f"{ci_or_none(row['neutral_logprob_lift'], row['neutral_logprob_lift_ci_low'], row['neutral_logprob_lift_ci_high'])} "
        "in the neutral frame (difference, paired per concept: "
        f"{ci_or_none(row['lift_difference'], row['lift_difference_ci_low'], row['lift_difference_ci_high'])})."
    )
    extra = internal_extras(t, layer, strength) if variant == "internal" else ""
    return headline_from_row(
        name,
        row,
        "frame_difference",
        body + contrast_verdict(row) + lift_text + extra,
        unit="concepts",
        kind="rate_difference",
        config=cfg,
        step=5,
    )


def contrast_verdict(row: pd.Series) -> str:
    low, high = to_float(row["frame_difference_ci_low"]), to_float(row["frame_difference_ci_high"])
    neutral_low = to_float(row["neutral_vs_chance_ci_low"])
    if math.isnan(low) or math.isnan(high):
        return "undetermined (too few concepts for an interval)."
    if low > 0:
        return (
            "the detection frame names the injected concept more often than a frame that "
            "never asks about injected thoughts, so its identification is not just the "
            "vector pushing its word."
        )
    if high < 0:
        return (
            "the neutral frame names the concept more often: identification here is what the "
            "injected vector does to any answer (leakage)."
        )
    if not math.isnan(neutral_low) and neutral_low > 0:
        return (
            "not distinguishable from the neutral frame, which names the concept above chance "
            "too: identification here is explained by the vector pushing its word (leakage), "
            "not by a report about an injected thought."
        )
    return "not distinguishable from the neutral frame."


def internal_extras(t: Tables, layer: Any, strength: Any) -> str:
    """The internal variant's P(yes) log-odds shift and MI, for the internality line."""
    parts = []
    var = t["variants"]
    if len(var):
        v = var[(var["measure"] == "logits") & (var["variant"] == "internal")]
        row = row_at(v, layer, strength, control="concept")
        if row is not None and not math.isnan(to_float(row["net_logodds"])):
            parts.append(
                " Detection under this window: the log-odds of 'yes' shift by "
                f"{ci_or_none(row['net_logodds'], row['net_logodds_ci_low'], row['net_logodds_ci_high'])} "
                f"over {int(row['n_concepts'])} concepts."
            )
    mi = t["leakage_mi"]
    if len(mi):
        m = mi[
            (mi["variant"] == "internal")
            & (mi["control"] == "concept")
            & (mi["layer"].map(clean) == clean(layer))
        ]
        bits = {r["frame"]: r for _, r in m.iterrows()}
        if "detection" in bits and "neutral" in bits:
            d, n = bits["detection"], bits["neutral"]
            parts.append(
                " Mutual information between injected and top candidate (strengths pooled): "
                f"{ci_or_none(d['mi_bits'], d['mi_bits_ci_low'], d['mi_bits_ci_high'], signed=False)} "
                f"bits in the detection frame (permutation p = {to_float(d['p_value']):.3f}), "
                f"{ci_or_none(n['mi_bits'], n['mi_bits_ci_low'], n['mi_bits_ci_high'], signed=False)} "
                f"bits in the neutral frame."
            )
    return "".join(parts)
