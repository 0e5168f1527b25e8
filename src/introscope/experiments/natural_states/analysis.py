"""Natural-states tables, headline rows and scorecard step 8 (natural-state grounding).

Does the one-word report of "what are you thinking about" track the projection of the
model's own activation onto the concept direction *beyond what the text predicts*? The
template (the passage's relatedness to the concept) is the covariate; wording is
mechanistic and the claim correlational (see the headline's licence sentence). A concept's
trials are not independent, so intervals are clustered by concept, and the headlines read
one layer, declared in the spec or chosen on half the concepts and estimated on the other
half (:mod:`introscope.experiments.selection`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from introscope.experiments.base import ScoreInputs
from introscope.experiments.selection import (
    Choice,
    declared_config,
    per_concept,
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
from introscope.stats import (
    RegressionResult,
    linear_regression,
    logistic_regression,
    partial_correlation,
)
from introscope.tables import (
    NAN,
    RunFrame,
    Tables,
    best_row,
    cond,
    frame,
    group,
    is_nan,
    number,
    put_mean,
    put_rate,
    sort_key,
    to_float,
)

KIND = "natural_states"
TEMPLATE_ORDER: tuple[str, ...] = ("repeated", "single", "incidental")
PREDICTORS: tuple[str, ...] = ("cos_specific", "cos")
OUTCOMES: tuple[str, ...] = ("concept_logprob", "identified")
COVARIATE_SETS: tuple[str, ...] = ("template", "template+concept")

STEP = 8
STEP_TITLE = "natural-state grounding"
#: Headline rows the scorecard shows for step 8 (the first ones: the main coefficient first).
STEP_LINES = 4


# --------------------------------------------------------------------------- table


def layer_map(value: Any) -> dict[int, float]:
    """A stored ``{layer: value}`` map (layer keys are strings in JSON) with int keys,
    numeric values only."""
    out: dict[int, float] = {}
    if isinstance(value, Mapping):
        for k, v in value.items():
            try:
                layer = int(k)
            except (TypeError, ValueError):
                continue
            f = number(v)
            if f is not None:
                out[layer] = f
    return out


def natural_points(recs: Sequence[Mapping[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """Per layer, one point per trial: template, concept, outcomes and projections."""
    by_layer: dict[int, list[dict[str, Any]]] = {}
    for r in recs:
        lg = r["logits"]
        cos = layer_map(lg.get("cos_by_layer"))
        dist = layer_map(lg.get("distractor_cos_by_layer"))
        rank = number(lg.get("rank"))
        lp = number(lg.get("concept_logprob"))
        for layer, c in cos.items():
            d = dist.get(layer)
            by_layer.setdefault(layer, []).append(
                {
                    "template": cond(r, "template"),
                    "concept": cond(r, "concept"),
                    "cos": c,
                    "distractor_cos": d,
                    "cos_specific": c - d if d is not None else None,
                    "concept_logprob": lp,
                    "identified": (rank == 1) if rank is not None else None,
                }
            )
    return by_layer


def dummies(values: Sequence[Any], prefix: str) -> dict[str, list[float]]:
    """Indicator columns for every level but the first (templates in TEMPLATE_ORDER)."""
    levels = sorted(set(values), key=lambda v: sort_key(v, TEMPLATE_ORDER))
    return {f"{prefix}[{lv}]": [1.0 if v == lv else 0.0 for v in values] for lv in levels[1:]}


def fit(
    outcome: str,
    y: Sequence[float],
    x: Mapping[str, Sequence[float]],
    groups: Sequence[Any] | None = None,
) -> RegressionResult | None:
    """OLS (log-probability) or logistic (top-1 report) fit, with standard errors clustered
    by ``groups`` (the concept) when given; None with too few trials."""
    n, k = len(y), len(x) + 1
    if n <= k + 1:
        return None
    if outcome == "identified":
        return logistic_regression(y, x, groups=groups)
    return linear_regression(y, x, groups=groups)


def natural_states_table(by_layer: Mapping[int, list[dict[str, Any]]]) -> pd.DataFrame:
    """Natural states ("heartbeat") from the per-layer trial points of
    :func:`natural_points`, two kinds of row (``row_type``).

    ``template`` rows, per layer x template (the manipulation check and the raw report):
    ``identified`` (the concept ranks first among the candidates; Wilson), means (t CI) of
    ``concept_logprob``, ``cos`` (activation at the last prompt token vs the concept's
    vector), ``distractor_cos`` (mean over the 9 distractors' vectors) and ``cos_specific``
    (= cos - distractor_cos, paired within trial).

    ``regression`` rows, per layer x predictor (``cos_specific`` or ``cos``) x outcome
    (``concept_logprob``, OLS; ``identified``, logistic) x covariates (``template``: template
    dummies, i.e. the text's relatedness level; ``template+concept``: also concept dummies,
    so only within-concept variation across texts is left): ``coef`` (per standard
    deviation of the predictor, ``predictor_sd``, in cosine units) with ``coef_ci_low``,
    ``coef_ci_high``, ``coef_p``, ``coef_n``; ``converged`` (logistic); ``r2`` and
    ``r2_covariates`` (the same model without the projection; ``delta_r2`` their
    difference); ``partial_r`` (with ``partial_r_ci_low/high``, Fisher z), the correlation
    of report and projection after removing the covariates (the matched, within-template
    comparison). A positive ``coef`` whose CI excludes 0 means the report carries
    information about the activation's projection onto the concept direction beyond what the
    covariates (the text) predict.
    """
    if not by_layer:
        return pd.DataFrame()
    rows: list[dict[str, Any]] = []
    for layer in sorted(by_layer):
        pts = by_layer[layer]
        for template, tp in sorted(
            group(pts, lambda p: (p["template"],)).items(),
            key=lambda kv: sort_key(kv[0][0], TEMPLATE_ORDER),
        ):
            out: dict[str, Any] = {
                "row_type": "template",
                "layer": layer,
                "template": template[0],
                "n_trials": len(tp),
            }
            put_rate(out, "identified", (p["identified"] for p in tp))
            for col in ("concept_logprob", "cos", "distractor_cos", "cos_specific"):
                put_mean(out, col, (p[col] for p in tp))
            rows.append(out)
        for predictor in PREDICTORS:
            for outcome in OUTCOMES:
                for covset in COVARIATE_SETS:
                    rows.append(regression_row(layer, pts, predictor, outcome, covset))
    return frame(rows)


def regression_row(
    layer: int, pts: Sequence[Mapping[str, Any]], predictor: str, outcome: str, covset: str
) -> dict[str, Any]:
    """One regression row of :func:`natural_states_table`."""
    use = [p for p in pts if p[predictor] is not None and p[outcome] is not None]
    out: dict[str, Any] = {
        "row_type": "regression",
        "layer": layer,
        "predictor": predictor,
        "outcome": outcome,
        "covariates": covset,
        "n_trials": len(use),
        "predictor_sd": NAN,
        "coef": NAN,
        "coef_ci_low": NAN,
        "coef_ci_high": NAN,
        "coef_p": NAN,
        "coef_n": len(use),
        "converged": None,
        "r2": NAN,
        "r2_covariates": NAN,
        "delta_r2": NAN,
        "partial_r": NAN,
        "partial_r_ci_low": NAN,
        "partial_r_ci_high": NAN,
        "partial_r_n": len(use),
        "n_concepts": len({p["concept"] for p in use}),
    }
    if len(use) < 4:
        return out
    y = np.array([float(p[outcome]) for p in use])
    x = np.array([float(p[predictor]) for p in use])
    covs = dummies([p["template"] for p in use], "template")
    if covset == "template+concept":
        covs.update(dummies([p["concept"] for p in use], "concept"))
    sd = float(x.std(ddof=1))
    out["predictor_sd"] = sd
    if sd < 1e-12:
        return out
    # The projection is standardised: cosines span a few hundredths, so raw-unit slopes are
    # huge (and a logistic fit would read them as separation). coef is per SD of the
    # predictor; multiply by 1 / predictor_sd for per-unit-cosine slopes.
    x = (x - x.mean()) / sd
    # A concept's trials (its templates and repeats) are not independent: the intervals are
    # clustered by concept (cluster-robust SEs; a cluster bootstrap for the partial r).
    concepts = [str(p["concept"]) for p in use]
    full = fit(outcome, list(y), {predictor: list(x), **covs}, concepts)
    reduced = fit(outcome, list(y), covs) if covs else None
    if full is not None:
        c = full[predictor]
        out.update(
            # An unconverged logistic fit (separation, or a constant outcome) has no usable
            # estimate: report NaN rather than the last iterate.
            coef=c.estimate if full.converged else NAN,
            coef_ci_low=c.ci_low,
            coef_ci_high=c.ci_high,
            coef_p=c.p,
            converged=full.converged,
            r2=full.r2,
        )
        base_r2 = reduced.r2 if reduced is not None else 0.0
        out["r2_covariates"] = base_r2
        out["delta_r2"] = full.r2 - base_r2
    r, lo, hi, _n = partial_correlation(y, x, covs, groups=concepts)
    out.update(partial_r=r, partial_r_ci_low=lo, partial_r_ci_high=hi)
    return out


def projection_check_table(by_layer: Mapping[int, list[dict[str, Any]]]) -> pd.DataFrame:
    """The manipulation check, per layer: ``cos_specific`` (the concept vector's cosine with
    the last-token activation minus the distractors' mean cosine; mean, t CI, n) pooled over
    templates and trials, and ``cos_specific_by_concept``: the same with the concept as the
    unit (per-concept means, t interval over concepts)."""
    rows = []
    for layer in sorted(by_layer):
        out: dict[str, Any] = {"layer": layer}
        put_mean(out, "cos_specific", (p["cos_specific"] for p in by_layer[layer]))
        per = per_concept(by_layer[layer], (), ("cos_specific",))
        put_mean(out, "cos_specific_by_concept", list(per["cos_specific"].dropna()))
        rows.append(out)
    return frame(rows)


def tables(run: RunFrame, _upstream: Mapping[str, Tables]) -> Tables:
    """``natural_states`` (template and regression rows) and ``projection_check`` over every
    concept; the ``selection`` of the layer the headlines read; and ``held_out`` /
    ``held_out_check``: the same two tables at that layer on the concepts it was not chosen
    on."""
    by_layer = natural_points(run.records(KIND))
    choice = choose_layer(run, by_layer)
    held: dict[int, list[dict[str, Any]]] = {}
    if choice is not None:
        layer, keep = int(choice.config[0]), set(choice.estimated_on)
        held[layer] = [p for p in by_layer.get(layer, []) if str(p["concept"]) in keep]
    note = choice.note() if choice is not None else ""
    held_states = natural_states_table(held)
    return {
        "natural_states": natural_states_table(by_layer),
        "projection_check": projection_check_table(by_layer),
        "selection": selection_frame(choice),
        "held_out": held_states.assign(note=note) if len(held_states) else held_states,
        "held_out_check": projection_check_table(held),
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
    where = f"At layer {fmt_num(layer)}{row['note'].replace('configurations', 'layers')}"
    n_concepts = int(to_float(row["n_concepts"]))
    side = ci_sign(row["coef_ci_low"], row["coef_ci_high"])
    what = verdict(
        row["coef_ci_low"],
        row["coef_ci_high"],
        "the report carries information about the projection of the model's own activation "
        "onto the concept direction beyond what the passage's relatedness predicts.",
        "no evidence that the report carries information about the projection beyond "
        "what the passage's relatedness predicts.",
        "the report moves *against* the projection once the text is accounted for.",
    )
    lines.append(
        headline_from_row(
            "natural states: report ~ projection | template (log-prob)",
            row,
            "coef",
            f"{where}, with the template (text relatedness) as a covariate, each +1 SD "
            f"(= {to_float(row['predictor_sd']):.3f}) in the cosine between the last-token "
            "activation and the concept vector (minus the distractors' mean cosine) changes "
            f"the log-probability of naming the concept by {coef_text(row)} "
            f"(clustered by concept: {n_concepts} concepts, {int(row['coef_n'])} trials; "
            f"p = {p_text(row['coef_p'])}, delta R² = {to_float(row['delta_r2']):.3f}): {what}"
            + (LICENCE if side > 0 else ""),
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
                "Manipulation check: at that layer the last-token activation's cosine with the "
                "concept vector exceeds its mean cosine with the distractors' vectors by "
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
