"""Thoughts-vs-text table and headline row.

The table comes from the run's ``thoughts_vs_text`` trials (rules grades ``identified`` and
``exact_match``, the readout's ``candidate_rank`` and ``n_candidates``). Column conventions
are those of :mod:`introscope.tables`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from introscope.headlines import Headline, cfg_text, ci_text, headline_from_row, pct, post_hoc
from introscope.tables import (
    Record,
    RunFrame,
    Tables,
    best_row,
    by_config,
    cond,
    frame,
    grade_value,
    matched,
    number,
    put_no_diff,
    put_rate,
    put_rate_diff,
    put_vs_chance,
)

#: Chance level when no trial records its number of candidates (the solver offers 10).
DEFAULT_CHANCE = 0.1


def identified(r: Record) -> bool | None:
    """The injected word ranks first among the candidates: the rules grade ``identified``,
    else ``candidate_rank == 1`` from the readout; None when neither is there."""
    v = grade_value(r["grades"], "identified")
    if v is not None:
        return v
    rk = number(r["logits"].get("candidate_rank"))
    return None if rk is None else rk == 1


def thoughts_vs_text_table(run: RunFrame) -> pd.DataFrame:
    """Thoughts vs. text, by layer x strength x control.

    ``identification`` (the injected word ranks first among the candidates; from the rules
    grade ``identified``, else ``candidate_rank == 1``), ``chance`` (1 / n_candidates, 0.1 by
    default), ``identification_vs_chance`` (rate minus chance, Wilson bounds shifted),
    ``identification_vs_control`` (minus the no-injection trials' rate, Newcombe CI),
    ``exact_match`` (the sentence was transcribed exactly) and ``both`` (identified and
    transcribed exactly, when both grades sit on the same trial).
    """
    recs = run.records("thoughts_vs_text")
    if not recs:
        return pd.DataFrame()
    controls = [r for r in recs if cond(r, "control") == "none"]
    rows = []
    for out, trials in by_config(recs):
        layer, strength, control = out["layer"], out["strength"], out["control"]
        ident = [identified(t) for t in trials]
        put_rate(out, "identification", ident)
        ncs = [number(t["logits"].get("n_candidates")) for t in trials]
        ncs_v = [n for n in ncs if n]
        chance = float(np.mean([1.0 / n for n in ncs_v])) if ncs_v else DEFAULT_CHANCE
        out["chance"] = chance
        put_vs_chance(out, "identification_vs_chance", "identification", chance)
        if control == "none":
            put_no_diff(out, "identification_vs_control")
        else:
            ctrl = [identified(c) for c in matched(controls, layer, strength)]
            put_rate_diff(out, "identification_vs_control", ident, ctrl)
        exact = [grade_value(t["grades"], "exact_match") for t in trials]
        put_rate(out, "exact_match", exact)
        put_rate(
            out,
            "both",
            (
                a and b if a is not None and b is not None else None
                for a, b in zip(ident, exact, strict=True)
            ),
        )
        rows.append(out)
    return frame(rows)  # already in config_order: by_config sorts the groups


def tables(run: RunFrame, _upstream: Mapping[str, Tables]) -> Tables:
    return {"thoughts_vs_text": thoughts_vs_text_table(run)}


def headlines(t: Tables, _upstream: Mapping[str, Tables]) -> list[Headline]:
    """Identification above chance at the best concept-injection configuration, with the
    exact-transcription rate there."""
    tvt = t["thoughts_vs_text"]
    if len(tvt) == 0:
        return []
    row, k = best_row(tvt, "identification_vs_chance", tvt["control"] == "concept")
    if row is None:
        return []
    sentence = (
        f"At {cfg_text(row['layer'], row['strength'])}{post_hoc(k)}, the word "
        f"picked among the candidates is the injected one in {pct(row['identification'])} "
        f"of trials, {ci_text(row['identification_vs_chance'], row['identification_vs_chance_ci_low'], row['identification_vs_chance_ci_high'])} "
        f"relative to chance ({row['chance']:.2f}); the sentence is still transcribed "
        f"exactly in {pct(row['exact_match'])} of trials."
    )
    return [
        headline_from_row(
            "thoughts vs text: identification above chance",
            row,
            "identification_vs_chance",
            sentence,
            kind="rate_difference",
        )
    ]
