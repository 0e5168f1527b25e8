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
  Miller-Madow corrected estimate (``mi_bits``, with a bootstrap CI), the plug-in estimate,
  the shuffled-label baseline (mean and 95th percentile of the plug-in MI with the reported
  labels permuted) and the permutation p-value. Reported label: the logits readout's
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

import math
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from introscope.experiments.base import Selection
from introscope.stats import mean_difference_ci, mutual_information, paired_mean_ci, rate
from introscope.tables import (
    NAN,
    Headline,
    RunFrame,
    Tables,
    as_layer,
    as_strength,
    best_row,
    cfg_text,
    ci_or_none,
    clean,
    cond,
    excludes_zero,
    grade_value,
    group,
    headline_from_row,
    not_run,
    number,
    pct,
    row_at,
    sort_key,
    to_float,
)
from introscope.words import word_list

NONE_LABEL = "<none>"
OTHER_TOPIC_LABEL = "<other topic>"
CONTROL_ORDER: tuple[str, ...] = ("concept", "random", "negated")
SOURCES: tuple[str, ...] = ("logits", "text")

#: Main-list concepts (Lindsey 2025) that are not concrete nouns; the rest of the main list
#: (objects, materials, places, natural phenomena, groups of people) counts as concrete.
MAIN_ABSTRACT: frozenset[str] = frozenset(
    {
        "Illusions",
        "Sadness",
        "Secrecy",
        "Information",
        "Poetry",
        "Peace",
        "Memories",
        "Harmonies",
        "Masquerades",
        "Dynasties",
        "Algorithms",
    }
)


@cache
def concreteness() -> tuple[frozenset[str], frozenset[str]]:
    """(concrete, known) concept names, lowercase."""
    main = word_list("main")
    concrete = {w.lower() for w in word_list("concrete_nouns")}
    concrete |= {w.lower() for w in main if w not in MAIN_ABSTRACT}
    known = set(concrete) | {w.lower() for w in main}
    for cat in ("abstract_nouns", "famous_people", "countries", "verbs"):
        known |= {w.lower() for w in word_list(cat)}
    return frozenset(concrete), frozenset(known)


def is_concrete(name: str) -> bool | None:
    """True for a concrete noun of the paper's lists, False for another listed concept, None
    for a word in no list (or the placeholder labels)."""
    concrete, known = concreteness()
    key = name.strip().lower()
    if key in concrete:
        return True
    if key in known:
        return False
    return None


def rules_grades(grades: Any) -> dict[str, Any] | None:
    g = grades.get("rules") if isinstance(grades, dict) else None
    if not isinstance(g, dict) or ("error" in g and len(g) == 1):
        return None
    return g


def content_trials(run: RunFrame) -> pd.DataFrame:
    """One row per injected detection trial (no-injection controls excluded).

    Columns: ``source`` ("logits" / "text"), ``layer``, ``strength``, ``control``,
    ``injected``, ``reported`` (top candidate; for text the rules ``reported`` concept or
    :data:`NONE_LABEL`; None when unknown), ``correct`` (logits: rank 1; text: rules
    ``correct_concept``), ``affirmative`` (text only), ``outcome`` (text only) and
    ``chance`` (logits: 1 / n_candidates; text: 1 / K concepts injected in the run).
    """
    rows: list[dict[str, Any]] = []
    for r in run.records("detection", "logits"):
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
    gen = run.records("detection", "generation")
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
    ``controls`` / ``layers`` restrict the rows computed (each row costs a bootstrap and a
    permutation test).
    """
    keep_c = None if controls is None else set(controls)
    keep_l = None if layers is None else set(layers)
    trials = [
        t
        for t in trial_dicts(content_trials(run))
        if t["reported"] is not None
        and not (drop_none and t["reported"] == NONE_LABEL)
        and (keep_c is None or t["control"] in keep_c)
        and (keep_l is None or t["layer"] in keep_l)
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


class ConceptCosines:
    """Cosines between concept vectors at one layer, with a per-layer cache."""

    def __init__(self, vectors: Mapping[str, np.ndarray]) -> None:
        self.vectors = vectors
        self.names: list[str] = list(vectors)
        self.index = {n.lower(): i for i, n in enumerate(self.names)}
        self._mats: dict[int, np.ndarray | None] = {}

    def _mat(self, layer: int) -> np.ndarray | None:
        if layer not in self._mats:
            first = next(iter(self.vectors.values()), None)
            if first is None or not 0 <= layer < first.shape[0]:
                self._mats[layer] = None
            else:
                m = np.stack([np.asarray(self.vectors[n][layer], float) for n in self.names])
                norms = np.linalg.norm(m, axis=1, keepdims=True)
                self._mats[layer] = m / np.where(norms == 0, 1.0, norms)
        return self._mats[layer]

    def cos(self, a: str, b: str, layer: int | None) -> float | None:
        if layer is None:
            return None
        ia, ib = self.index.get(a.lower()), self.index.get(b.lower())
        m = self._mat(layer)
        if ia is None or ib is None or m is None:
            return None
        return float(m[ia] @ m[ib])

    def pair_cosines(self, layer: int | None) -> list[float]:
        """Cosines of all distinct concept pairs at ``layer`` (the random-pair baseline)."""
        m = self._mat(layer) if layer is not None else None
        if m is None or len(m) < 2:
            return []
        c = m @ m.T
        iu = np.triu_indices(len(m), k=1)
        return [float(x) for x in c[iu]]


def confabulation_trials(run: RunFrame, controls: Iterable[str] = ("concept",)) -> pd.DataFrame:
    """Affirmative injected text trials that name something other than the injected concept:
    ``layer, strength, control, injected, named``."""
    keep = set(controls)
    rows = []
    for t in trial_dicts(content_trials(run)):
        if t["source"] != "text" or t["control"] not in keep or t["affirmative"] is not True:
            continue
        if t["outcome"] == "correct_detection":
            continue
        rep = t["reported"]
        named_other = rep is not None and rep != NONE_LABEL and rep.lower() != t["injected"].lower()
        if not (t["outcome"] == "confabulated_concept" or named_other):
            continue
        rows.append(
            {
                "layer": t["layer"],
                "strength": t["strength"],
                "control": t["control"],
                "injected": t["injected"],
                "named": rep if named_other else OTHER_TOPIC_LABEL,
            }
        )
    return pd.DataFrame(rows, columns=["layer", "strength", "control", "injected", "named"])


def confabulation_table(
    run: RunFrame,
    vectors: Mapping[str, np.ndarray] | None = None,
    controls: Iterable[str] = ("concept",),
) -> pd.DataFrame:
    """Which concepts are named when the report misidentifies, most frequent first.

    Columns: ``named``, ``count``, ``fraction`` (of confabulated trials, Wilson CI, ``_n``),
    ``concrete`` (True / False / None, see :func:`is_concrete`), ``cosine`` (mean cosine
    between the named and the injected concept's vectors at the injection layer, t CI,
    ``_n``; NaN without vectors) and ``injected_examples`` (up to three injected concepts).
    """
    conf = trial_dicts(confabulation_trials(run, controls))
    if not conf:
        return pd.DataFrame()
    cos = ConceptCosines(vectors) if vectors is not None else None
    total = len(conf)
    groups = group(conf, lambda t: (t["named"],))
    rows = []
    for (named,), ts in groups.items():
        r = rate(len(ts), total)
        values = []
        if cos is not None and named != OTHER_TOPIC_LABEL:
            values = [
                v for v in (cos.cos(named, t["injected"], t["layer"]) for t in ts) if v is not None
            ]
        m = paired_mean_ci(values)
        rows.append(
            {
                "named": named,
                "count": len(ts),
                "fraction": r.estimate,
                "fraction_ci_low": r.low,
                "fraction_ci_high": r.high,
                "fraction_n": r.n,
                "concrete": None if named == OTHER_TOPIC_LABEL else is_concrete(named),
                "cosine": m.estimate,
                "cosine_ci_low": m.low,
                "cosine_ci_high": m.high,
                "cosine_n": m.n_a,
                "injected_examples": ", ".join(list(dict.fromkeys(t["injected"] for t in ts))[:3]),
            }
        )
    rows.sort(key=lambda o: (-o["count"], str(o["named"])))
    return pd.DataFrame(rows)


def confabulation_summary(
    run: RunFrame,
    vectors: Mapping[str, np.ndarray] | None = None,
    controls: Iterable[str] = ("concept",),
) -> dict[str, Any]:
    """Headline numbers of the confabulation profile.

    Keys: ``n_affirmative`` (affirmative injected text trials), ``n_confabulated``,
    ``confabulation_rate`` (+ ``_ci_low/_ci_high``: share of affirmative trials that name a
    wrong concept or topic), ``concrete_rate`` (+ CI, ``concrete_n``: confabulations whose
    concreteness is known), ``concrete_base_rate`` (share of concrete concepts among the
    candidates the reporter could name: the vector set's names, else the injected concepts),
    ``cosine`` (+ CI, ``cosine_n``: named vs injected at the injection layer),
    ``pair_cosine`` (mean over all distinct concept pairs of the vector set, pooled over the
    layers at which the confabulations occurred), ``cosine_vs_pairs`` (+ Welch CI), ``top_named``
    (list of (name, count), most frequent first).
    """
    controls = tuple(controls)
    trials = [
        t
        for t in trial_dicts(content_trials(run))
        if t["source"] == "text" and t["control"] in controls and t["affirmative"] is True
    ]
    conf = trial_dicts(confabulation_trials(run, controls))
    out: dict[str, Any] = {
        "n_affirmative": len(trials),
        "n_confabulated": len(conf),
        "vectors_available": vectors is not None,
    }
    r = rate(len(conf), len(trials))
    out.update(
        confabulation_rate=r.estimate,
        confabulation_rate_ci_low=r.low,
        confabulation_rate_ci_high=r.high,
    )
    flags = [is_concrete(t["named"]) for t in conf if t["named"] != OTHER_TOPIC_LABEL]
    known = [f for f in flags if f is not None]
    rc = rate(sum(known), len(known))
    out.update(
        concrete_rate=rc.estimate,
        concrete_rate_ci_low=rc.low,
        concrete_rate_ci_high=rc.high,
        concrete_n=rc.n,
    )
    pool = list(vectors or []) or sorted({t["injected"] for t in trials})
    pool_flags = [f for f in (is_concrete(n) for n in pool) if f is not None]
    out["concrete_base_rate"] = sum(pool_flags) / len(pool_flags) if pool_flags else NAN
    cos_vals: list[float] = []
    pair_vals: list[float] = []
    if vectors is not None:
        cos = ConceptCosines(vectors)
        layers: set[int] = set()
        for t in conf:
            if t["named"] == OTHER_TOPIC_LABEL:
                continue
            v = cos.cos(t["named"], t["injected"], t["layer"])
            if v is not None:
                cos_vals.append(v)
                layers.add(int(t["layer"]))
        for layer in sorted(layers):
            pair_vals += cos.pair_cosines(layer)
    m = paired_mean_ci(cos_vals)
    out.update(cosine=m.estimate, cosine_ci_low=m.low, cosine_ci_high=m.high, cosine_n=m.n_a)
    out["pair_cosine"] = float(np.mean(pair_vals)) if pair_vals else NAN
    d = mean_difference_ci(cos_vals, pair_vals)
    out.update(
        cosine_vs_pairs=d.estimate,
        cosine_vs_pairs_ci_low=d.low,
        cosine_vs_pairs_ci_high=d.high,
    )
    counts: dict[str, int] = {}
    for t in conf:
        counts[t["named"]] = counts.get(t["named"], 0) + 1
    out["top_named"] = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return out


def tables(run: RunFrame) -> Tables:
    """Identification, mutual information and the confabulation profile (one-row
    ``confabulation_summary``)."""
    vectors = run.vectors()
    summary = confabulation_summary(run, vectors)
    return {
        "identification": identification_table(run),
        "mutual_information": mutual_information_table(run),
        "confabulation": confabulation_table(run, vectors),
        "confabulation_summary": pd.DataFrame([summary]),
    }


# --------------------------------------------------------------------------- scorecard step 5

SOURCE_TEXT = {
    "logits": ("candidate readout", "the top-ranked candidate after an affirmative prefill"),
    "text": ("text", "the concept named in the generated answer (rules grader)"),
}


def scorecard_lines(t: Tables, sel: Selection | None) -> list[Headline]:
    """Identification above chance and MI, from the candidate readout and from the text."""
    ident = t["identification"]
    mi = t["mutual_information"]
    # Only the rows a line can use: concept injection, at the selected layer when there is one.
    if len(mi):
        mi = mi[mi["control"] == "concept"]
        at_layer = mi if sel is None else mi[mi["layer"].map(clean) == sel.layer]
        have = set(ident["source"]) if len(ident) else set()
        # a source without trials at the selected layer: its line falls back to any layer
        if have <= (set(at_layer["source"]) if len(at_layer) else set()):
            mi = at_layer
    return [
        identification_line(ident, sel, "logits"),
        identification_line(ident, sel, "text"),
        mi_line(mi, sel, "logits"),
        mi_line(mi, sel, "text"),
    ]


def identification_line(ident: pd.DataFrame, sel: Selection | None, source: str) -> Headline:
    label, desc = SOURCE_TEXT[source]
    name = f"identification above chance ({label})"
    t = ident[ident["source"] == source] if len(ident) else ident
    if len(t) == 0:
        what = "logits" if source == "logits" else "generation"
        return not_run(5, name, f"the run has no {what} detection trials.")
    row = row_at(t, sel.layer, sel.strength, control="concept") if sel else None
    note = " (the configuration selected above)"
    if row is None or int(to_float(row.get("identification_n")) or 0) == 0:
        row, k = best_row(t, "identification_vs_chance", t["control"] == "concept")
        if row is None:
            return not_run(5, name, "no concept-injection trials with an identification grade.")
        note = f" (selected after the fact as the best of {k} configurations)"
    cfg = cfg_text(row["layer"], row["strength"])
    among = "affirmative trials" if source == "text" else "trials"
    verdict = (
        "the report carries information about which concept was injected."
        if excludes_zero(row["identification_vs_chance_ci_low"])
        else "not distinguishable from chance."
    )
    return headline_from_row(
        name,
        row,
        "identification_vs_chance",
        f"At {cfg}{note}, {desc} is the injected concept in "
        f"{ci_or_none(row['identification'], row['identification_ci_low'], row['identification_ci_high'], signed=False)} "
        f"of {among} against chance {to_float(row['chance']):.3f}; above chance by "
        f"{ci_or_none(row['identification_vs_chance'], row['identification_vs_chance_ci_low'], row['identification_vs_chance_ci_high'])}: "
        + verdict,
        kind="rate_difference",
        config=cfg,
        step=5,
    )


def mi_line(mi: pd.DataFrame, sel: Selection | None, source: str) -> Headline:
    label, desc = SOURCE_TEXT[source]
    name = f"mutual information, bits ({label})"
    t = mi[(mi["source"] == source) & (mi["control"] == "concept")] if len(mi) else mi
    if len(t) == 0:
        what = "logits" if source == "logits" else "generation"
        return not_run(
            5,
            name,
            f"the run has no concept-injection {what} trials with a reported-concept label.",
            "Not available",
        )
    row = None
    note = ""
    if sel is not None:
        cell = t[~t["pooled_strengths"].astype(bool)]
        row = row_at(cell, sel.layer, sel.strength)
        if row is not None:
            note = " (the configuration selected above)"
        else:
            pooled = t[t["pooled_strengths"].astype(bool)]
            row = row_at(pooled, sel.layer, None)
            if row is not None:
                note = (
                    " (the layer selected above, strengths pooled: too few trials per concept "
                    "in the single cell)"
                )
    if row is None:
        row, k = best_row(t, "mi_bits")
        if row is None:
            return not_run(5, name, "no labelled trials.")
        note = f" (selected after the fact as the largest of {k} rows)"
    cfg = (
        f"layer {clean(row['layer'])}, strengths pooled"
        if bool(row["pooled_strengths"])
        else cfg_text(row["layer"], row["strength"])
    )
    p = to_float(row["p_value"])
    informative = not math.isnan(p) and p < 0.05 and excludes_zero(row["mi_bits_ci_low"])
    bits = to_float(row["mi_bits"])
    verdict = (
        f"the report carries {bits:.2f} bits about the injected direction at layer "
        f"{clean(row['layer'])}."
        if informative
        else "not above the shuffled-label baseline, so no detectable information about "
        "which concept was injected."
    )
    none_text = (
        f" {pct(row['none_fraction'])} of answers name no concept (label '<none>')."
        if source == "text"
        else ""
    )
    return headline_from_row(
        name,
        row,
        "mi_bits",
        f"At {cfg}{note}, MI between the injected concept and {desc} is "
        f"{ci_or_none(row['mi_bits'], row['mi_bits_ci_low'], row['mi_bits_ci_high'], signed=False)} bits "
        f"(Miller-Madow; ceiling log2({int(to_float(row['n_concepts']))}) = {to_float(row['max_bits']):.2f}; "
        f"plug-in {to_float(row['plugin_bits']):.2f} vs shuffled labels {to_float(row['shuffled_mean_bits']):.2f}, "
        f"permutation p = {p:.3f}): " + verdict + none_text,
        kind="bits",
        config=cfg,
        step=5,
    )
