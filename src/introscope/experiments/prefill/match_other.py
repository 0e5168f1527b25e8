"""Prefill's match - other contrast on coherent answers, pooled over the configurations run
(no configuration is selected), with whether the "other" vector was norm-matched."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from introscope.headlines import Headline, ci_sign, ci_text, headline_from_row
from introscope.stats import paired_mean_ci
from introscope.tables import (
    Record,
    RunFrame,
    as_dict,
    as_layer,
    as_strength,
    clean,
    cond,
    frame,
    grade_value,
    group,
    matched,
    number,
    put_diff,
    put_rate,
    sort_key,
)


def coherent_apology(trials: Sequence[Record]) -> float | None:
    """The apology rate among the coherent answers of ``trials`` (None without one)."""
    grades = [
        grade_value(t["grades"], "apology")
        for t in trials
        if grade_value(t["grades"], "coherent") is True
    ]
    vals = [g for g in grades if g is not None]
    return float(np.mean(vals)) if vals else None


def match_vs_other_table(run: RunFrame) -> pd.DataFrame:
    """Match - other at the same configuration, on coherent answers, paired per word.

    One row per (layer, strength) and a last row pooled over them (``layer`` and
    ``strength`` empty, ``configurations`` = how many). Per prefilled word and
    configuration, the apology rate among its coherent answers under "match" minus under
    "other" (the other word's vector rescaled to the prefilled word's norm); a word whose
    coherent answers miss either arm there is left out of that configuration. The pooled row
    averages each word's differences over the configurations where it has both (no
    configuration is selected). ``match_minus_other`` is the mean over words with a
    one-sample t CI (``_n``: words); ``apology_match`` / ``apology_other`` /
    ``apology_none`` are apology rates among coherent answers (Wilson, n = coherent trials);
    ``coherent_match`` / ``coherent_other`` the coherent rates over all trials;
    ``norm_matched`` (every row) whether the stored "other" injections have the norm of the
    word's "match" injection (:func:`norm_matched`).
    """
    recs = run.records("prefill")
    if not recs:
        return pd.DataFrame()
    none = [r for r in recs if cond(r, "injected") == "none"]
    cells = group(
        [r for r in recs if cond(r, "injected") in ("match", "other")],
        lambda r: (as_layer(cond(r, "layer")), as_strength(cond(r, "strength"))),
    )
    per_word: dict[str, list[float]] = {}
    rows = []
    for (layer, strength), trials in sorted(
        cells.items(), key=lambda kv: (sort_key(kv[0][0]), sort_key(kv[0][1]))
    ):
        by_word = group(trials, lambda r: (cond(r, "word"), cond(r, "injected")))
        diffs = []
        for word in dict.fromkeys(cond(r, "word") for r in trials):
            m = coherent_apology(by_word.get((word, "match"), []))
            o = coherent_apology(by_word.get((word, "other"), []))
            if m is not None and o is not None:
                diffs.append(m - o)
                per_word.setdefault(str(word), []).append(m - o)
        out: dict[str, Any] = {"layer": layer, "strength": strength, "configurations": 1}
        arms = {k: [r for r in trials if cond(r, "injected") == k] for k in ("match", "other")}
        put_coherent_rates(out, arms["match"], arms["other"], matched(none, layer, strength))
        put_diff(out, "match_minus_other", paired_mean_ci(diffs))
        rows.append(out)
    pooled: dict[str, Any] = {"layer": None, "strength": None, "configurations": len(cells)}
    match_all = [r for r in recs if cond(r, "injected") == "match"]
    other_all = [r for r in recs if cond(r, "injected") == "other"]
    put_coherent_rates(pooled, match_all, other_all, none)
    put_diff(
        pooled,
        "match_minus_other",
        paired_mean_ci([float(np.mean(v)) for v in per_word.values()]),
    )
    rows.append(pooled)
    out_df = frame(rows)
    out_df["norm_matched"] = norm_matched(recs)
    return out_df


def norm_matched(recs: Sequence[Record]) -> bool | None:
    """Every "other" injection has the norm of its word's "match" injection at the same
    layer (protocol 2), as the stored injections record it; None when no pair records both
    norms (runs made before protocol 2 injected "other" at its own norm)."""
    norms: dict[tuple[Any, Any, Any], float] = {}
    for r in recs:
        if cond(r, "injected") == "match":
            v = number(as_dict(r.get("injection")).get("vector_norm"))
            if v is not None:
                norms[(cond(r, "word"), cond(r, "layer"), cond(r, "strength"))] = v
    seen = False
    for r in recs:
        if cond(r, "injected") != "other":
            continue
        v = number(as_dict(r.get("injection")).get("vector_norm"))
        m = norms.get((cond(r, "word"), cond(r, "layer"), cond(r, "strength")))
        if v is None or m is None:
            continue
        seen = True
        if not math.isclose(v, m, rel_tol=1e-4):
            return False
    return True if seen else None


def put_coherent_rates(
    out: dict[str, Any],
    match: Sequence[Record],
    other: Sequence[Record],
    none: Sequence[Record],
) -> None:
    """Apology rates among coherent answers per arm, and the coherent rates."""
    for name, arm in (("match", match), ("other", other), ("none", none)):
        put_rate(
            out,
            f"apology_{name}",
            (
                grade_value(t["grades"], "apology")
                for t in arm
                if grade_value(t["grades"], "coherent") is True
            ),
        )
    for name, arm in (("match", match), ("other", other)):
        put_rate(out, f"coherent_{name}", (grade_value(t["grades"], "coherent") for t in arm))


def match_vs_other_headline(row: pd.Series) -> Headline:
    """The pooled match - other row as a headline (unit: concepts, i.e. prefilled words)."""
    ci = ci_text(
        row["match_minus_other"], row["match_minus_other_ci_low"], row["match_minus_other_ci_high"]
    )
    n = int(row["match_minus_other_n"])
    side = ci_sign(row["match_minus_other_ci_low"], row["match_minus_other_ci_high"])
    if n < 2 or np.isnan(float(row["match_minus_other_ci_low"])):
        what = "undetermined (fewer than two words with coherent answers under both vectors)."
    elif side < 0:
        what = (
            "the model disowns the word less after its own vector than after another "
            "word's: the judgement of its reply carries information about the direction "
            "injected before it, beyond the size of the push."
        )
    elif side > 0:
        what = "the model disowns the word *more* after its own vector than after another's."
    else:
        what = "no difference between the two vectors is distinguishable."
    configs = int(row["configurations"])
    matched_norm = clean(row.get("norm_matched"))
    other = (
        "another word's vector"
        if matched_norm is None
        else "another word's vector of the same norm"
        if bool(matched_norm)
        else "another word's vector (at its own norm, not the prefilled word's: this run "
        "predates prefill protocol 2, so the two also differ in how hard they push)"
    )
    return headline_from_row(
        "prefill: match - other apology (coherent answers)",
        row,
        "match_minus_other",
        f"On coherent answers, averaged over the {configs} configuration"
        f"{'s' if configs != 1 else ''} run (none selected), injecting the prefilled word's "
        f"own vector instead of {other} changes the apology rate by {ci} (paired per "
        f"prefilled word, n = {n} concepts): {what}",
        unit="concepts",
        kind="rate_difference",
    )
