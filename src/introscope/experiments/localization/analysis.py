"""Localization tables, headline rows and scorecard step 7 (localization vs abstractness).

The model is asked which of N numbered sentences carried the injected thought, and on the
same stimuli which sentence is the most abstract. Localization above chance that the
abstractness question matches may follow how the perturbed sentence reads, not where the
injection happened. Column conventions are those of :mod:`introscope.tables`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from scipy import stats

from introscope.experiments.base import ScoreInputs
from introscope.headlines import (
    Headline,
    cfg_text,
    ci_text,
    excludes_zero,
    headline_from_row,
    p_text,
    pct,
    post_hoc,
    step_lines,
)
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
    group,
    is_nan,
    matched,
    number,
    put_mean,
    put_no_diff,
    put_rate,
    put_rate_diff,
    put_vs_chance,
    sort_key,
    to_float,
)

STEP = 7
STEP_TITLE = "localization vs abstractness"
QUESTION_ORDER: tuple[str, ...] = ("injected", "abstract")
#: Sentences per stimulus when no trial records its answer distribution.
DEFAULT_OPTIONS = 5


def correct(r: Record) -> bool | None:
    """The chosen sentence is the target (None when either is missing)."""
    lg = r["logits"]
    chosen, target = number(lg.get("chosen")), number(lg.get("target"))
    if target is None:
        target = number(cond(r, "target"))
    if chosen is None or target is None:
        return None
    return int(chosen) == int(target)


def interval(row: Mapping[str, Any], col: str, signed: bool = True) -> str:
    """``col`` of a table row with its CI, as :func:`introscope.tables.ci_text` prints it."""
    return ci_text(row[col], row[f"{col}_ci_low"], row[f"{col}_ci_high"], signed)


def n_options(trials: Sequence[Record]) -> int:
    for t in trials:
        probs = t["logits"].get("probs")
        if isinstance(probs, Sequence) and len(probs) > 1:
            return len(probs)
    return DEFAULT_OPTIONS


def localization_key(r: Record) -> tuple[Any, ...]:
    """(question, layer, strength, control)."""
    return (
        cond(r, "question"),
        as_layer(cond(r, "layer")),
        as_strength(cond(r, "strength")),
        cond(r, "control"),
    )


def localization_order(key: tuple[Any, ...]) -> tuple[Any, ...]:
    return (
        sort_key(key[0], QUESTION_ORDER),
        sort_key(key[1]),
        sort_key(key[2]),
        sort_key(key[3], CONTROL_ORDER),
    )


def localization_table(run: RunFrame) -> pd.DataFrame:
    """Localization, by question x layer x strength x control (``control == "none"``: the
    same stimuli without injection).

    ``accuracy``: the chosen sentence is the injected one (Wilson CI); ``chance`` = 1/N;
    ``accuracy_vs_chance`` (Wilson bounds shifted by chance) with ``accuracy_p`` (exact
    binomial test against chance, two-sided); ``p_target``: mean renormalised probability
    of the target. On injected rows, ``accuracy_vs_none``: minus the same question's
    no-injection accuracy on the same stimuli (Newcombe; positional bias cancels), and,
    on rows of the localization question, ``localization_minus_abstractness``: accuracy
    minus the abstractness question's accuracy at the same configuration (Newcombe). A
    localization accuracy that the abstractness question matches is not evidence that the
    report carries information about where the thought was injected, over and above how
    the injected sentence looks.
    """
    # Every measure: the solver reads out logits whatever the spec's measure said.
    recs = run.records("localization")
    if not recs:
        return pd.DataFrame()
    groups = group(recs, localization_key)
    none_by_q = {
        q: [r for r in recs if cond(r, "control") == "none" and cond(r, "question") == q]
        for q in {cond(r, "question") for r in recs}
    }
    rows = []
    for (question, layer, strength, control), trials in sorted(
        groups.items(), key=lambda kv: localization_order(kv[0])
    ):
        out: dict[str, Any] = {
            "question": question,
            "layer": layer,
            "strength": strength,
            "control": control,
            "n_trials": len(trials),
        }
        hits = [correct(t) for t in trials]
        put_rate(out, "accuracy", hits)
        chance = 1.0 / n_options(trials)
        out["chance"] = chance
        put_vs_chance(out, "accuracy_vs_chance", "accuracy", chance)
        vals = [c for c in hits if c is not None]
        out["accuracy_p"] = (
            float(stats.binomtest(sum(vals), len(vals), chance).pvalue) if vals else NAN
        )
        put_mean(out, "p_target", (number(t["logits"].get("p_target")) for t in trials))
        put_mean(out, "digit_mass", (number(t["logits"].get("digit_mass")) for t in trials))
        if control == "none":
            put_no_diff(out, "accuracy_vs_none")
        else:
            ref = matched(none_by_q.get(question, []), layer, strength)
            put_rate_diff(out, "accuracy_vs_none", hits, [correct(t) for t in ref])
        other = groups.get(("abstract", layer, strength, control), [])
        if question == "injected" and other:
            put_rate_diff(out, "localization_minus_abstractness", hits, [correct(t) for t in other])
        else:
            put_no_diff(out, "localization_minus_abstractness")
        rows.append(out)
    return frame(rows)


def tables(run: RunFrame, _upstream: Mapping[str, Tables]) -> Tables:
    return {"localization": localization_table(run)}


# --------------------------------------------------------------------------- headlines


def headlines(t: Tables, _upstream: Mapping[str, Tables]) -> list[Headline]:
    """Localization accuracy above chance at the best injected configuration, the same
    configuration's localization - abstractness difference, and the no-injection accuracy
    (positional bias)."""
    table = t["localization"]
    if len(table) == 0:
        return []
    loc = table["question"] == "injected"
    row, k = best_row(table, "accuracy_vs_chance", loc & (table["control"] == "concept"))
    if row is None:
        row, k = best_row(table, "accuracy_vs_chance", loc & (table["control"] != "none"))
    lines: list[Headline] = []
    if row is not None:
        above = excludes_zero(row["accuracy_vs_chance_ci_low"])
        what = (
            "the numbered answer carries information about which sentence received the injection"
            if above
            else "no evidence that the numbered answer carries information about which "
            "sentence received the injection"
        )
        lines.append(
            headline_from_row(
                "localization: accuracy vs chance",
                row,
                "accuracy_vs_chance",
                f"At {cfg_text(row['layer'], row['strength'])}{post_hoc(k)}, asked which of "
                f"{round(1 / row['chance'])} sentences carried the injected thought, the model "
                f"picks the injected one in {pct(row['accuracy'])} of trials "
                f"(n={int(row['accuracy_n'])}), "
                f"{interval(row, 'accuracy_vs_chance')} relative to chance {row['chance']:.2f} "
                f"(binomial p = {p_text(row['accuracy_p'])}): {what}.",
                kind="rate_difference",
            )
        )
        d = row["localization_minus_abstractness"]
        if not is_nan(d):
            if excludes_zero(row["localization_minus_abstractness_ci_low"]):
                what2 = (
                    "the localization answer carries information beyond how the injected "
                    "sentence looks to an unrelated question"
                )
            elif above:
                what2 = (
                    "localization is not separated from the abstractness confound: the same "
                    "injection makes the sentence stand out to an unrelated question about as "
                    "often, so it is not evidence of access to where the thought was injected"
                )
            else:
                what2 = (
                    "localization is not above chance in the first place, so this comparison "
                    "is uninformative"
                )
            lines.append(
                headline_from_row(
                    "localization - abstractness",
                    row,
                    "localization_minus_abstractness",
                    "On the same stimuli, the 'which sentence is the most abstract?' question "
                    "finds the injected sentence at a rate that the localization question "
                    f"exceeds by {interval(row, 'localization_minus_abstractness')}: {what2}.",
                    n=row["localization_minus_abstractness_n"]
                    + row["localization_minus_abstractness_n_ref"],
                    kind="rate_difference",
                )
            )
    none = table[loc & (table["control"] == "none")]
    if len(none):
        c = none.iloc[0]
        lines.append(
            headline_from_row(
                "localization: no-injection accuracy",
                c,
                "accuracy",
                "Without any injection, the answer matches the (arbitrary) target sentence in "
                f"{interval(c, 'accuracy', signed=False)} of trials (chance {c['chance']:.2f}); "
                "a departure from chance here is positional bias, not information about an "
                "injection.",
                kind="rate",
                # No positional bias: the answer matches the target at chance.
                null=to_float(c["chance"]),
            )
        )
    return lines


# --------------------------------------------------------------------------- scorecard


def scorecard(inputs: ScoreInputs) -> list[Headline]:
    """Step 7: the headline rows (accuracy vs chance, minus abstractness, no injection)."""
    return step_lines(STEP, STEP_TITLE, "localization", headlines(inputs.tables, inputs.upstream))
