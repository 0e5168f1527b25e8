"""Detection tables and headline rows.

Every table comes from the run's ``detection`` trials (generation: rules grades; logits:
P(yes) and the candidate rank). Column conventions are those of :mod:`introscope.tables`.
The configuration the headlines and the scorecard read is declared in the spec or chosen on
half the concepts and estimated on the other half (:mod:`.held_out`); every estimate there
is a mean over concepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from introscope.experiments.detection import (
    confabulation,
    content,
    control_effects,
    dose,
    held_out,
    leakage,
    wordings,
)
from introscope.experiments.detection.held_out import claims_detection, success
from introscope.experiments.grader_trust import rules_validation_table
from introscope.grading.validation import low_trust_note
from introscope.headlines import (
    Headline,
    cfg_text,
    ci_or_none,
    ci_text,
    headline_from_row,
    low_trust,
)
from introscope.stats import cohens_kappa, rate, shift_from_constant
from introscope.tables import (
    NAN,
    RunFrame,
    Tables,
    by_config,
    cond,
    config_key,
    config_order,
    frame,
    grade_value,
    group,
    matched,
    number,
    put_diff,
    put_mean,
    put_no_diff,
    put_rate,
    put_rate_diff,
    put_vs_chance,
)


def detection_table(run: RunFrame, grader: str = "rules") -> pd.DataFrame:
    """Injected-thought detection (generation trials) by layer x strength x control.

    Columns: ``layer, strength, control, n_trials`` and the rates ``success`` (coherent,
    affirmative, names the injected concept, noticed first), ``affirmative``,
    ``identification`` (names the injected concept), ``claims_detection`` (coherent and
    affirmative), then the matched control's ``false_positive`` rate (coherent and affirmative
    on no-injection trials) and the differences ``net_detection`` = success - false_positive
    and ``net_affirmative`` = claims_detection - false_positive (Newcombe CIs). The
    no-injection trials get their own row (``control == "none"``) whose net columns are NaN.
    ``grader`` picks the grades entry ("rules" or "judge").
    """
    recs = wordings.paper_records(run, "generation")
    if not recs:
        return pd.DataFrame()
    controls = [r for r in recs if cond(r, "control") == "none"]
    rows = []
    for out, trials in by_config(recs):
        layer, strength, control = out["layer"], out["strength"], out["control"]
        g = [t["grades"] for t in trials]
        is_control = control == "none"
        put_rate(out, "success", (None if is_control else success(x, grader) for x in g))
        put_rate(out, "affirmative", (grade_value(x, "affirmative", grader) for x in g))
        put_rate(
            out,
            "identification",
            (None if is_control else grade_value(x, "correct_concept", grader) for x in g),
        )
        claims = [claims_detection(x, grader) for x in g]
        put_rate(out, "claims_detection", claims)
        ctrl = [claims_detection(c["grades"], grader) for c in matched(controls, layer, strength)]
        put_rate(out, "false_positive", ctrl)
        if is_control:
            for name in ("net_detection", "net_affirmative"):
                put_no_diff(out, name)
        else:
            put_rate_diff(out, "net_detection", (success(x, grader) for x in g), ctrl)
            put_rate_diff(out, "net_affirmative", claims, ctrl)
        rows.append(out)
    return frame(rows)  # already in config_order: by_config sorts the groups


def detection_logit_table(run: RunFrame) -> pd.DataFrame:
    """Detection read out from the logits, by layer x strength x control.

    Columns: ``p_yes`` (mean P(yes) of the normalised yes/no pair, t CI), ``p_yes_shift``
    (the mean over concepts of each concept's mean P(yes) minus the no-injection P(yes): the
    readout is deterministic, so the no-injection trial is a constant and the interval is a
    one-sample t interval over concepts, :func:`~introscope.stats.shift_from_constant`;
    ``p_yes_shift_n`` counts concepts), ``top_rank`` (rate at which the
    injected concept ranks first among the candidates), ``chance`` (1 / n_candidates, mean)
    and ``top_rank_vs_chance`` (rate minus chance, the Wilson bounds shifted by chance).
    """
    recs = wordings.paper_records(run, "logits")
    if not recs:
        return pd.DataFrame()
    controls = [r for r in recs if cond(r, "control") == "none"]
    rows = []
    for out, trials in by_config(recs):
        layer, strength, control = out["layer"], out["strength"], out["control"]
        p = [number(t["logits"].get("p_yes")) for t in trials]
        put_mean(out, "p_yes", p)
        ctrl = [number(c["logits"].get("p_yes")) for c in matched(controls, layer, strength)]
        ctrl_v = [v for v in ctrl if v is not None]
        if control == "none":
            put_no_diff(out, "p_yes_shift")
        else:
            put_diff(out, "p_yes_shift", shift_from_constant(concept_means(trials), ctrl_v))
        ranks: list[bool | None] = []
        chances = []
        for t in trials:
            rk = number(t["logits"].get("concept_rank"))
            nc = number(t["logits"].get("n_candidates"))
            if control == "none" or rk is None:
                ranks.append(None)
                continue
            ranks.append(rk == 1)
            if nc:
                chances.append(1.0 / nc)
        put_rate(out, "top_rank", ranks)
        chance = float(np.mean(chances)) if chances else NAN
        out["chance"] = chance
        put_vs_chance(out, "top_rank_vs_chance", "top_rank", chance)
        rows.append(out)
    return frame(rows)  # already in config_order: by_config sorts the groups


def concept_means(trials: list[dict[str, Any]]) -> list[float]:
    """Each concept's mean P(yes) over its trials (repeats): the concept is the unit."""
    by_concept = group(
        (t for t in trials if number(t["logits"].get("p_yes")) is not None),
        lambda t: (cond(t, "concept"),),
    )
    return [float(np.mean([t["logits"]["p_yes"] for t in ts])) for ts in by_concept.values()]


def outcome_table(run: RunFrame) -> pd.DataFrame:
    """Failure taxonomy of detection generation trials: one row per layer x strength x
    control x outcome with ``count``, the rate ``fraction`` (of graded trials in the cell,
    Wilson CI, ``fraction_n``) and ``n_ungraded`` (trials whose rules outcome is missing or
    an error, left out of n)."""
    recs = wordings.paper_records(run, "generation")
    if not recs:
        return pd.DataFrame()
    rows = []
    for (layer, strength, control), trials in sorted(
        group(recs, config_key).items(), key=lambda kv: config_order(kv[0])
    ):
        outcomes: list[str] = []
        for t in trials:
            g = t["grades"].get("rules")
            o = g.get("outcome") if isinstance(g, Mapping) else None
            if isinstance(o, str):
                outcomes.append(o)
        n = len(outcomes)
        for outcome in sorted(set(outcomes)):
            k = outcomes.count(outcome)
            r = rate(k, n)
            rows.append(
                {
                    "layer": layer,
                    "strength": strength,
                    "control": control,
                    "outcome": outcome,
                    "count": k,
                    "fraction": r.estimate,
                    "fraction_ci_low": r.low,
                    "fraction_ci_high": r.high,
                    "fraction_n": n,
                    "n_ungraded": len(trials) - n,
                }
            )
    return frame(rows)


def grader_agreement_table(run: RunFrame) -> pd.DataFrame:
    """Rules grader vs LLM judge, per criterion, over detection generation trials graded
    validly by both: ``n``, ``agreement`` (rate, Wilson CI) and Cohen's ``kappa``."""
    recs = run.records("detection", "generation")
    rows = []
    for crit in ("coherent", "affirmative", "correct_concept", "noticed_first"):
        pairs = [
            (a, b)
            for a, b in (
                (grade_value(r["grades"], crit, "rules"), grade_value(r["grades"], crit, "judge"))
                for r in recs
            )
            if a is not None and b is not None
        ]
        if not pairs:
            continue
        out: dict[str, Any] = {"criterion": crit}
        put_rate(out, "agreement", (a == b for a, b in pairs))
        out["kappa"] = cohens_kappa([a for a, _ in pairs], [b for _, b in pairs])
        rows.append(out)
    return frame(rows)


#: The rule-grader criteria the generation lines are built on.
CLAIMS = ("claims_detection",)
SUCCESS = ("coherent", "affirmative", "correct_concept", "noticed_first")


def tables(run: RunFrame, upstream: Mapping[str, Tables]) -> Tables:
    """The generation and logit tables (trial-level columns, then the concept-level
    ``*_by_concept`` columns), identification, mutual information and the confabulation
    profile (``confabulation_summary`` is one row), all from the trials under the paper's
    wording and window; the dose-response fits; the variants (``variants``: detection and
    false positives per wording / window); the leakage control (``leakage``, ``leakage_mi``:
    identification in the detection frame vs a neutral frame under the same injection); the
    rule grader's agreement with hand labels; the concept-unit tables: ``concept_rates``,
    ``contrasts`` (concept - each control vector, paired by concept), ``selection`` (the
    scorecard's configuration and how it was chosen), ``held_out`` and ``held_out_mi`` (every
    estimate the scorecard reads, on the concepts the configuration was not chosen on); and
    each control's detection effect next to its KL (``control_effects``, from the steering
    check)."""
    vectors = run.vectors()
    rates = held_out.concept_rates(run)
    picked = held_out.choose_detection(run, rates)
    held, held_mi = held_out.held_out_tables(run, rates, picked)
    t = {
        "detection": held_out.merge_by_config(
            detection_table(run), held_out.concept_level_columns(run, rates, "text")
        ),
        "detection_logits": held_out.merge_by_config(
            detection_logit_table(run), held_out.concept_level_columns(run, rates, "logits")
        ),
        "outcomes": outcome_table(run),
        "grader_agreement": grader_agreement_table(run),
        "identification": content.identification_table(run),
        "mutual_information": content.mutual_information_table(run),
        "confabulation": confabulation.confabulation_table(run, vectors),
        "confabulation_summary": pd.DataFrame([confabulation.confabulation_summary(run, vectors)]),
        "dose_response": dose.dose_response_table(run),
        "variants": wordings.variants_table(run),
        "leakage": leakage.leakage_table(run),
        "leakage_mi": leakage.leakage_mi_table(run),
        "rules_validation": rules_validation_table(run, "detection"),
        "concept_rates": rates,
        "contrasts": held_out.contrasts_table(rates),
        "selection": held_out.selection_table(picked),
        "held_out": held,
        "held_out_mi": held_mi,
    }
    t["control_effects"] = control_effects.control_effects_table(t, upstream)
    return t


# --------------------------------------------------------------------------- headlines

#: The injection each control headline's sentence names.
CONTROL_HEADLINE_WHAT = {
    "random": "a random norm-matched vector",
    "negated": "a negated concept vector",
    "other": "another concept's vector, rescaled to this concept's norm,",
    "matched_random": "a covariance-matched random vector of the same norm",
}


def held_row(t: Tables, source: str, quantity: str) -> pd.Series | None:
    """The ``held_out`` row of one source and quantity, or None."""
    h = t["held_out"]
    if len(h) == 0:
        return None
    rows = h[(h["source"] == source) & (h["quantity"] == quantity)]
    return rows.iloc[0] if len(rows) else None


def concept_ci(row: Mapping[str, Any], col: str = "value", signed: bool = True) -> str:
    """A concept-level estimate with its interval ("no interval: too few concepts")."""
    return ci_or_none(
        row[col], row[f"{col}_ci_low"], row[f"{col}_ci_high"], signed=signed, unit="concepts"
    )


def headlines(t: Tables, _upstream: Mapping[str, Tables]) -> list[Headline]:
    """Net detection claims (concept, then random / negated at the same configuration), net
    success, all at the scorecard's configuration on its held-out concepts (the concept is
    the unit), and the no-injection false-positive rate (those trials carry no concept).
    Lines built on a rule-grader criterion below the agreement target say so (low trust)."""
    claims_note = low_trust_note("detection", CLAIMS)
    named_note = low_trust_note("detection", (*CLAIMS, "correct_concept"))
    det = t["detection"]
    lines: list[Headline] = []
    if len(det) == 0:
        return lines
    net = held_row(t, "text", "net")
    if net is not None:
        cfg = cfg_text(net["layer"], net["strength"])
        named = held_row(t, "text", "identification")
        lines.append(
            low_trust(
                headline_from_row(
                    "net detection claim (concept)",
                    net,
                    "value",
                    f"At {cfg}{net['note']}, the detection report is coherent and affirmative "
                    "more often under concept injection than on no-injection trials by "
                    f"{concept_ci(net)} (per-concept claim rates averaged over "
                    f"{int(net['value_n'])} concepts, minus the false-positive rate); the "
                    "report names the injected concept in "
                    f"{'n/a' if named is None else concept_ci(named, signed=False)} of trials.",
                    unit="concepts",
                    kind="rate_difference",
                    config=cfg,
                ),
                named_note,
            )
        )
        for other, what in CONTROL_HEADLINE_WHAT.items():
            orow = held_row(t, "text", f"{other}_net")
            if orow is None or int(orow["value_n"]) == 0:
                continue
            lines.append(
                low_trust(
                    headline_from_row(
                        f"net detection claim ({other} control)",
                        orow,
                        "value",
                        f"At the same configuration and concepts, {what} shifts the "
                        f"affirmative report by {concept_ci(orow)}; a similar shift means the "
                        "claim tracks the perturbation, not its content.",
                        unit="concepts",
                        kind="rate_difference",
                        config=cfg,
                    ),
                    claims_note,
                )
            )
    succ = held_row(t, "text", "net_success")
    if succ is not None:
        cfg = cfg_text(succ["layer"], succ["strength"])
        lines.append(
            low_trust(
                headline_from_row(
                    "net detection success (concept)",
                    succ,
                    "value",
                    f"At {cfg}{succ['note']}, trials meeting the full success rule (coherent, "
                    "affirmative, correct concept, noticed before naming) exceed the "
                    f"no-injection false-positive rate by {concept_ci(succ)} (per-concept "
                    f"rates, n={int(succ['value_n'])} concepts).",
                    unit="concepts",
                    kind="rate_difference",
                    config=cfg,
                ),
                low_trust_note("detection", SUCCESS),
            )
        )
    ctrl = det[det["control"] == "none"]
    if len(ctrl):
        c = ctrl.iloc[0]
        lines.append(
            low_trust(
                headline_from_row(
                    "false positives (no injection)",
                    c,
                    "claims_detection",
                    "On no-injection control trials the report claims a detection in "
                    f"{ci_text(c['claims_detection'], c['claims_detection_ci_low'], c['claims_detection_ci_high'], signed=False)} "
                    f"of trials (n={int(c['claims_detection_n'])}).",
                    kind="rate",
                ),
                claims_note,
            )
        )
    return lines
