"""Content specificity of detection reports: does the report say *which* concept was injected?

Three families of numbers, all computed on the ``detection`` experiment's trials (the frame
from :func:`introscope.store.load_run`; other experiments are ignored):

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
  the injection layer (run_dir/vectors.safetensors, see :func:`load_run_vectors`), against
  the mean cosine over all distinct pairs of concepts in the vector set at that layer.

The **failure taxonomy** (one rules outcome per graded trial, by layer x strength x control)
is :func:`introscope.analysis.outcome_table`; it is not duplicated here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from introscope.analysis import (
    _clean,
    _cond,
    _group,
    _layer,
    _number,
    _records,
    _select,
    _sort_key,
    _strength,
    grade_value,
)
from introscope.stats import mean_difference_ci, mutual_information, paired_mean_ci, rate

__all__ = [
    "MAIN_ABSTRACT",
    "NONE_LABEL",
    "OTHER_TOPIC_LABEL",
    "confabulation_summary",
    "confabulation_table",
    "confabulation_trials",
    "content_trials",
    "identification_table",
    "is_concrete",
    "load_run_vectors",
    "mutual_information_table",
]

NAN = float("nan")
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
def _concreteness() -> tuple[frozenset[str], frozenset[str]]:
    """(concrete, known) concept names, lowercase."""
    from introscope.words import word_list

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
    concrete, known = _concreteness()
    key = name.strip().lower()
    if key in concrete:
        return True
    if key in known:
        return False
    return None


# --------------------------------------------------------------------------- per-trial rows


def _rules(grades: Any) -> dict[str, Any] | None:
    g = grades.get("rules") if isinstance(grades, dict) else None
    if not isinstance(g, dict) or ("error" in g and len(g) == 1):
        return None
    return g


def content_trials(df: pd.DataFrame | None) -> pd.DataFrame:
    """One row per injected detection trial (no-injection controls excluded).

    Columns: ``source`` ("logits" / "text"), ``layer``, ``strength``, ``control``,
    ``injected``, ``reported`` (top candidate; for text the rules ``reported`` concept or
    :data:`NONE_LABEL`; None when unknown), ``correct`` (logits: rank 1; text: rules
    ``correct_concept``), ``affirmative`` (text only), ``outcome`` (text only) and
    ``chance`` (logits: 1 / n_candidates; text: 1 / K concepts injected in the run).
    """
    rows: list[dict[str, Any]] = []
    for r in _records(_select(df, "detection", "logits")):
        injected, control = _cond(r, "concept"), _cond(r, "control")
        if control == "none" or not isinstance(injected, str):
            continue
        lg = r["logits"]
        rk, nc = _number(lg.get("concept_rank")), _number(lg.get("n_candidates"))
        top = lg.get("top_candidate")
        rows.append(
            {
                "source": "logits",
                "layer": _layer(_cond(r, "layer")),
                "strength": _strength(_cond(r, "strength")),
                "control": control,
                "injected": injected,
                "reported": top if isinstance(top, str) else None,
                "correct": None if rk is None else rk == 1,
                "affirmative": None,
                "outcome": None,
                "chance": 1.0 / nc if nc else NAN,
            }
        )
    gen = _records(_select(df, "detection", "generation"))
    text_rows: list[dict[str, Any]] = []
    for r in gen:
        injected, control = _cond(r, "concept"), _cond(r, "control")
        if control == "none" or not isinstance(injected, str):
            continue
        g = _rules(r["grades"])
        reported: str | None = None
        if g is not None and "reported" in g:
            rep = g.get("reported")
            reported = rep if isinstance(rep, str) and rep else NONE_LABEL
        outcome = g.get("outcome") if g is not None else None
        text_rows.append(
            {
                "source": "text",
                "layer": _layer(_cond(r, "layer")),
                "strength": _strength(_cond(r, "strength")),
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


def _trial_dicts(trials: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in trials.to_dict("records"):
        out.append({k: _clean(v) for k, v in row.items()})
    return out


def _cfg_sort(key: tuple[Any, ...]) -> tuple[Any, ...]:
    source, control, layer, strength = key
    return (
        _sort_key(source, SOURCES),
        _sort_key(control, CONTROL_ORDER),
        _sort_key(layer),
        _sort_key(strength),
    )


# --------------------------------------------------------------------------- identification


def identification_table(df: pd.DataFrame | None) -> pd.DataFrame:
    """Identification accuracy vs chance by source x control x layer x strength.

    Columns: ``source, layer, strength, control, n_trials``, the rate ``identification``
    (Wilson CI, ``_n``: logits trials with a rank; text trials that are affirmative and have
    a ``correct_concept`` grade), ``chance``, ``identification_vs_chance`` (shifted bounds)
    and, for text, ``n_affirmative``.
    """
    trials = _trial_dicts(content_trials(df))
    if not trials:
        return pd.DataFrame()
    groups = _group(trials, lambda t: (t["source"], t["control"], t["layer"], t["strength"]))
    rows = []
    for key in sorted(groups, key=_cfg_sort):
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


# --------------------------------------------------------------------------- mutual information


def _mi_row(
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
    df: pd.DataFrame | None,
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
        for t in _trial_dicts(content_trials(df))
        if t["reported"] is not None
        and not (drop_none and t["reported"] == NONE_LABEL)
        and (keep_c is None or t["control"] in keep_c)
        and (keep_l is None or t["layer"] in keep_l)
    ]
    if not trials:
        return pd.DataFrame()
    rows: list[dict[str, Any]] = []
    by_layer = _group(trials, lambda t: (t["source"], t["control"], t["layer"]))
    for (source, control, layer), ts in sorted(
        by_layer.items(), key=lambda kv: _cfg_sort((*kv[0], None))
    ):
        if len(ts) < 2:
            continue
        strengths = sorted({t["strength"] for t in ts}, key=_sort_key)
        base = {
            "source": source,
            "control": control,
            "layer": layer,
            "strength": NAN,
            "pooled_strengths": True,
        }
        pairs = [(str(t["injected"]), str(t["reported"])) for t in ts]
        rows.append(_mi_row(base, pairs, n_shuffles, n_boot, seed))
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
            rows.append(_mi_row(cell_base, cell_pairs, n_shuffles, n_boot, seed))
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- confabulation


def load_run_vectors(run_dir: Path | str) -> Any | None:
    """The run's concept vectors (``run_dir/vectors.safetensors``), or None when absent or
    unreadable (relatedness is then reported as unavailable)."""
    path = Path(run_dir) / "vectors.safetensors"
    if not path.is_file():
        return None
    try:
        from introscope.core.vectors import load_vectors

        return load_vectors(path)
    except Exception:
        return None


class _Cosines:
    """Cosines between concept vectors at one layer, with a per-layer cache."""

    def __init__(self, vectors: Any) -> None:
        self.vs = vectors
        self.names: list[str] = list(getattr(vectors, "names", []))
        self.index = {n.lower(): i for i, n in enumerate(self.names)}
        self._mats: dict[int, np.ndarray] = {}

    def _mat(self, layer: int) -> np.ndarray | None:
        if layer not in self._mats:
            try:
                m = np.stack(
                    [np.asarray(self.vs.get(n, layer).float().numpy(), float) for n in self.names]
                )
            except Exception:
                return None
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


def confabulation_trials(
    df: pd.DataFrame | None, controls: Iterable[str] = ("concept",)
) -> pd.DataFrame:
    """Affirmative injected text trials that name something other than the injected concept:
    ``layer, strength, control, injected, named``."""
    keep = set(controls)
    rows = []
    for t in _trial_dicts(content_trials(df)):
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
    df: pd.DataFrame | None, vectors: Any = None, controls: Iterable[str] = ("concept",)
) -> pd.DataFrame:
    """Which concepts are named when the report misidentifies, most frequent first.

    Columns: ``named``, ``count``, ``fraction`` (of confabulated trials, Wilson CI, ``_n``),
    ``concrete`` (True / False / None, see :func:`is_concrete`), ``cosine`` (mean cosine
    between the named and the injected concept's vectors at the injection layer, t CI,
    ``_n``; NaN without vectors) and ``injected_examples`` (up to three injected concepts).
    """
    conf = _trial_dicts(confabulation_trials(df, controls))
    if not conf:
        return pd.DataFrame()
    cos = _Cosines(vectors) if vectors is not None else None
    total = len(conf)
    groups = _group(conf, lambda t: (t["named"],))
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
    df: pd.DataFrame | None, vectors: Any = None, controls: Iterable[str] = ("concept",)
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
        for t in _trial_dicts(content_trials(df))
        if t["source"] == "text" and t["control"] in controls and t["affirmative"] is True
    ]
    conf = _trial_dicts(confabulation_trials(df, controls))
    out: dict[str, Any] = {"n_affirmative": len(trials), "n_confabulated": len(conf)}
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
    pool = list(getattr(vectors, "names", []) or []) or sorted({t["injected"] for t in trials})
    pool_flags = [f for f in (is_concrete(n) for n in pool) if f is not None]
    out["concrete_base_rate"] = sum(pool_flags) / len(pool_flags) if pool_flags else NAN
    cos_vals: list[float] = []
    pair_vals: list[float] = []
    if vectors is not None:
        cos = _Cosines(vectors)
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
