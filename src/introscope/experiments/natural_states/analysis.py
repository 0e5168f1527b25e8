"""Natural-states tables, headline rows and scorecard step 8 (natural-state grounding).

Does the one-word report of "what are you thinking about" track the projection of the
model's own activation onto the concept direction *beyond what the text predicts*? The
template (the passage's relatedness to the concept) is the covariate; wording is
mechanistic and the claim correlational (see the headline's licence sentence). A concept's
trials are not independent, so intervals are clustered by concept, and the headlines read
one layer, declared in the spec or chosen on half the concepts and estimated on the other
half (:mod:`introscope.experiments.selection`).

Where the activation was read is the readout's ``read_at``: ``passage_end`` (the passage's
last token, before the request and the question; protocol 2) or, in runs made before,
``last_prompt_token``, the position whose logits give the report, where the projection is
partly the report itself. Tables carry it in a ``read_at`` column and the sentences say
which it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from introscope.experiments.base import ScoreInputs
from introscope.experiments.natural_states.points import (
    OLD_READ_AT,
    POSITION_TEXT,
    natural_points,
    natural_states_table,
    projection_check_table,
    read_position,
)
from introscope.experiments.selection import (
    Choice,
    declared_config,
    selection_frame,
    split_concepts,
    split_seed,
)
from introscope.headlines import (
    Headline,
    ci_or_none,
    ci_sign,
    fmt_num,
    headline_from_row,
    p_text,
    step_lines,
    verdict,
)
from introscope.tables import RunFrame, Tables, best_row, is_nan, to_float

KIND = "natural_states"

STEP = 8
STEP_TITLE = "natural-state grounding"
#: Headline rows the scorecard shows for step 8 (the first ones: the main coefficient first).
STEP_LINES = 4


def tables(run: RunFrame, _upstream: Mapping[str, Tables]) -> Tables:
    """``natural_states`` (template and regression rows) and ``projection_check`` over every
    concept; the ``selection`` of the layer the headlines read; and ``held_out`` /
    ``held_out_check``: the same two tables at that layer on the concepts it was not chosen
    on. Every table carries ``read_at``, where the activation was read."""
    recs = run.records(KIND)
    read_at = read_position(recs)
    by_layer = natural_points(recs)
    choice = choose_layer(run, by_layer)
    held: dict[int, list[dict[str, Any]]] = {}
    if choice is not None:
        layer, keep = int(choice.config[0]), set(choice.estimated_on)
        held[layer] = [p for p in by_layer.get(layer, []) if str(p["concept"]) in keep]
    note = choice.note() if choice is not None else ""
    held_states = natural_states_table(held, read_at)
    return {
        "natural_states": natural_states_table(by_layer, read_at),
        "projection_check": projection_check_table(by_layer, read_at),
        "selection": selection_frame(choice),
        "held_out": held_states.assign(note=note) if len(held_states) else held_states,
        "held_out_check": projection_check_table(held, read_at),
    }


def main_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The regression rows of the main model: the within-trial projection, log-probability
    outcome, template covariates."""
    if len(table) == 0:
        return table
    reg = table[table["row_type"] == "regression"]
    return reg[
        (reg["predictor"] == "cos_specific")
        & (reg["outcome"] == "concept_logprob")
        & (reg["covariates"] == "template")
    ]


def choose_layer(run: RunFrame, by_layer: Mapping[int, list[dict[str, Any]]]) -> Choice | None:
    """The layer the headlines read: declared in the spec, else (with several layers) the
    layer whose main coefficient is largest relative to its interval width when the model is
    fitted on half the concepts only; its estimates then use the other half."""
    layers = sorted(by_layer)
    if not layers:
        return None
    concepts = tuple(sorted({str(p["concept"]) for pts in by_layer.values() for p in pts}))
    seed = split_seed(run, KIND)
    declared = declared_config(run, KIND, ("layer",))
    if declared is not None:
        return Choice(("layer",), declared, "declared", len(layers), seed, (), concepts)
    if len(layers) == 1:
        return Choice(("layer",), (layers[0],), "only", 1, seed, (), concepts)
    chosen_on, estimated_on = split_concepts(concepts, seed)
    keep = set(chosen_on)
    half = {layer: [p for p in pts if str(p["concept"]) in keep] for layer, pts in by_layer.items()}
    main = main_rows(natural_states_table(half)) if keep else pd.DataFrame()
    row = None
    if len(main):
        main = main.assign(t_ratio=main["coef"] / (main["coef_ci_high"] - main["coef_ci_low"]))
        row, _ = best_row(main, "t_ratio")
        if row is None:  # no interval on the chosen half: the largest coefficient
            row, _ = best_row(main, "coef")
    if row is None:  # nothing to choose on: the first layer, read on every concept
        return Choice(("layer",), (layers[0],), "fixed", len(layers), seed, (), concepts)
    return Choice(
        ("layer",), (int(row["layer"]),), "held out", len(layers), seed, chosen_on, estimated_on
    )


# --------------------------------------------------------------------------- headlines


LICENCE = (
    " This licenses only a correlational claim: within a level of textual relatedness, the "
    "report carries information about the activation state; it does not show that the "
    "report is read from that state (both may follow features of the text the covariates "
    "miss), which needs an intervention."
)


def coef_text(row: Mapping[str, Any], col: str = "coef") -> str:
    """A clustered coefficient with its interval ("no interval: too few concepts")."""
    return ci_or_none(row[col], row[f"{col}_ci_low"], row[f"{col}_ci_high"], unit="concepts")


def headlines(t: Tables, _upstream: Mapping[str, Tables]) -> list[Headline]:
    """Does the one-word report track the activation's projection onto the concept direction
    beyond the text? The within-trial projection (``cos_specific``) regressed on with
    template dummies as covariates (intervals clustered by concept), at the layer declared
    in the spec or chosen on half the concepts and estimated on the other half, for the
    log-probability and (logistic) the top-1 report; the within-template partial
    correlation; the same with concept identity as a covariate; and the manipulation check
    (is the concept direction more active than the distractors' at all, per concept)."""
    table = t["held_out"]
    main = main_rows(table)
    if len(main) == 0:
        return []
    row = main.iloc[0]
    lines: list[Headline] = []
    layer = row["layer"]
    position = POSITION_TEXT.get(str(row.get("read_at")), POSITION_TEXT[OLD_READ_AT])
    at_passage = row.get("read_at") == "passage_end"
    where = f"At layer {fmt_num(layer)}{row['note'].replace('configurations', 'layers')}"
    n_concepts = int(to_float(row["n_concepts"]))
    side = ci_sign(row["coef_ci_low"], row["coef_ci_high"])
    what = verdict(
        row["coef_ci_low"],
        row["coef_ci_high"],
        "the report carries information about the projection of the model's own activation "
        "onto the concept direction beyond what the passage's relatedness predicts"
        if at_passage
        else "the report tracks the projection, which the logit-lens identity at this "
        "position can produce by itself: this is no evidence that the report reads a state",
        "no evidence that the report carries information about the projection beyond "
        "what the passage's relatedness predicts",
        "the report moves *against* the projection once the text is accounted for",
    )
    lines.append(
        headline_from_row(
            "natural states: report ~ projection | template (log-prob)",
            row,
            "coef",
            f"{where}, with the template (text relatedness) as a covariate, each +1 SD "
            f"(= {to_float(row['predictor_sd']):.3f}) in the cosine between {position} and "
            "the concept vector (minus the distractors' mean cosine) changes "
            f"the log-probability of naming the concept by {coef_text(row)} "
            f"(clustered by concept: {n_concepts} concepts, {int(row['coef_n'])} trials; "
            f"p = {p_text(row['coef_p'])}, delta R² = {to_float(row['delta_r2']):.3f}): {what}."
            + (LICENCE if side > 0 and at_passage else ""),
            n=n_concepts,
            unit="concepts",
            kind="coefficient",
        )
    )
    reg = table[table["row_type"] == "regression"]
    same = reg[(reg["layer"] == layer) & (reg["predictor"] == "cos_specific")]
    logit = same[(same["outcome"] == "identified") & (same["covariates"] == "template")]
    if len(logit):
        lr = logit.iloc[0]
        if lr["converged"] is True or lr["converged"] == 1.0:
            lines.append(
                headline_from_row(
                    "natural states: top-1 report ~ projection | template (logistic)",
                    lr,
                    "coef",
                    "At the same layer and concepts, the log-odds that the concept is the "
                    "top-ranked of the candidates change per +1 SD of the within-trial "
                    f"projection by {coef_text(lr)} with the template as a covariate "
                    "(clustered by concept).",
                    n=int(to_float(lr["n_concepts"])),
                    unit="concepts",
                    kind="logodds",
                )
            )
    lines.append(
        headline_from_row(
            "natural states: within-template partial r",
            row,
            "partial_r",
            "Comparing trials of the same template only, the log-probability of the concept "
            f"report and the projection correlate at r = {coef_text(row, 'partial_r')} "
            "(cluster bootstrap over concepts).",
            n=n_concepts,
            unit="concepts",
            kind="correlation",
        )
    )
    strict = same[
        (same["outcome"] == "concept_logprob") & (same["covariates"] == "template+concept")
    ]
    if len(strict) and not is_nan(strict.iloc[0]["coef"]):
        st = strict.iloc[0]
        lines.append(
            headline_from_row(
                "natural states: report ~ projection | template + concept",
                st,
                "coef",
                "With concept identity also as a covariate (only variation across texts "
                f"within a concept left), the coefficient is {coef_text(st)}.",
                n=int(to_float(st["n_concepts"])),
                unit="concepts",
                kind="coefficient",
            )
        )
    check = t["held_out_check"]
    at = check[check["layer"] == layer] if len(check) else check
    if len(at) and to_float(at.iloc[0]["cos_specific_by_concept_n"]) > 0:
        c = at.iloc[0]
        lines.append(
            headline_from_row(
                "natural states: concept vs distractor projection",
                c,
                "cos_specific_by_concept",
                "Manipulation check: at that layer the cosine of the concept vector with "
                f"{position} exceeds its mean cosine with the distractors' vectors by "
                f"{ci_or_none(c['cos_specific_by_concept'], c['cos_specific_by_concept_ci_low'], c['cos_specific_by_concept_ci_high'], dec=3, unit='concepts')} "
                "(per-concept means over templates); near 0 means the passages barely move the "
                "concept direction at the reading position.",
                unit="concepts",
                kind="cosine",
            )
        )
    return lines


# --------------------------------------------------------------------------- scorecard


def scorecard(s: ScoreInputs) -> list[Headline]:
    """Step 8: the first natural-states headline rows (the main coefficient first)."""
    return step_lines(
        STEP, STEP_TITLE, "natural-states", headlines(s.tables, s.upstream), STEP_LINES
    )
