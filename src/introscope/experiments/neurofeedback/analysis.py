"""Neurofeedback tables, headline rows and scorecard step 105.

From the run's ``neurofeedback`` trials:

* ``report``: per (axis, layer, shots), the accuracy of the reported label (Wilson; chance
  50%), and the paired differences with the random axis and with the surface (length) axis
  on the same query sentences and example draws (t intervals over the pairs); ``gain`` is
  the accuracy at the most examples minus at the fewest (Newcombe) on the rows of the most;
* ``control``: explicit control (the standardized score of sentences written for label A
  minus for label B, Welch interval; the rate at which a written sentence lands on its
  target's side) and implicit control (per sentence, the score when told to keep A in mind
  minus B, t interval);
* ``axes``: what each axis is (share of activation variance along it, correlation of its
  score with sentence length, share of sentences labelled A).

The unit is the query sentence; layer-free axes (entropy, length) are compared with the
random axis averaged over the declared layers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from introscope.experiments.base import ScoreInputs
from introscope.experiments.selfreport.wording import verdict
from introscope.headlines import Headline, ci_or_none, headline_from_row, not_run, pct
from introscope.render.numbers import fmt_estimate
from introscope.stats import mean_difference_ci, paired_mean_ci
from introscope.tables import (
    RunFrame,
    Tables,
    clean,
    frame,
    number,
    put_diff,
    put_rate,
    put_rate_diff,
    sort_key,
)

KIND = "neurofeedback"
STEP = 105
BASELINES = ("random", "length")
AXIS_ORDER = ("lr", "pc1", "pc2", "pc3", "entropy", "norm", "random", "length")


def nf_frame(run: RunFrame) -> pd.DataFrame:
    rows = []
    for r in run.records(KIND):
        c, lo = r["condition"], r["logits"]
        row = {
            k: clean(c.get(k))
            for k in ("task", "axis", "layer", "shots", "sentence", "rep", "target", "draw")
        }
        for k in ("p_a", "correct", "score_z", "hit", "var_explained", "length_r", "share_a"):
            v = lo.get(k)
            row[k] = bool(v) if isinstance(v, bool) else number(v)
        row["side"] = lo.get("side")
        row["text"] = r.get("response")
        rows.append(row)
    return pd.DataFrame(rows)


def order_key(axis: Any, layer: Any) -> tuple[Any, ...]:
    return (sort_key(axis, AXIS_ORDER), sort_key(clean(layer)))


NO_LAYER = -1  # the layer key of layer-free axes (entropy, length)


def layer_key(value: Any) -> int:
    v = clean(value)
    return NO_LAYER if v is None else int(v)


def baseline_hits(rep: pd.DataFrame, axis: str, lkey: int, shots: Any) -> pd.Series:
    """Correctness on the baseline axis per (sentence, rep), at this layer (averaged over
    the declared layers for a layer-free axis or baseline)."""
    b = rep[(rep["axis"] == axis) & (rep["shots"] == shots)]
    if lkey != NO_LAYER and axis != "length":
        b = b[b["lkey"] == lkey]
    return b.groupby(["sentence", "rep"])["correct"].mean()


def report_table(df: pd.DataFrame) -> pd.DataFrame:
    rep = df[df["task"] == "report"].copy()
    if len(rep) == 0:
        return frame([])
    rep["correct"] = rep["correct"].astype(float)
    rep["lkey"] = rep["layer"].map(layer_key)
    rows = []
    keys = sorted(set(zip(rep["axis"], rep["lkey"], strict=True)), key=lambda k: order_key(*k))
    for axis, lkey in keys:
        mine = rep[(rep["axis"] == axis) & (rep["lkey"] == lkey)]
        shots_all = sorted(mine["shots"].unique())
        for shots in shots_all:
            g = mine[mine["shots"] == shots]
            layer = None if lkey == NO_LAYER else lkey
            out: dict[str, Any] = {"axis": axis, "layer": layer, "shots": shots}
            put_rate(out, "accuracy", (bool(v) for v in g["correct"]))
            out["chance"] = 0.5
            hits = g.groupby(["sentence", "rep"])["correct"].mean()
            for base in BASELINES:
                name = f"vs_{base}"
                other = baseline_hits(rep, base, lkey, shots)
                common = hits.index.intersection(other.index)
                if axis == base or len(common) == 0:
                    put_diff(out, name, paired_mean_ci([]))
                    continue
                put_diff(out, name, paired_mean_ci((hits[common] - other[common]).tolist()))
            first = mine[mine["shots"] == shots_all[0]]["correct"]
            if shots == shots_all[-1] and len(shots_all) > 1:
                put_rate_diff(
                    out, "gain", (bool(v) for v in g["correct"]), (bool(v) for v in first)
                )
            rows.append(out)
    return frame(rows)


def control_table(df: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for task in ("explicit", "implicit"):
        d = df[df["task"] == task]
        if len(d) == 0:
            continue
        d = d.assign(lkey=d["layer"].map(layer_key))
        for (axis, lkey), g in sorted(
            d.groupby(["axis", "lkey"]), key=lambda kv: order_key(*kv[0])
        ):
            out: dict[str, Any] = {
                "task": task,
                "axis": axis,
                "layer": None if lkey == NO_LAYER else lkey,
                "shots": clean(g["shots"].iloc[0]),
            }
            za = g[g["target"] == "A"]["score_z"].astype(float)
            zb = g[g["target"] == "B"]["score_z"].astype(float)
            if task == "explicit":
                put_diff(out, "shift", mean_difference_ci(za.tolist(), zb.tolist()))
            else:
                pa = g[g["target"] == "A"].set_index(["sentence", "rep"])["score_z"]
                pb = g[g["target"] == "B"].set_index(["sentence", "rep"])["score_z"]
                common = pa.index.intersection(pb.index)
                put_diff(
                    out, "shift", paired_mean_ci((pa[common] - pb[common]).astype(float).tolist())
                )
            put_rate(out, "on_target", (bool(v) for v in g["hit"]))
            rows.append(out)
    return frame(rows)


def axes_table(df: pd.DataFrame) -> pd.DataFrame:
    if len(df) == 0:
        return frame([])
    first = df.assign(lkey=df["layer"].map(layer_key)).drop_duplicates(["axis", "lkey"])
    rows = [
        {
            "axis": r["axis"],
            "layer": None if r["lkey"] == NO_LAYER else r["lkey"],
            "var_explained": r["var_explained"],
            "length_r": r["length_r"],
            "share_a": r["share_a"],
        }
        for _, r in first.iterrows()
    ]
    return frame(sorted(rows, key=lambda r: order_key(r["axis"], r["layer"])))


def tables(run: RunFrame, _upstream: Mapping[str, Tables]) -> Tables:
    df = nf_frame(run)
    if len(df) == 0:
        e = pd.DataFrame()
        return {"report": e, "control": e, "axes": e, "written": e}
    written = df[df["task"] == "explicit"][["axis", "layer", "target", "text", "score_z", "side"]]
    return {
        "report": report_table(df),
        "control": control_table(df),
        "axes": axes_table(df),
        "written": written.reset_index(drop=True),
    }


# --------------------------------------------------------------------------- sentences


def where(axis: Any, layer: Any) -> str:
    return f"the {axis} axis" + (f" at layer {int(layer)}" if clean(layer) is not None else "")


def report_sentence(row: Mapping[str, Any], t: Tables) -> str:
    acc = fmt_estimate(row["accuracy"], row["accuracy_ci_low"], row["accuracy_ci_high"], "rate")
    if row["axis"] == "random":
        return (
            f"With {int(row['shots'])} labelled examples, the label the model reports for a new "
            f"sentence matches {where(row['axis'], row['layer'])} in {acc} of "
            f"{int(row['accuracy_n'])} queries (chance 50%). A random direction is the "
            "baseline the other axes are compared with: above 50% here means the paradigm "
            "can be solved without reading any particular direction."
        )
    vs_r = ci_or_none(row["vs_random"], row["vs_random_ci_low"], row["vs_random_ci_high"])
    vs_l = ci_or_none(row["vs_length"], row["vs_length_ci_low"], row["vs_length_ci_high"])
    reading = verdict(
        row["vs_random_ci_low"],
        row["vs_random_ci_high"],
        0.0,
        f"the reported label carries information about {where(row['axis'], row['layer'])} "
        "beyond what a random axis allows",
        "the reports track the random axis better",
        "the reports are not more accurate than on a random axis",
    )
    text = (
        f"With {int(row['shots'])} labelled examples, the label the model reports for a new "
        f"sentence matches {where(row['axis'], row['layer'])} in {acc} of "
        f"{int(row['accuracy_n'])} queries (chance 50%); minus the random axis {vs_r}: {reading}"
    )
    if row["axis"] == "length":
        return (
            text
            + ". Length is a surface feature: reporting it shows that the paradigm can be solved from the text alone."
        )
    surface = verdict(
        row["vs_length_ci_low"],
        row["vs_length_ci_high"],
        0.0,
        "the reports also beat the sentence-length axis, a surface feature",
        "the sentence-length axis (a surface feature) is reported better, which undermines "
        "reading this as a readout of the model's own state",
        "the sentence-length axis (a surface feature) is reported about as well, which "
        "undermines reading this as a readout of the model's own state",
    )
    return text + f"; minus the length axis {vs_l}: {surface}."


def headlines(t: Tables, _upstream: Mapping[str, Tables]) -> list[Headline]:
    rep = t["report"]
    if len(rep) == 0:
        return []
    top = rep[rep["shots"] == rep["shots"].max()]
    return [
        headline_from_row(
            f"neurofeedback report accuracy: {where(r['axis'], r['layer'])}, {int(r['shots'])} shots",
            r,
            "accuracy",
            report_sentence(r, t),
            unit="queries",
            kind="rate",
            null=0.5,
        )
        for _, r in top.iterrows()
    ]


def scorecard(inputs: ScoreInputs) -> list[Headline]:
    rep = inputs.tables["report"]
    name = "neurofeedback report above the random and the surface axis"
    if len(rep) == 0 or "vs_random" not in rep.columns:
        return [not_run(STEP, name, "no neurofeedback report trials in this run.")]
    top = rep[rep["shots"] == rep["shots"].max()]  # declared: the most examples of the spec
    lines = []
    for _, r in top.iterrows():
        if r["axis"] == "random":
            continue
        lines.append(
            headline_from_row(
                f"{name}: {where(r['axis'], r['layer'])}",
                r,
                "vs_random",
                report_sentence(r, inputs.tables),
                unit="queries",
                kind="rate_difference",
                config=f"{int(r['shots'])} shots",
                step=STEP,
            )
        )
    return lines or [not_run(STEP, name, "only the random axis was run.")]


def control_sentence(row: Mapping[str, Any]) -> str:
    shift = ci_or_none(row["shift"], row["shift_ci_low"], row["shift_ci_high"])
    what = (
        "sentences written for label A vs B"
        if row["task"] == "explicit"
        else "the same sentence read with label A vs B in mind"
    )
    reading = verdict(
        row["shift_ci_low"],
        row["shift_ci_high"],
        0.0,
        "the score moves toward the target's side",
        "the score moves away from the target",
        "no shift is detectable",
    )
    return (
        f"{str(row['task']).capitalize()} control on {where(row['axis'], row['layer'])}: "
        f"{what} differ by {shift} bank standard deviations: {reading}; on the target's "
        f"side in {pct(row['on_target'])} of trials."
    )


def gain_rows(rep: pd.DataFrame) -> pd.DataFrame:
    if len(rep) == 0 or "gain" not in rep.columns:
        return rep
    return rep[rep["gain"].map(lambda v: number(v) is not None)]
