"""Content specificity of detection reports: does the report say *which* concept was injected?

Three families of numbers, all computed on the ``detection`` experiment's trials (the frame
from the run (:class:`introscope.tables.RunFrame`); other experiments are ignored):

* **identification above chance** (:func:`identification_table`)

  - ``source == "logits"``: the candidate-set readout. After an affirmative prefill, the
    injected concept ranks first among all ``n_candidates`` concepts of the run
    (``concept_rank == 1``); chance = mean of ``1 / n_candidates``.
  - ``source == "text"``: generated answers graded by the rules grader. Identification is
    the rate of ``correct_concept`` *among affirmative trials* (the report claims a detection
    and names the injected concept); chance = ``1 / K`` with K the number of distinct
    concepts injected in the run's detection generation trials (what a reporter naming a
    random concept of the run would score).

  Rates carry a 95% Wilson interval; ``identification_vs_chance`` is the rate minus chance
  with the Wilson bounds shifted by chance (chance is a constant, not an estimate).

* **mutual information** (:func:`mutual_information_table`) in bits between the injected
  concept and the reported one, from :func:`introscope.stats.mutual_information`:
  Miller-Madow corrected estimate (``mi_bits``, with a bootstrap CI that resamples
  injected concepts, not trials: trials of one concept are not independent), the plug-in
  estimate, the shuffled-label baseline (mean and 95th percentile of the plug-in MI with
  the reported labels permuted) and the permutation p-value. Reported label: the logits readout's
  ``top_candidate``; for text, the rules grader's ``reported`` concept (the candidate named
  earliest in the answer). **When the answer names no concept of the run, the label is
  ``"<none>"``** (:data:`NONE_LABEL`), a category of its own: whether the model names
  anything at all can itself depend on which concept was injected, and dropping those
  trials would condition on an outcome of the injection. Pass ``drop_none=True`` to drop
  them instead. Trials whose grade lacks ``reported`` (older runs, grader errors) are left
  out. One row per source x control x layer with the strengths pooled (``strength`` NaN,
  ``pooled_strengths`` True), and, when the grid has several strengths, one row per
  layer x strength if that cell holds at least ``min_per_concept`` trials per injected
  concept on average (fewer makes the estimate mostly bias).

* **confabulation profile** (:func:`confabulation_table`, :func:`confabulation_summary`):
  among affirmative injected trials that put forward a concept other than the injected one
  (rules outcome ``confabulated_concept``, or a ``reported`` concept that is not the
  injected one; ``correct_detection`` trials never count), which concepts are named. A
  confabulated topic that is not a concept of the run is counted as ``"<other topic>"``
  (:data:`OTHER_TOPIC_LABEL`): the rules grader does not store it. For each named concept:
  whether it is a **concrete noun** (:func:`is_concrete`: a member of the paper's
  ``concrete_nouns`` list, or of the main 50 concepts minus the abstract ones listed in
  :data:`MAIN_ABSTRACT`; other words are "unknown" and left out of that rate's n), and its
  **relatedness** to the injected concept: the cosine between the two concept vectors at
  the injection layer (the run directory's ``vectors.safetensors``), against
  the mean cosine over all distinct pairs of concepts in the vector set at that layer.

The **failure taxonomy** (one rules outcome per graded trial, by layer x strength x control)
is :func:`introscope.experiments.detection.analysis.outcome_table`.

Scorecard step 5 reads the identification and mutual-information tables at the
configuration selected in step 2.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from introscope.experiments.detection.wordings import paper_records
from introscope.stats import mutual_information, rate
from introscope.tables import (
    NAN,
    RunFrame,
    as_layer,
    as_strength,
    clean,
    cond,
    grade_value,
    group,
    number,
    sort_key,
)

NONE_LABEL = "<none>"
CONTROL_ORDER: tuple[str, ...] = ("concept", "random", "negated", "other", "matched_random")
SOURCES: tuple[str, ...] = ("logits", "text")


def rules_grades(grades: Any) -> dict[str, Any] | None:
    g = grades.get("rules") if isinstance(grades, dict) else None
    if not isinstance(g, dict) or ("error" in g and len(g) == 1):
        return None
    return g


def content_trials(run: RunFrame) -> pd.DataFrame:
    """One row per injected detection trial under the paper's wording and window
    (no-injection controls and the other ``grid.variants`` excluded).

    Columns: ``source`` ("logits" / "text"), ``layer``, ``strength``, ``control``,
    ``injected``, ``reported`` (top candidate; for text the rules ``reported`` concept or
    :data:`NONE_LABEL`; None when unknown), ``correct`` (logits: rank 1; text: rules
    ``correct_concept``), ``affirmative`` (text only), ``outcome`` (text only) and
    ``chance`` (logits: 1 / n_candidates; text: 1 / K concepts injected in the run).
    """
    rows: list[dict[str, Any]] = []
    for r in paper_records(run, "logits"):
        injected, control = cond(r, "concept"), cond(r, "control")
        if control == "none" or not isinstance(injected, str):
            continue
        lg = r["logits"]
        rk, nc = number(lg.get("concept_rank")), number(lg.get("n_candidates"))
        top = lg.get("top_candidate")
        rows.append(
            {
                "source": "logits",
                "layer": as_layer(cond(r, "layer")),
                "strength": as_strength(cond(r, "strength")),
                "control": control,
                "injected": injected,
                "reported": top if isinstance(top, str) else None,
                "correct": None if rk is None else rk == 1,
                "affirmative": None,
                "outcome": None,
                "chance": 1.0 / nc if nc else NAN,
            }
        )
    gen = paper_records(run, "generation")
    text_rows: list[dict[str, Any]] = []
    for r in gen:
        injected, control = cond(r, "concept"), cond(r, "control")
        if control == "none" or not isinstance(injected, str):
            continue
        g = rules_grades(r["grades"])
        reported: str | None = None
        if g is not None and "reported" in g:
            rep = g.get("reported")
            reported = rep if isinstance(rep, str) and rep else NONE_LABEL
        outcome = g.get("outcome") if g is not None else None
        text_rows.append(
            {
                "source": "text",
                "layer": as_layer(cond(r, "layer")),
                "strength": as_strength(cond(r, "strength")),
                "control": control,
                "injected": injected,
                "reported": reported,
                "correct": grade_value(r["grades"], "correct_concept"),
                "affirmative": grade_value(r["grades"], "affirmative"),
                "outcome": outcome if isinstance(outcome, str) else None,
            }
        )
    k = len({t["injected"] for t in text_rows if t["control"] == "concept"}) or len(
        {t["injected"] for t in text_rows}
    )
    for t in text_rows:
        t["chance"] = 1.0 / k if k else NAN
    rows += text_rows
    columns = [
        "source",
        "layer",
        "strength",
        "control",
        "injected",
        "reported",
        "correct",
        "affirmative",
        "outcome",
        "chance",
    ]
    return pd.DataFrame(rows, columns=columns)


def trial_dicts(trials: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in trials.to_dict("records"):
        out.append({k: clean(v) for k, v in row.items()})
    return out


def cfg_sort(key: tuple[Any, ...]) -> tuple[Any, ...]:
    source, control, layer, strength = key
    return (
        sort_key(source, SOURCES),
        sort_key(control, CONTROL_ORDER),
        sort_key(layer),
        sort_key(strength),
    )


def identification_table(run: RunFrame) -> pd.DataFrame:
    """Identification accuracy vs chance by source x control x layer x strength.

    Columns: ``source, layer, strength, control, n_trials``, the rate ``identification``
    (Wilson CI, ``_n``: logits trials with a rank; text trials that are affirmative and have
    a ``correct_concept`` grade), ``chance``, ``identification_vs_chance`` (shifted bounds)
    and, for text, ``n_affirmative``.
    """
    trials = trial_dicts(content_trials(run))
    if not trials:
        return pd.DataFrame()
    groups = group(trials, lambda t: (t["source"], t["control"], t["layer"], t["strength"]))
    rows = []
    for key in sorted(groups, key=cfg_sort):
        source, control, layer, strength = key
        ts = groups[key]
        if source == "text":
            vals = [t["correct"] for t in ts if t["affirmative"] is True]
        else:
            vals = [t["correct"] for t in ts]
        valid = [bool(v) for v in vals if v is not None]
        r = rate(sum(valid), len(valid))
        chances = [t["chance"] for t in ts if t["chance"] is not None]
        chance = float(np.mean(chances)) if chances else NAN
        out: dict[str, Any] = {
            "source": source,
            "layer": layer,
            "strength": strength,
            "control": control,
            "n_trials": len(ts),
            "identification": r.estimate,
            "identification_ci_low": r.low,
            "identification_ci_high": r.high,
            "identification_n": r.n,
            "chance": chance,
            "identification_vs_chance": r.estimate - chance,
            "identification_vs_chance_ci_low": r.low - chance,
            "identification_vs_chance_ci_high": r.high - chance,
            "identification_vs_chance_n": r.n,
        }
        if source == "text":
            out["n_affirmative"] = sum(1 for t in ts if t["affirmative"] is True)
        rows.append(out)
    return pd.DataFrame(rows)


def mi_row(
    base: dict[str, Any],
    pairs: Sequence[tuple[str, str]],
    n_shuffles: int,
    n_boot: int,
    seed: int,
) -> dict[str, Any]:
    mi = mutual_information(
        [p[0] for p in pairs],
        [p[1] for p in pairs],
        n_shuffles=n_shuffles,
        n_boot=n_boot,
        seed=seed,
        # Trials of one injected concept are not independent: resample concepts.
        clusters=[p[0] for p in pairs],
    )
    n_concepts = len({p[0] for p in pairs})
    return {
        **base,
        "mi_bits": mi.corrected_bits,
        "mi_bits_ci_low": mi.ci_low,
        "mi_bits_ci_high": mi.ci_high,
        "mi_bits_n": mi.n,
        "plugin_bits": mi.plugin_bits,
        "shuffled_mean_bits": mi.shuffled_mean_bits,
        "shuffled_p95_bits": mi.shuffled_p95_bits,
        "p_value": mi.p_value,
        "max_bits": mi.max_bits,
        "n_concepts": n_concepts,
        "n_reported_labels": len({p[1] for p in pairs}),
        "per_concept": mi.n / n_concepts if n_concepts else NAN,
        "none_fraction": (sum(1 for p in pairs if p[1] == NONE_LABEL) / len(pairs))
        if pairs
        else NAN,
    }


def mutual_information_table(
    run: RunFrame,
    *,
    drop_none: bool = False,
    controls: Iterable[str] | None = None,
    layers: Iterable[int | None] | None = None,
    concepts: Iterable[str] | None = None,
    sources: Iterable[str] | None = None,
    min_per_concept: float = 3.0,
    n_shuffles: int = 200,
    n_boot: int = 500,
    seed: int = 0,
) -> pd.DataFrame:
    """MI (bits) between injected and reported concept by source x control x layer, strengths
    pooled, plus layer x strength rows where n allows (see the module docstring).

    Columns: ``source, control, layer, strength, pooled_strengths``, ``mi_bits`` (Miller-Madow,
    with ``_ci_low/_ci_high`` bootstrap bounds and ``_n``), ``plugin_bits``,
    ``shuffled_mean_bits``, ``shuffled_p95_bits``, ``p_value``, ``max_bits`` (log2 of the
    number of injected concepts), ``n_concepts``, ``n_reported_labels``, ``per_concept``
    (trials per injected concept) and ``none_fraction`` (share of ``"<none>"`` reports).
    ``controls`` / ``layers`` / ``concepts`` (injected) / ``sources`` restrict the trials and
    rows computed (each row costs a bootstrap and a permutation test). The bootstrap
    resamples injected concepts with all their trials (trials of one concept are not
    independent).
    """
    keep_c = None if controls is None else set(controls)
    keep_l = None if layers is None else set(layers)
    keep_x = None if concepts is None else set(concepts)
    keep_s = None if sources is None else set(sources)
    trials = [
        t
        for t in trial_dicts(content_trials(run))
        if t["reported"] is not None
        and not (drop_none and t["reported"] == NONE_LABEL)
        and (keep_c is None or t["control"] in keep_c)
        and (keep_l is None or t["layer"] in keep_l)
        and (keep_x is None or t["injected"] in keep_x)
        and (keep_s is None or t["source"] in keep_s)
    ]
    if not trials:
        return pd.DataFrame()
    rows: list[dict[str, Any]] = []
    by_layer = group(trials, lambda t: (t["source"], t["control"], t["layer"]))
    for (source, control, layer), ts in sorted(
        by_layer.items(), key=lambda kv: cfg_sort((*kv[0], None))
    ):
        if len(ts) < 2:
            continue
        strengths = sorted({t["strength"] for t in ts}, key=sort_key)
        base = {
            "source": source,
            "control": control,
            "layer": layer,
            "strength": NAN,
            "pooled_strengths": True,
        }
        pairs = [(str(t["injected"]), str(t["reported"])) for t in ts]
        rows.append(mi_row(base, pairs, n_shuffles, n_boot, seed))
        if len(strengths) < 2:
            rows[-1]["strength"] = strengths[0] if strengths else NAN
            rows[-1]["pooled_strengths"] = False
            continue
        for s in strengths:
            cell = [t for t in ts if t["strength"] == s]
            k = len({t["injected"] for t in cell})
            if len(cell) < 2 or not k or len(cell) / k < min_per_concept:
                continue
            cell_base = {**base, "strength": s, "pooled_strengths": False}
            cell_pairs = [(str(t["injected"]), str(t["reported"])) for t in cell]
            rows.append(mi_row(cell_base, cell_pairs, n_shuffles, n_boot, seed))
    return pd.DataFrame(rows)
