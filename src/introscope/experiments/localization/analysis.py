"""Localization tables, headline rows and scorecard step 7 (localization vs abstractness).

The model is asked which of N numbered sentences carried the injected thought, and on the
same stimuli which sentence is the most abstract. Localization above chance that the
abstractness question matches may follow how the perturbed sentence reads, not where the
injection happened. The headlines read one configuration, declared in the spec or chosen
on half the concepts and estimated on the other half, with the concept as the unit
(:mod:`introscope.experiments.selection`). Column conventions are those of
:mod:`introscope.tables`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from scipy import stats

from introscope.experiments.base import ScoreInputs
from introscope.experiments.selection import (
    Choice,
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
from introscope.headlines import (
    Headline,
    cfg_text,
    ci_or_none,
    ci_text,
    excludes_zero,
    headline_from_row,
    pct,
    step_lines,
    undetermined,
    verdict,
)
from introscope.tables import (
    CONTROL_ORDER,
    NAN,
    Record,
    RunFrame,
    Tables,
    as_layer,
    as_strength,
    cond,
    frame,
    group,
    is_nan,
    matched,
    number,
    put_diff,
    put_mean,
    put_no_diff,
    put_rate,
    put_rate_diff,
    put_vs_chance,
    row_at,
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


def concept_interval(row: Mapping[str, Any], col: str) -> str:
    """A concept-level estimate with its CI ("no interval: too few concepts")."""
    return ci_or_none(row[col], row[f"{col}_ci_low"], row[f"{col}_ci_high"], unit="concepts")


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
    minus the abstractness question's accuracy at the same configuration (Newcombe). The
    same with the concept as the unit: ``accuracy_by_concept`` (per-concept accuracies
    averaged, t interval over concepts) and ``localization_minus_abstractness_by_concept``
    (the two questions paired by concept). A localization accuracy that the abstractness
    question matches is not evidence that the report carries information about where the
    thought was injected, over and above how the injected sentence looks.
    """
    # Every measure: the solver reads out logits whatever the spec's measure said.
    recs = run.records("localization")
    if not recs:
        return pd.DataFrame()
    per = concept_table(run)
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
        # The same rates with the concept as the unit: per-concept accuracy averaged (t
        # interval over concepts), and the two questions paired by concept.
        mine = concept_values(per, CELL_KEYS, (question, layer, strength, control), "accuracy")
        put_mean(out, "accuracy_by_concept", list(mine))
        theirs = concept_values(per, CELL_KEYS, ("abstract", layer, strength, control), "accuracy")
        if question == "injected" and len(theirs):
            put_diff(
                out, "localization_minus_abstractness_by_concept", paired_difference(mine, theirs)
            )
        else:
            put_no_diff(out, "localization_minus_abstractness_by_concept")
        rows.append(out)
    return frame(rows)


def concept_table(run: RunFrame) -> pd.DataFrame:
    """Per question x layer x strength x control x concept: the concept's ``accuracy`` over
    its stimuli (no-injection trials carry their stimulus's concept), the unit the headline
    estimates average."""
    recs = run.records("localization")
    concept_of = {
        cond(r, "stimulus_id"): cond(r, "concept")
        for r in recs
        if cond(r, "control") != "none" and cond(r, "concept") is not None
    }
    points = []
    for r in recs:
        question, layer, strength, control = localization_key(r)
        concept = cond(r, "concept") or concept_of.get(cond(r, "stimulus_id"))
        points.append(
            {
                "question": question,
                "layer": layer,
                "strength": strength,
                "control": control,
                "concept": concept,
                "accuracy": correct(r),
            }
        )
    return per_concept(points, CELL_KEYS, ("accuracy",))


KEYS = ("layer", "strength")
CELL_KEYS = ("question", "layer", "strength", "control")


def tables(run: RunFrame, _upstream: Mapping[str, Tables]) -> Tables:
    """``localization`` (per configuration), ``localization_concepts`` (per concept), the
    ``selection`` of the configuration the headlines read and ``held_out`` (the estimates
    there, on the held-out concepts)."""
    table = localization_table(run)
    per = concept_table(run)
    choice = choose_configuration(run, per)
    return {
        "localization": table,
        "localization_concepts": per,
        "selection": selection_frame(choice),
        "held_out": held_out_estimates(table, per, choice),
    }


def choose_configuration(run: RunFrame, per: pd.DataFrame) -> Choice | None:
    """The (layer, strength) the headlines read: declared in the spec, or the one with the
    highest localization accuracy under concept injection (any injected control when there
    is none) on half the concepts."""
    if len(per) == 0:
        return None
    loc = per[(per["question"] == "injected") & (per["control"] != "none")]
    competing = loc[loc["control"] == "concept"]
    return choose(
        competing if len(competing) else loc,
        KEYS,
        "accuracy",
        declared=declared_config(run, "localization", KEYS),
        seed=split_seed(run, "localization"),
    )


def held_out_estimates(
    table: pd.DataFrame, per: pd.DataFrame, choice: Choice | None
) -> pd.DataFrame:
    """At the chosen configuration, on the held-out concepts: accuracy minus chance
    (``accuracy_vs_chance``; per-concept accuracies averaged, t interval over concepts) and
    localization minus abstractness accuracy (paired by concept), for the control that
    competed."""
    if choice is None:
        return pd.DataFrame()
    controls = [c for c in CONTROL_ORDER if c != "none" and c in set(per["control"])]
    control = "concept" if "concept" in controls else controls[0]
    layer, strength = choice.config
    cells = {q: (q, layer, strength, control) for q in QUESTION_ORDER}
    loc = concept_values(per, CELL_KEYS, cells["injected"], "accuracy", choice.estimated_on)
    ref = row_at(table, layer, strength, question="injected", control=control)
    chance = to_float(ref["chance"]) if ref is not None else 1.0 / DEFAULT_OPTIONS
    rows = []
    base = {"control": control, "layer": layer, "strength": strength, "chance": chance}
    out: dict[str, Any] = {"quantity": "accuracy_vs_chance", **base}
    put_estimate(out, "value", concept_mean(loc, chance))
    out["note"] = choice.note()
    rows.append(out)
    abstract = concept_values(per, CELL_KEYS, cells["abstract"], "accuracy", choice.estimated_on)
    if len(abstract):
        out = {"quantity": "localization_minus_abstractness", **base}
        put_estimate(out, "value", paired_difference(loc, abstract))
        out["note"] = choice.note()
        rows.append(out)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- headlines


def headlines(t: Tables, _upstream: Mapping[str, Tables]) -> list[Headline]:
    """Localization accuracy above chance at the configuration declared in the spec or
    chosen on half the concepts (estimated on the other half, per-concept accuracies), the
    localization - abstractness difference there (paired by concept), and the
    no-injection accuracy (positional bias)."""
    table = t["localization"]
    if len(table) == 0:
        return []
    loc = table["question"] == "injected"
    held = t["held_out"]
    lines: list[Headline] = []
    acc = held[held["quantity"] == "accuracy_vs_chance"] if len(held) else held
    if len(acc):
        row = acc.iloc[0]
        chance = to_float(row["chance"])
        above = excludes_zero(row["value_ci_low"])
        what = verdict(
            row["value_ci_low"],
            row["value_ci_high"],
            "the numbered answer carries information about which sentence received the injection",
            "no evidence that the numbered answer carries information about which sentence "
            "received the injection",
            "the numbered answer avoids the injected sentence more often than chance",
        )
        lines.append(
            headline_from_row(
                "localization: accuracy vs chance",
                row,
                "value",
                f"At {cfg_text(row['layer'], row['strength'])}{row['note']}, asked which of "
                f"{round(1 / chance)} sentences carried the injected thought, the model picks "
                f"the injected one in {pct(to_float(row['value']) + chance)} of trials "
                f"(per-concept accuracies averaged over {int(row['value_n'])} concepts), "
                f"{concept_interval(row, 'value')} relative to chance {chance:.2f}: {what}.",
                unit="concepts",
                kind="rate_difference",
                config=cfg_text(row["layer"], row["strength"]),
            )
        )
        diff = held[held["quantity"] == "localization_minus_abstractness"]
        if len(diff):
            d = diff.iloc[0]
            if excludes_zero(d["value_ci_low"]):
                what2 = (
                    "the localization answer carries information beyond how the injected "
                    "sentence looks to an unrelated question"
                )
            elif is_nan(d["value_ci_low"]) or is_nan(d["value_ci_high"]):
                what2 = undetermined()
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
                    d,
                    "value",
                    "On the same stimuli, the 'which sentence is the most abstract?' question "
                    "finds the injected sentence at a rate that the localization question "
                    f"exceeds by {concept_interval(d, 'value')} (paired by concept, "
                    f"n={int(d['value_n'])} concepts): {what2}.",
                    unit="concepts",
                    kind="rate_difference",
                    config=cfg_text(d["layer"], d["strength"]),
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
