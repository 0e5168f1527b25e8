"""The confabulation profile of detection reports: among affirmative injected trials that
name something other than the injected concept, which concepts are named, whether they are
concrete nouns, and how related they are to the injected concept (the cosine between the two
concept vectors at the injection layer, against all concept pairs)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from introscope.experiments.detection.content import NONE_LABEL, content_trials, trial_dicts
from introscope.stats import mean_difference_ci, paired_mean_ci, rate
from introscope.tables import NAN, RunFrame, group
from introscope.words import word_list

OTHER_TOPIC_LABEL = "<other topic>"

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
