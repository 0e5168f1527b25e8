"""Cross-prediction tables, headline rows and scorecard step 103.

From the run's ``cross_prediction`` trials: per (property, shots, predictor) the accuracy
of the prediction of the first model's behaviour, with a family-clustered interval, the
majority-class rate and (yes/no properties) the AUROC of P(yes); the surface-feature
classifier's out-of-fold predictions on the same items (logistic regression on question
length, digits, option count and length; folds grouped by item family, so it is scored on
families it never saw); and the paired differences self - other, self - classifier and
other - classifier (per-item hits, clustered interval).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from introscope.experiments.base import ScoreInputs
from introscope.experiments.selfreport import signals
from introscope.experiments.selfreport.frame import surface_design
from introscope.experiments.selfreport.signals import put_interval
from introscope.experiments.selfreport.wording import units, verdict
from introscope.headlines import Headline, ci_or_none, headline_from_row, not_run, pct
from introscope.items import SURFACE_FEATURES
from introscope.stats import out_of_fold_labels
from introscope.stats.weighted import w_auroc, w_mean, weighted_bootstrap
from introscope.tables import NAN, RunFrame, Tables, clean, frame, number

KIND = "cross_prediction"
STEP = 103
PREDICTORS = ("self", "other", "classifier")
PAIRS = (("self", "other"), ("self", "classifier"), ("other", "classifier"))
PROPERTY_TEXT = {
    "correct": "whether its answer is correct",
    "chooses_a": "whether it picks the first listed option",
    "first_word": "the first word of its brief answer",
}


def cross_frame(run: RunFrame) -> pd.DataFrame:
    rows = []
    for r in run.records(KIND):
        c, lo = r["condition"], r["logits"]
        surface = lo.get("surface") if isinstance(lo.get("surface"), Mapping) else {}
        row: dict[str, Any] = {
            "item": c.get("item"),
            "family": c.get("family"),
            "property": c.get("property"),
            "shots": clean(c.get("shots")),
            "predictor": c.get("predictor"),
            "actual": lo.get("actual"),
            "prediction": lo.get("prediction"),
            "p_yes": number(lo.get("p_yes")),
            "hit": bool(lo.get("hit")),
            "folds": number(lo.get("folds")) or 5,
        }
        for f in SURFACE_FEATURES:
            row[f"surface_{f}"] = number(surface.get(f))
        rows.append(row)
    return pd.DataFrame(rows)


def classifier_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The surface-feature classifier's out-of-fold prediction for every (property, shots)
    query item, as rows with ``predictor == "classifier"``."""
    out = []
    for prop, g in df.groupby("property", sort=False):
        items = g.drop_duplicates("item").reset_index(drop=True)
        x = surface_design(items, with_family=False)
        folds = int(items["folds"].iloc[0])
        pred, prob = out_of_fold_labels(
            x, items["actual"].tolist(), items["family"].tolist(), folds
        )
        yes_score = [
            (pr if pd_ == "yes" else 1 - pr) if pd_ is not None else NAN
            for pd_, pr in zip(pred, prob, strict=True)
        ]
        by_item = {it: (p, s) for it, p, s in zip(items["item"], pred, yes_score, strict=True)}
        for shots in sorted(g["shots"].dropna().unique()):
            for it, actual, fam in items[["item", "actual", "family"]].itertuples(index=False):
                p, s = by_item[it]
                out.append(
                    {
                        "item": it,
                        "family": fam,
                        "property": prop,
                        "shots": shots,
                        "predictor": "classifier",
                        "actual": actual,
                        "prediction": p,
                        "p_yes": s if prop != "first_word" else NAN,
                        "hit": p is not None and p == actual,
                    }
                )
    return pd.DataFrame(out)


def accuracy_row(g: pd.DataFrame, binary: bool) -> dict[str, Any]:
    hits = g["hit"].astype(float).to_numpy()
    fam = g["family"].tolist()
    out: dict[str, Any] = {"n_families": int(g["family"].nunique())}
    put_interval(out, "accuracy", weighted_bootstrap(w_mean(hits), fam, signals.BOOT), len(g))
    counts = g["actual"].value_counts()
    out["majority_rate"] = float(counts.iloc[0] / len(g)) if len(counts) else NAN
    if binary:
        y = (g["actual"] == "yes").astype(float).to_numpy()
        s = pd.to_numeric(g["p_yes"], errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(s)
        put_interval(
            out,
            "auroc",
            weighted_bootstrap(
                w_auroc(s[ok], y[ok]), [f for f, k in zip(fam, ok, strict=True) if k], signals.BOOT
            ),
            int(ok.sum()),
        )
    return out


def tables(run: RunFrame, _upstream: Mapping[str, Tables]) -> Tables:
    df = cross_frame(run)
    if len(df) == 0:
        e = pd.DataFrame()
        return {"behaviour": e, "predictions": e, "privileged": e}
    self_rows = df[df["predictor"] == "self"]
    both = pd.concat([df, classifier_rows(self_rows)], ignore_index=True)
    # A fixed row order (family, then item) makes every predictor's bootstrap draw the same
    # families, so identical predictions get identical intervals.
    both = both.sort_values(["property", "shots", "predictor", "family", "item"], kind="stable")
    behaviour = (
        self_rows.drop_duplicates(["item", "property"])
        .pivot(index=["item", "family"], columns="property", values="actual")
        .reset_index()
    )
    behaviour.columns = [str(c) for c in behaviour.columns]
    preds, diffs = [], []
    for (prop, shots), g in both.groupby(["property", "shots"], sort=True):
        binary = prop != "first_word"
        hits: dict[str, pd.Series] = {}
        for who in PREDICTORS:
            sub = g[g["predictor"] == who]
            if len(sub) == 0:
                continue
            preds.append(
                {"property": prop, "shots": shots, "predictor": who, **accuracy_row(sub, binary)}
            )
            hits[who] = sub.set_index("item")["hit"].astype(float)
        fam_of = g.drop_duplicates("item").set_index("item")["family"]
        for a, b in PAIRS:
            if a not in hits or b not in hits:
                continue
            common = hits[a].index.intersection(hits[b].index)
            d = (hits[a][common] - hits[b][common]).to_numpy()
            fam = fam_of[common].tolist()
            row: dict[str, Any] = {
                "property": prop,
                "shots": shots,
                "contrast": f"{a} - {b}",
                "n_families": len(set(fam)),
            }
            put_interval(
                row,
                "difference",
                weighted_bootstrap(w_mean(d), fam, signals.BOOT),
                len(d),
            )
            diffs.append(row)
    return {"behaviour": behaviour, "predictions": frame(preds), "privileged": frame(diffs)}


# --------------------------------------------------------------------------- sentences


def accuracy_text(preds: pd.DataFrame, prop: str, shots: Any, who: str) -> str:
    sub = preds[
        (preds["property"] == prop) & (preds["shots"] == shots) & (preds["predictor"] == who)
    ]
    if len(sub) == 0:
        return "n/a"
    r = sub.iloc[0]
    return f"{pct(r['accuracy'])} [{pct(r['accuracy_ci_low'])}, {pct(r['accuracy_ci_high'])}]"


def privileged_sentence(row: Mapping[str, Any], t: Tables) -> str:
    prop, shots = row["property"], row["shots"]
    preds, priv = t["predictions"], t["privileged"]
    a, b = str(row["contrast"]).split(" - ")
    diff = ci_or_none(row["difference"], row["difference_ci_low"], row["difference_ci_high"])
    reading = verdict(
        row["difference_ci_low"],
        row["difference_ci_high"],
        0.0,
        f"the {a} prediction carries information about the first model's behaviour that the "
        f"{b} prediction lacks",
        f"the {b} prediction tracks the behaviour better than the {a} prediction",
        f"no difference between the {a} and the {b} prediction is detectable",
    )
    base = preds[(preds["property"] == prop) & (preds["shots"] == shots)]
    majority = pct(base["majority_rate"].iloc[0]) if len(base) else "n/a"
    text = (
        f"Predicting {PROPERTY_TEXT.get(str(prop), prop)} with {int(shots)} in-context "
        f"examples of the first model's behaviour, across {units(row['difference_n'], row['n_families'])}: "
        f"self {accuracy_text(preds, prop, shots, 'self')}, other "
        f"{accuracy_text(preds, prop, shots, 'other')}, surface-feature classifier "
        f"{accuracy_text(preds, prop, shots, 'classifier')} (majority class {majority}); "
        f"{a} - {b} = {diff}: {reading}."
    )
    cls = priv[
        (priv["property"] == prop)
        & (priv["shots"] == shots)
        & (priv["contrast"] == "self - classifier")
    ]
    if len(cls):
        hi = number(cls.iloc[0]["difference_ci_high"])
        lo = number(cls.iloc[0]["difference_ci_low"])
        if lo is None or lo <= 0:
            text += (
                " A classifier on the question's surface features (no model) predicts this "
                "behaviour as well as the model's own report does"
                + (" or better." if hi is not None and hi < 0 else ".")
            )
    return text


def headlines(t: Tables, _upstream: Mapping[str, Tables]) -> list[Headline]:
    priv = t["privileged"]
    if len(priv) == 0:
        return []
    top = priv[priv["shots"] == priv["shots"].max()]
    return [
        headline_from_row(
            f"cross-prediction ({r['property']}, {int(r['shots'])} shots): {r['contrast']}",
            r,
            "difference",
            privileged_sentence(r, t),
            unit="items",
            kind="rate_difference",
        )
        for _, r in top.iterrows()
        if r["contrast"] != "other - classifier"
    ]


def scorecard(inputs: ScoreInputs) -> list[Headline]:
    t = inputs.tables
    priv = t["privileged"]
    name = "self - other (privileged access)"
    if len(priv) == 0:
        return [not_run(STEP, name, "no cross_prediction trials in this run.")]
    shots = priv["shots"].max()  # declared in advance: the largest shot count of the spec
    lines = []
    has_other = bool((priv["contrast"] == "self - other").any())
    for prop in dict.fromkeys(priv["property"]):
        sub = priv[(priv["property"] == prop) & (priv["shots"] == shots)]
        wanted = ["self - other", "self - classifier"] if has_other else ["self - classifier"]
        for contrast in wanted:
            rows = sub[sub["contrast"] == contrast]
            if len(rows) == 0:
                continue
            r = rows.iloc[0]
            sentence = privileged_sentence(r, t)
            if not has_other:
                sentence += " No other model was run (set params.other_model), so self - other is not available."
            lines.append(
                headline_from_row(
                    f"{name}: {prop}, {contrast}",
                    r,
                    "difference",
                    sentence,
                    unit="items",
                    kind="rate_difference",
                    config=f"{int(shots)} shots",
                    step=STEP,
                )
            )
    return lines or [not_run(STEP, name, "no contrast could be computed.")]
