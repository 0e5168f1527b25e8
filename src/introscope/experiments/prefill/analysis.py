"""Prefill table and headline rows.

The table comes from the run's ``prefill`` trials (rules grades ``apology`` and
``coherent``). Its control rows are ``injected == "none"`` (the prefill's own condition
column, not ``control``). Column conventions are those of :mod:`introscope.tables`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from introscope.experiments.grader_trust import rules_validation_table
from introscope.experiments.prefill.params import CONDITIONS
from introscope.grading.validation import low_trust_note
from introscope.headlines import (
    Headline,
    cfg_text,
    ci_text,
    headline_from_row,
    low_trust,
    post_hoc,
)
from introscope.tables import (
    RunFrame,
    Tables,
    as_layer,
    as_strength,
    best_row,
    cond,
    frame,
    grade_value,
    group,
    matched,
    put_no_diff,
    put_rate,
    put_rate_diff,
    sort_key,
)


def prefill_table(run: RunFrame) -> pd.DataFrame:
    """Prefill / retroactive intention: apology rate per injected condition x layer x strength.

    ``apology`` and ``coherent`` are rates; ``apology_vs_none`` is the apology rate minus that
    of the matched ``injected == "none"`` trials (Newcombe CI). A lower apology rate under
    "match" than under "none" means the report of intent carries information about the
    direction injected before the prefilled word; "other" is the wrong-concept control.
    """
    recs = run.records("prefill")
    if not recs:
        return pd.DataFrame()
    none = [r for r in recs if cond(r, "injected") == "none"]
    groups = group(
        recs,
        lambda r: (
            cond(r, "injected"),
            as_layer(cond(r, "layer")),
            as_strength(cond(r, "strength")),
        ),
    )
    rows = []
    for (injected, layer, strength), trials in sorted(
        groups.items(),
        key=lambda kv: (
            sort_key(kv[0][1]),
            sort_key(kv[0][2]),
            sort_key(kv[0][0], CONDITIONS),
        ),
    ):
        out: dict[str, Any] = {
            "injected": injected,
            "layer": layer,
            "strength": strength,
            "n_trials": len(trials),
        }
        apo = [grade_value(t["grades"], "apology") for t in trials]
        put_rate(out, "apology", apo)
        put_rate(out, "coherent", (grade_value(t["grades"], "coherent") for t in trials))
        if injected == "none":
            put_no_diff(out, "apology_vs_none")
        else:
            ctrl = [grade_value(c["grades"], "apology") for c in matched(none, layer, strength)]
            put_rate_diff(out, "apology_vs_none", apo, ctrl)
        rows.append(out)
    return frame(rows)


def tables(run: RunFrame, _upstream: Mapping[str, Tables]) -> Tables:
    return {
        "prefill": prefill_table(run),
        "rules_validation": rules_validation_table(run, "prefill"),
    }


def headlines(t: Tables, _upstream: Mapping[str, Tables]) -> list[Headline]:
    """For "match" and "other": the configuration where injection lowers the apology rate
    most, relative to no injection (low trust when the rules' apology grade is below its
    agreement target)."""
    pre = t["prefill"]
    if len(pre) == 0:
        return []
    # The hoped-for effect is a drop in apologies, so the best row is the most negative one.
    ranked = pre.assign(apology_decrease=-pre["apology_vs_none"])
    lines = []
    for kind in ("match", "other"):
        row, k = best_row(ranked, "apology_decrease", ranked["injected"] == kind)
        if row is None:
            continue
        whose = "the prefilled word" if kind == "match" else "a different word"
        lines.append(
            low_trust(
                headline_from_row(
                    f"prefill: apology change ({kind})",
                    row,
                    "apology_vs_none",
                    f"At {cfg_text(row['layer'], row['strength'])}{post_hoc(k)}, "
                    f"injecting {whose}'s vector before the prefill changes the apology rate by "
                    f"{ci_text(row['apology_vs_none'], row['apology_vs_none_ci_low'], row['apology_vs_none_ci_high'])} "
                    "relative to no injection.",
                    kind="rate_difference",
                ),
                low_trust_note("prefill", ("apology",)),
            )
        )
    return lines
