"""Detection with the concept as the unit, read at one configuration chosen without the
concepts it is estimated on (:mod:`introscope.experiments.selection`).

* :func:`concept_rates`: one row per source ("text": generation trials, rules grades;
  "logits": the readout) x layer x strength x control x concept, with the concept's mean of
  each trial value (``claims_detection``, ``success``, ``identification``,
  ``named_if_affirmative``; ``p_yes``, ``top_rank``);
* :func:`concept_level_columns`: per configuration, the concept-level mean (per-concept
  rates averaged, t interval over concepts) and its difference from the no-injection trials,
  with the p-value Holm-adjusted over the configurations; these sit next to the trial-level
  Wilson / Welch columns of the ``detection`` and ``detection_logits`` tables;
* :func:`contrasts_table`: concept - each control vector (random, negated, other-concept,
  covariance-matched random), per configuration, the per-concept difference of the two
  conditions' means (paired by concept), Holm over configurations;
* :func:`choose_detection` and :func:`held_out_table`: the scorecard's configuration
  (declared, or chosen on half the concepts) and every estimate the scorecard reads there,
  on the other half.

Only the trials under the paper's wording and window are read
(:func:`introscope.experiments.detection.wordings.paper_records`), as in the trial-level
tables.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

import numpy as np
import pandas as pd

from introscope.experiments.detection import content
from introscope.experiments.detection.wordings import paper_records
from introscope.experiments.selection import (
    Choice,
    add_holm,
    against_control,
    choose,
    concept_mean,
    concept_values,
    declared_config,
    paired_difference,
    per_concept,
    put_estimate,
    selection_frame,
    split_seed,
)
from introscope.stats import Difference
from introscope.tables import (
    INJECTED_CONTROLS,
    NAN,
    Record,
    RunFrame,
    as_layer,
    as_strength,
    clean,
    cond,
    grade_value,
    matched,
    number,
)

KEYS = ("layer", "strength")
SOURCES = {"text": "generation", "logits": "logits"}
#: Per source: the per-concept value a configuration is chosen by and read at, and whether
#: the readout is deterministic (a no-injection control is then a constant).
MAIN = {"text": ("claims_detection", False), "logits": ("p_yes", True)}
TEXT_VALUES = ("claims_detection", "success", "identification", "named_if_affirmative")
#: The per-concept value a held-out quantity averages, where it is not the source's main one.
MEASURES = {
    ("text", "net_success"): "success",
    ("text", "identification"): "identification",
    ("text", "identification_vs_chance"): "named_if_affirmative",
    ("logits", "identification_vs_chance"): "top_rank",
}
LOGIT_VALUES = ("p_yes", "top_rank")
#: The control vectors each concept's own vector is compared with (paired by concept).
CONTROL_VECTORS = tuple(c for c in INJECTED_CONTROLS if c != "concept")


def success(grades: Any, grader: str = "rules") -> bool | None:
    """The full success rule: the grader's ``success``, else coherent, affirmative, correct
    concept and noticed first together (None when a part is missing)."""
    v = grade_value(grades, "success", grader)
    if v is not None:
        return v
    parts = [
        grade_value(grades, c, grader)
        for c in ("coherent", "affirmative", "correct_concept", "noticed_first")
    ]
    if any(p is None for p in parts):
        return None
    return all(parts)


def claims_detection(grades: Any, grader: str = "rules") -> bool | None:
    """A coherent, affirmative detection report (a false positive on a control trial)."""
    aff = grade_value(grades, "affirmative", grader)
    coh = grade_value(grades, "coherent", grader)
    if aff is None or coh is None:
        return None
    return aff and coh


# --------------------------------------------------------------------------- trial points


def config_of(r: Record) -> dict[str, Any]:
    return {
        "layer": as_layer(cond(r, "layer")),
        "strength": as_strength(cond(r, "strength")),
        "control": cond(r, "control"),
        "concept": cond(r, "concept"),
    }


def text_point(r: Record) -> dict[str, Any]:
    g = r["grades"]
    injected = cond(r, "control") != "none"
    correct = grade_value(g, "correct_concept") if injected else None
    return {
        **config_of(r),
        "claims_detection": claims_detection(g),
        "success": success(g) if injected else None,
        "identification": correct,
        "named_if_affirmative": correct if grade_value(g, "affirmative") is True else None,
    }


def logit_point(r: Record) -> dict[str, Any]:
    lg = r["logits"]
    rank = number(lg.get("concept_rank"))
    injected = cond(r, "control") != "none"
    return {
        **config_of(r),
        "p_yes": number(lg.get("p_yes")),
        "top_rank": None if not injected or rank is None else rank == 1,
    }


def concept_rates(run: RunFrame) -> pd.DataFrame:
    """Per source x layer x strength x control x concept: ``n_trials`` and the concept's mean
    of each trial value (rates as proportions)."""
    parts = []
    for source, values, point in (
        ("text", TEXT_VALUES, text_point),
        ("logits", LOGIT_VALUES, logit_point),
    ):
        recs = paper_records(run, SOURCES[source])
        table = per_concept((point(r) for r in recs), (*KEYS, "control"), values)
        if len(table):
            parts.append(table.assign(source=source))
    if not parts:
        return pd.DataFrame()
    out = pd.concat(parts, ignore_index=True)
    front = ["source", *KEYS, "control", "concept", "n_trials"]
    return out[front + [c for c in out.columns if c not in front]]


def control_values(run: RunFrame, source: str, layer: Any, strength: Any) -> list[float]:
    """The no-injection trials' values of the source's main measure, matched to the
    configuration as the trial-level tables match them (:func:`introscope.tables.matched`)."""
    value, _ = MAIN[source]
    recs = paper_records(run, SOURCES[source])
    controls = [r for r in recs if cond(r, "control") == "none"]
    point = text_point if source == "text" else logit_point
    vals = [point(r)[value] for r in matched(controls, layer, strength)]
    return [float(v) for v in vals if v is not None]


def source_rates(rates: pd.DataFrame, source: str, control: str | None = None) -> pd.DataFrame:
    if len(rates) == 0:
        return rates
    t = rates[rates["source"] == source]
    return t if control is None else t[t["control"] == control]


# --------------------------------------------------------------------------- per configuration


def concept_level_columns(run: RunFrame, rates: pd.DataFrame, source: str) -> pd.DataFrame:
    """Per layer x strength x control of ``source``: the concept-level mean of the main
    measure (``claims_detection_by_concept`` / ``p_yes_by_concept``) and its difference from
    the no-injection trials (``net_affirmative_by_concept`` / ``p_yes_shift_by_concept``,
    with ``_p`` and ``_p_holm``: Holm over the configurations of each control), plus for
    text ``net_detection_by_concept`` (the success rule)."""
    value, deterministic = MAIN[source]
    net = "net_affirmative" if source == "text" else "p_yes_shift"
    t = source_rates(rates, source)
    rows = []
    for (layer, strength, control), g in (
        t.groupby([*KEYS, "control"], dropna=False, sort=False) if len(t) else []
    ):
        layer, strength = clean(layer), clean(strength)
        out: dict[str, Any] = {"layer": layer, "strength": strength, "control": control}
        vals = pd.to_numeric(g[value]).dropna()
        # A t interval over a few concepts can reach past the possible range; cut it there.
        put_estimate(out, f"{value}_by_concept", clipped(concept_mean(vals), 0.0, 1.0))
        ctrl = control_values(run, source, layer, strength)
        injected = control != "none"
        put_estimate(
            out,
            f"{net}_by_concept",
            clipped(against_control(vals, ctrl, deterministic), -1.0, 1.0)
            if injected
            else no_estimate(),
        )
        if source == "text":
            succ = pd.to_numeric(g["success"]).dropna()
            put_estimate(
                out,
                "net_detection_by_concept",
                clipped(against_control(succ, ctrl, False), -1.0, 1.0)
                if injected
                else no_estimate(),
            )
        rows.append(out)
    table = pd.DataFrame(rows)
    for name in (f"{net}_by_concept", "net_detection_by_concept"):
        if len(table) and f"{name}_p" in table.columns:
            table = add_holm(table, name, ["control"])
    return table


def clipped(d: Difference, low: float, high: float) -> Difference:
    """``d`` with its bounds cut to [low, high] (NaN bounds stay NaN)."""
    lo = d.low if np.isnan(d.low) else max(d.low, low)
    hi = d.high if np.isnan(d.high) else min(d.high, high)
    return Difference(d.estimate, lo, hi, d.n_a, d.n_b, d.p)


def no_estimate() -> Difference:
    return Difference(NAN, NAN, NAN, 0, 0)


def merge_by_config(table: pd.DataFrame, extra: pd.DataFrame) -> pd.DataFrame:
    """``table`` (one row per layer x strength x control) with ``extra``'s columns appended,
    row order and existing columns unchanged."""
    if len(table) == 0 or len(extra) == 0:
        return table
    key = ["layer", "strength", "control"]
    left = table.assign(_row=range(len(table)))
    for k in key[:2]:
        left[f"_{k}"] = left[k].map(clean)
        extra = extra.assign(**{f"_{k}": extra[k].map(clean)})
    merged = left.merge(
        extra.drop(columns=key[:2]),
        left_on=["_layer", "_strength", "control"],
        right_on=["_layer", "_strength", "control"],
        how="left",
    )
    merged = merged.sort_values("_row").drop(columns=["_row", "_layer", "_strength"])
    return merged.reset_index(drop=True)


def contrasts_table(rates: pd.DataFrame) -> pd.DataFrame:
    """Per source x layer x strength x contrast ("concept - random", "concept - negated",
    "concept - other", "concept - matched_random"; a control the run lacks has no rows):
    ``diff``, the mean over concepts of (the concept's mean under its own vector - its mean
    under the control vector) of the source's main measure, t interval over concepts (``n``
    = concepts with both), ``diff_p`` and ``diff_p_holm`` (Holm over the configurations of
    that source and contrast). A difference near 0 means the report follows that something
    was injected, not what."""
    rows = []
    for source, (value, _) in MAIN.items():
        conc = source_rates(rates, source, "concept")
        if len(conc) == 0:
            continue
        configs = sorted(
            {(clean(a), clean(b)) for a, b in conc[list(KEYS)].itertuples(index=False)},
            key=lambda c: (c[0] is None, c[0] or 0, c[1] is None, c[1] or 0),
        )
        for other in CONTROL_VECTORS:
            oth = source_rates(rates, source, other)
            for cfg in configs:
                b = concept_values(oth, KEYS, cfg, value)
                if len(b) == 0:
                    continue
                a = concept_values(conc, KEYS, cfg, value)
                out: dict[str, Any] = {
                    "source": source,
                    "measure": value,
                    "layer": cfg[0],
                    "strength": cfg[1],
                    "contrast": f"concept - {other}",
                }
                put_estimate(out, "diff", clipped(paired_difference(a, b), -1.0, 1.0))
                rows.append(out)
    table = pd.DataFrame(rows)
    return add_holm(table, "diff", ["source", "contrast"]) if len(table) else table


# --------------------------------------------------------------------------- the selection


def selection_statistic(run: RunFrame, rates: pd.DataFrame, source: str) -> pd.DataFrame:
    """Per-concept rows of concept injection with ``net``: the main measure minus the mean
    of the matched no-injection trials (what the configuration is chosen by)."""
    value, _ = MAIN[source]
    conc = source_rates(rates, source, "concept").copy()
    if len(conc) == 0:
        return conc
    ctrl_mean: dict[tuple[Any, Any], float] = {}
    for layer, strength in {
        (clean(a), clean(b)) for a, b in conc[list(KEYS)].itertuples(index=False)
    }:
        ctrl = control_values(run, source, layer, strength)
        ctrl_mean[(layer, strength)] = float(np.mean(ctrl)) if ctrl else 0.0
    conc["net"] = [
        v - ctrl_mean[(clean(a), clean(b))]
        for v, a, b in zip(conc[value], conc["layer"], conc["strength"], strict=True)
    ]
    return conc


def choose_source(run: RunFrame, rates: pd.DataFrame, source: str) -> Choice | None:
    declared = declared_config(run, "detection", KEYS, SOURCES[source])
    return choose(
        selection_statistic(run, rates, source),
        KEYS,
        "net",
        declared=declared,
        seed=split_seed(run, "detection", SOURCES[source]),
    )


def choose_detection(run: RunFrame, rates: pd.DataFrame) -> tuple[Choice, str] | None:
    """The scorecard's configuration and its source: from the text trials (net detection
    claim) when there are any, else from the logits (P(yes) shift)."""
    for source in MAIN:
        choice = choose_source(run, rates, source)
        if choice is not None:
            return choice, source
    return None


def selection_table(picked: tuple[Choice, str] | None) -> pd.DataFrame:
    """One row: the scorecard's configuration, its source, how it was chosen, the split
    (seed and the concepts on each side) and the note sentences quote."""
    if picked is None:
        return selection_frame(None, source=None, layer=None, strength=None)
    return selection_frame(picked[0], source=picked[1])


def estimate_concepts(choice: Choice, concepts: Iterable[str]) -> list[str]:
    """The concepts an estimate at ``choice`` may use: all but those the choice was made on."""
    return sorted(set(concepts) - set(choice.chosen_on))


# --------------------------------------------------------------------------- held-out estimates


def held_out_tables(
    run: RunFrame, rates: pd.DataFrame, picked: tuple[Choice, str] | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(estimates, mutual information) the scorecard reads, at the selected configuration on
    the concepts it was not chosen on.

    Estimates: per source x quantity, ``value`` (with ``_ci_low``, ``_ci_high``, ``_n`` =
    concepts, ``_n_ref``, ``_p``), ``chance`` where the quantity is relative to chance, and
    the ``note`` on how the configuration was chosen. Mutual information: the rows of
    :func:`content.mutual_information_table` (concept injection, the configuration's layer,
    the bootstrap resampling concepts) on the same concepts, with the ``note``. A source
    without trials at the configuration gets its own choice (and note).
    """
    if picked is None:
        return pd.DataFrame(), pd.DataFrame()
    main, main_source = picked
    rows: list[dict[str, Any]] = []
    mi_parts = []
    for source in MAIN:
        conc = source_rates(rates, source, "concept")
        if len(conc) == 0:
            continue
        choice: Choice | None = main
        if source != main_source and len(at_choice(conc, main)) == 0:
            choice = choose_source(run, rates, source)
        if choice is None:
            continue
        concepts = estimate_concepts(choice, conc["concept"].astype(str))
        rows += source_rows(run, rates, source, choice, concepts)
        mi = content.mutual_information_table(
            run,
            controls=["concept"],
            layers=[clean(choice.at()["layer"])],
            concepts=concepts,
            sources=[source],
        )
        if len(mi):
            mi_parts.append(mi.assign(note=choice.note()))
    mi_table = pd.concat(mi_parts, ignore_index=True) if mi_parts else pd.DataFrame()
    return pd.DataFrame(rows), mi_table


def at_choice(table: pd.DataFrame, choice: Choice) -> pd.DataFrame:
    at = choice.at()
    return table[
        (table["layer"].map(clean) == clean(at["layer"]))
        & (table["strength"].map(clean) == clean(at["strength"]))
    ]


def source_rows(
    run: RunFrame, rates: pd.DataFrame, source: str, choice: Choice, concepts: Collection[str]
) -> list[dict[str, Any]]:
    value, deterministic = MAIN[source]
    cfg = choice.config
    at = choice.at()
    ctrl = control_values(run, source, at["layer"], at["strength"])
    by: dict[str, pd.Series] = {
        control: concept_values(source_rates(rates, source, control), KEYS, cfg, value, concepts)
        for control in INJECTED_CONTROLS
    }
    conc = source_rates(rates, source, "concept")
    # random and negated always (the paper's controls); the newer ones where the run has them
    controls = [c for c in CONTROL_VECTORS if c in ("random", "negated") or len(by[c])]
    estimates: dict[str, tuple[Difference, float]] = {
        "raw": (concept_mean(by["concept"]), NAN),
        "net": (against_control(by["concept"], ctrl, deterministic), NAN),
        **{f"{c}_net": (against_control(by[c], ctrl, deterministic), NAN) for c in controls},
        **{f"concept_minus_{c}": (paired_difference(by["concept"], by[c]), NAN) for c in controls},
    }
    if source == "text":
        succ = concept_values(conc, KEYS, cfg, "success", concepts)
        named = concept_values(conc, KEYS, cfg, "identification", concepts)
        estimates["net_success"] = (against_control(succ, ctrl, False), NAN)
        estimates["identification"] = (concept_mean(named), NAN)
        ident = concept_values(conc, KEYS, cfg, "named_if_affirmative", concepts)
        chance = text_chance(run)
    else:
        ident = concept_values(conc, KEYS, cfg, "top_rank", concepts)
        chance = logit_chance(run)
    estimates["identification_vs_chance"] = (concept_mean(ident, chance), chance)
    rows = []
    for quantity, (d, ch) in estimates.items():
        # A t interval over a few concepts can reach past what a rate or a probability can
        # be; the bounds are cut to the possible range (the estimate never needs it).
        if quantity in ("raw", "identification"):
            d = clipped(d, 0.0, 1.0)
        elif quantity == "identification_vs_chance":
            d = clipped(d, -ch, 1.0 - ch)
        else:
            d = clipped(d, -1.0, 1.0)
        out: dict[str, Any] = {
            "source": source,
            "quantity": quantity,
            "measure": MEASURES.get((source, quantity), value),
            "layer": at["layer"],
            "strength": at["strength"],
        }
        put_estimate(out, "value", d)
        out["chance"] = ch
        out["how"] = choice.how
        out["note"] = choice.note()
        rows.append(out)
    return rows


def text_chance(run: RunFrame) -> float:
    """1 / K for K concepts injected in the text trials (a reporter naming a random concept of
    the run), as the identification table has it."""
    trials = content.content_trials(run)
    text = trials[trials["source"] == "text"] if len(trials) else trials
    if len(text) == 0:
        return NAN
    conc = text[text["control"] == "concept"]
    k = conc["injected"].nunique() or text["injected"].nunique()
    return 1.0 / k if k else NAN


def logit_chance(run: RunFrame) -> float:
    """Mean 1 / n_candidates over the logit trials (the candidate readout's chance)."""
    ncs = [
        number(r["logits"].get("n_candidates"))
        for r in paper_records(run, "logits")
        if cond(r, "control") != "none"
    ]
    vals = [1.0 / n for n in ncs if n]
    return float(np.mean(vals)) if vals else NAN
