"""Tables for a run: one tidy pandas DataFrame per experiment, plus headline summary rows.

Every function takes the frame returned by :func:`introscope.store.load_run` (the whole run
is fine: each function keeps only its own experiment) and returns a tidy DataFrame, empty
when the experiment is absent. Column conventions, shared with :mod:`introscope.report`:

* a **rate** ``X`` comes as four columns ``X`` (estimate), ``X_ci_low``, ``X_ci_high`` (95%
  Wilson) and ``X_n`` (trials with a valid grade);
* a **difference** ``X`` (hit minus matched control, or a shift in a mean) has the same four
  columns plus ``X_n_ref``, the n of the reference condition; the CI is Newcombe's hybrid
  score interval for differences of rates, Welch's t for differences of means;
* a **mean** ``X`` has ``X``, ``X_ci_low``, ``X_ci_high`` (t interval) and ``X_n``.

A grade that is missing, not a bool, or an ``{"error": ...}`` object (a judge that failed) is
*missing*: the trial is left out of that rate's n, never counted as False.

Conventions about the row contract (see DESIGN.md section 3):

* detection control trials have ``control == "none"``. Their false-positive rate (the report
  is coherent and affirmative although nothing was injected) is the matched control for
  every injected configuration. Control trials usually carry no layer/strength; when they
  do, a configuration is compared with the control trials at its own (layer, strength),
  otherwise with all control trials pooled. The same rule applies to the prefill
  experiment's ``injected == "none"`` trials and to the no-injection trials of the other
  experiments.
* all wording produced here is mechanistic: a positive net score means the report carries
  information about the injected direction, nothing more.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from introscope.stats import (
    Difference,
    cohens_kappa,
    mean_difference_ci,
    paired_mean_ci,
    pearson_with_ci,
    rate,
    rate_difference,
)

__all__ = [
    "detection_logit_table",
    "detection_table",
    "grade_value",
    "grader_agreement_table",
    "intentional_control_table",
    "intentional_control_token_table",
    "outcome_table",
    "prefill_table",
    "summary_lines",
    "thoughts_vs_text_table",
    "yes_bias_generation_table",
    "yes_bias_table",
]

NAN = float("nan")
INJECTED_CONTROLS: tuple[str, ...] = ("concept", "random", "negated")
CONTROL_ORDER: tuple[str, ...] = ("concept", "random", "negated", "none")
INSTRUCTION_ORDER: tuple[str, ...] = ("think", "dont_think", "silent_task", "mention")
PREFILL_ORDER: tuple[str, ...] = ("none", "match", "other")
CONTRASTS: tuple[tuple[str, str], ...] = (
    ("think", "dont_think"),
    ("silent_task", "dont_think"),
    ("think", "silent_task"),
)

Key = tuple[Any, ...]


# --------------------------------------------------------------------------- helpers


def _clean(value: Any) -> Any:
    """NaN / pandas NA -> None; numpy scalars -> Python; integral floats stay floats."""
    if value is None:
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        f = float(value)
        return None if math.isnan(f) else f
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def _layer(value: Any) -> int | None:
    v = _clean(value)
    if v is None or isinstance(v, bool):
        return None
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def _strength(value: Any) -> float | None:
    v = _clean(value)
    if v is None or isinstance(v, bool):
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _as_dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _select(df: pd.DataFrame | None, experiment: str, measure: str | None = None) -> pd.DataFrame:
    """Rows of one experiment (and measure); an empty frame when there are none."""
    if df is None or len(df) == 0 or "experiment" not in df.columns:
        return pd.DataFrame()
    out = df[df["experiment"] == experiment]
    if measure is not None and "measure" in out.columns:
        out = out[out["measure"] == measure]
    return out.reset_index(drop=True)


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts with ``condition`` / ``grades`` / ``logits`` decoded to dicts."""
    out = []
    for row in df.to_dict("records"):
        row["condition"] = _as_dict(row.get("condition"))
        row["grades"] = _as_dict(row.get("grades"))
        row["logits"] = _as_dict(row.get("logits"))
        out.append(row)
    return out


def _cond(row: Mapping[str, Any], key: str) -> Any:
    """A condition field, falling back to the flat column of the same name."""
    cond = row.get("condition") or {}
    if key in cond:
        return _clean(cond[key])
    return _clean(row.get(key))


def grade_value(grades: Any, criterion: str, grader: str = "rules") -> bool | None:
    """``grades[grader][criterion]`` as a bool, or None when missing / an error / not a bool."""
    g = _as_dict(grades).get(grader)
    if not isinstance(g, Mapping) or ("error" in g and len(g) == 1):
        return None
    v = g.get(criterion)
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) or math.isinf(f) else f


def _put_rate(out: dict[str, Any], name: str, values: Iterable[bool | None]) -> None:
    vals = [v for v in values if v is not None]
    r = rate(sum(vals), len(vals))
    out[name] = r.estimate
    out[f"{name}_ci_low"] = r.low
    out[f"{name}_ci_high"] = r.high
    out[f"{name}_n"] = r.n


def _put_diff(out: dict[str, Any], name: str, d: Difference) -> None:
    out[name] = d.estimate
    out[f"{name}_ci_low"] = d.low
    out[f"{name}_ci_high"] = d.high
    out[f"{name}_n"] = d.n_a
    out[f"{name}_n_ref"] = d.n_b


def _put_rate_diff(
    out: dict[str, Any], name: str, a: Iterable[bool | None], b: Iterable[bool | None]
) -> None:
    va = [v for v in a if v is not None]
    vb = [v for v in b if v is not None]
    _put_diff(out, name, rate_difference(sum(va), len(va), sum(vb), len(vb)))


def _put_mean(out: dict[str, Any], name: str, values: Iterable[float | None]) -> None:
    vals = [v for v in values if v is not None]
    d = paired_mean_ci(vals)
    out[name] = d.estimate
    out[f"{name}_ci_low"] = d.low
    out[f"{name}_ci_high"] = d.high
    out[f"{name}_n"] = d.n_a


def _sort_key(value: Any, order: tuple[str, ...] = ()) -> tuple[int, Any]:
    if value is None:
        return (2, "")
    if isinstance(value, str):
        return (0, order.index(value)) if value in order else (1, value)
    return (0, value)


def _group(
    rows: Iterable[dict[str, Any]], key: Callable[[dict[str, Any]], Key]
) -> dict[Key, list[dict[str, Any]]]:
    groups: dict[Key, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(key(r), []).append(r)
    return groups


def config_key(r: dict[str, Any]) -> Key:
    """A trial's injection configuration: (layer, strength, control)."""
    return (_layer(_cond(r, "layer")), _strength(_cond(r, "strength")), _cond(r, "control"))


def config_order(key: Key) -> tuple[Any, ...]:
    """Sort configurations by layer, strength, then control in CONTROL_ORDER."""
    return (_sort_key(key[0]), _sort_key(key[1]), _sort_key(key[2], CONTROL_ORDER))


def _by_config(
    recs: Iterable[dict[str, Any]],
) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Trials grouped by configuration, in :func:`config_order`, each paired with the start
    of its output row (layer, strength, control, n_trials)."""
    groups = _group(recs, config_key)
    return [
        ({"layer": k[0], "strength": k[1], "control": k[2], "n_trials": len(v)}, v)
        for k, v in sorted(groups.items(), key=lambda kv: config_order(kv[0]))
    ]


def _matched(
    controls: list[dict[str, Any]], layer: int | None, strength: float | None
) -> list[dict[str, Any]]:
    """Control trials at (layer, strength) when any carry that configuration, else all."""
    same = [
        r
        for r in controls
        if _layer(_cond(r, "layer")) == layer and _strength(_cond(r, "strength")) == strength
    ]
    if same and (layer is not None or strength is not None):
        return same
    return controls


def _frame(rows: list[dict[str, Any]], columns: list[str] | None = None) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame(columns=columns or [])
    return pd.DataFrame(rows)


def _fmt_num(x: Any) -> str:
    v = _clean(x)
    if v is None:
        return "-"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


# --------------------------------------------------------------------------- detection


def _success(grades: Any, grader: str) -> bool | None:
    v = grade_value(grades, "success", grader)
    if v is not None:
        return v
    parts = [
        grade_value(grades, c, grader)
        for c in ("coherent", "affirmative", "correct_concept", "noticed_first")
    ]
    if any(p is None for p in parts):
        return None
    return all(parts)


def _claims_detection(grades: Any, grader: str) -> bool | None:
    """A coherent, affirmative detection report (a false positive on a control trial)."""
    aff = grade_value(grades, "affirmative", grader)
    coh = grade_value(grades, "coherent", grader)
    if aff is None or coh is None:
        return None
    return aff and coh


def detection_table(df: pd.DataFrame, grader: str = "rules") -> pd.DataFrame:
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
    recs = _records(_select(df, "detection", "generation"))
    if not recs:
        return pd.DataFrame()
    controls = [r for r in recs if _cond(r, "control") == "none"]
    rows = []
    for out, trials in _by_config(recs):
        layer, strength, control = out["layer"], out["strength"], out["control"]
        g = [t["grades"] for t in trials]
        is_control = control == "none"
        _put_rate(out, "success", (None if is_control else _success(x, grader) for x in g))
        _put_rate(out, "affirmative", (grade_value(x, "affirmative", grader) for x in g))
        _put_rate(
            out,
            "identification",
            (None if is_control else grade_value(x, "correct_concept", grader) for x in g),
        )
        claims = [_claims_detection(x, grader) for x in g]
        _put_rate(out, "claims_detection", claims)
        ctrl = [_claims_detection(c["grades"], grader) for c in _matched(controls, layer, strength)]
        _put_rate(out, "false_positive", ctrl)
        if is_control:
            for name in ("net_detection", "net_affirmative"):
                _put_diff(out, name, Difference(NAN, NAN, NAN, 0, 0))
        else:
            _put_rate_diff(out, "net_detection", (_success(x, grader) for x in g), ctrl)
            _put_rate_diff(out, "net_affirmative", claims, ctrl)
        rows.append(out)
    return _frame(rows)  # already in config_order: _by_config sorts the groups


def detection_logit_table(df: pd.DataFrame) -> pd.DataFrame:
    """Detection read out from the logits, by layer x strength x control.

    Columns: ``p_yes`` (mean P(yes) of the normalised yes/no pair, t CI), ``p_yes_shift``
    (mean minus the matched no-injection mean, Welch CI), ``top_rank`` (rate at which the
    injected concept ranks first among the candidates), ``chance`` (1 / n_candidates, mean)
    and ``top_rank_vs_chance`` (rate minus chance, the Wilson bounds shifted by chance).
    """
    recs = _records(_select(df, "detection", "logits"))
    if not recs:
        return pd.DataFrame()
    controls = [r for r in recs if _cond(r, "control") == "none"]
    rows = []
    for out, trials in _by_config(recs):
        layer, strength, control = out["layer"], out["strength"], out["control"]
        p = [_number(t["logits"].get("p_yes")) for t in trials]
        _put_mean(out, "p_yes", p)
        ctrl = [_number(c["logits"].get("p_yes")) for c in _matched(controls, layer, strength)]
        ctrl_v = [v for v in ctrl if v is not None]
        if control == "none":
            _put_diff(out, "p_yes_shift", Difference(NAN, NAN, NAN, 0, 0))
        else:
            _put_diff(
                out, "p_yes_shift", mean_difference_ci([v for v in p if v is not None], ctrl_v)
            )
        ranks: list[bool | None] = []
        chances = []
        for t in trials:
            rk = _number(t["logits"].get("concept_rank"))
            nc = _number(t["logits"].get("n_candidates"))
            if control == "none" or rk is None:
                ranks.append(None)
                continue
            ranks.append(rk == 1)
            if nc:
                chances.append(1.0 / nc)
        _put_rate(out, "top_rank", ranks)
        chance = float(np.mean(chances)) if chances else NAN
        out["chance"] = chance
        out["top_rank_vs_chance"] = out["top_rank"] - chance
        out["top_rank_vs_chance_ci_low"] = out["top_rank_ci_low"] - chance
        out["top_rank_vs_chance_ci_high"] = out["top_rank_ci_high"] - chance
        out["top_rank_vs_chance_n"] = out["top_rank_n"]
        rows.append(out)
    return _frame(rows)  # already in config_order: _by_config sorts the groups


# --------------------------------------------------------------------------- yes-bias


def yes_bias_table(df_detection_logits: pd.DataFrame, df_yes_bias: pd.DataFrame) -> pd.DataFrame:
    """Detection P(yes) shift next to the yes-bias shift, per layer x strength x control.

    ``detection_shift``: per-trial P(yes) on the detection question minus the mean of the
    matched no-injection detection trials (its mean, Welch CI against the controls).
    ``yes_bias_shift``: per-trial P(yes) on a "no"-answer question minus the mean of that
    same question's no-injection trials, averaged over trials (t CI; ``yes_bias_world_shift``
    / ``yes_bias_self_shift`` split by question kind). ``bias_corrected_detection`` =
    detection_shift - yes_bias_shift with a Welch CI on the two sets of per-trial shifts.
    ``pearson_r`` (with ``pearson_ci_low/high`` and ``pearson_n``, the same on every row) is
    the across-configuration correlation of the two shifts (Fisher-z CI): r near 1 means the
    detection shift is largely explained by a general push toward "yes".

    Either argument may be the whole run frame; each keeps only its own experiment.
    """
    det = _records(_select(df_detection_logits, "detection", "logits"))
    yb = _records(_select(df_yes_bias, "yes_bias"))
    if not det or not yb:
        return pd.DataFrame()
    det_ctrl = [r for r in det if _cond(r, "control") == "none"]
    # Per-question baseline from the no-injection trials.
    base: dict[Any, list[float]] = {}
    for r in yb:
        if _cond(r, "control") == "none":
            v = _number(r["logits"].get("p_yes"))
            if v is not None:
                base.setdefault(_cond(r, "question_id"), []).append(v)
    base_mean = {q: float(np.mean(v)) for q, v in base.items() if v}

    det_groups = _group((r for r in det if _cond(r, "control") != "none"), config_key)
    yb_groups = _group((r for r in yb if _cond(r, "control") != "none"), config_key)
    rows = []
    for key in sorted(
        set(det_groups) & set(yb_groups),
        key=lambda k: (_sort_key(k[0]), _sort_key(k[1]), _sort_key(k[2], CONTROL_ORDER)),
    ):
        layer, strength, control = key
        ctrl = [
            v
            for v in (
                _number(c["logits"].get("p_yes")) for c in _matched(det_ctrl, layer, strength)
            )
            if v is not None
        ]
        out: dict[str, Any] = {"layer": layer, "strength": strength, "control": control}
        if not ctrl:
            continue
        ctrl_mean = float(np.mean(ctrl))
        det_p = [
            v for v in (_number(t["logits"].get("p_yes")) for t in det_groups[key]) if v is not None
        ]
        det_shifts = [v - ctrl_mean for v in det_p]
        _put_diff(out, "detection_shift", mean_difference_ci(det_p, ctrl))
        yb_shifts: list[float] = []
        by_kind: dict[str, list[float]] = {"world": [], "self": []}
        for t in yb_groups[key]:
            v = _number(t["logits"].get("p_yes"))
            q = _cond(t, "question_id")
            if v is None or q not in base_mean:
                continue
            s = v - base_mean[q]
            yb_shifts.append(s)
            kind = _cond(t, "question_kind")
            if kind in by_kind:
                by_kind[kind].append(s)
        _put_mean(out, "yes_bias_shift", yb_shifts)
        for kind, vals in by_kind.items():
            _put_mean(out, f"yes_bias_{kind}_shift", vals)
        _put_diff(out, "bias_corrected_detection", mean_difference_ci(det_shifts, yb_shifts))
        rows.append(out)
    if not rows:
        return pd.DataFrame()
    table = pd.DataFrame(rows)
    ok = table["detection_shift"].notna() & table["yes_bias_shift"].notna()
    r_est, r_lo, r_hi = pearson_with_ci(
        table.loc[ok, "yes_bias_shift"].tolist(), table.loc[ok, "detection_shift"].tolist()
    )
    table["pearson_r"] = r_est
    table["pearson_ci_low"] = r_lo
    table["pearson_ci_high"] = r_hi
    table["pearson_n"] = int(ok.sum())
    return table


# --------------------------------------------------------------------------- thoughts vs text


def _identified(r: dict[str, Any]) -> bool | None:
    v = grade_value(r["grades"], "identified")
    if v is not None:
        return v
    rk = _number(r["logits"].get("candidate_rank"))
    return None if rk is None else rk == 1


def thoughts_vs_text_table(df: pd.DataFrame) -> pd.DataFrame:
    """Thoughts vs. text, by layer x strength x control.

    ``identification`` (the injected word ranks first among the candidates; from the rules
    grade ``identified``, else ``candidate_rank == 1``), ``chance`` (1 / n_candidates, 0.1 by
    default), ``identification_vs_chance`` (rate minus chance, Wilson bounds shifted),
    ``identification_vs_control`` (minus the no-injection trials' rate, Newcombe CI),
    ``exact_match`` (the sentence was transcribed exactly) and ``both`` (identified and
    transcribed exactly, when both grades sit on the same trial).
    """
    recs = _records(_select(df, "thoughts_vs_text"))
    if not recs:
        return pd.DataFrame()
    controls = [r for r in recs if _cond(r, "control") == "none"]
    rows = []
    for out, trials in _by_config(recs):
        layer, strength, control = out["layer"], out["strength"], out["control"]
        ident = [_identified(t) for t in trials]
        _put_rate(out, "identification", ident)
        ncs = [_number(t["logits"].get("n_candidates")) for t in trials]
        ncs_v = [n for n in ncs if n]
        chance = float(np.mean([1.0 / n for n in ncs_v])) if ncs_v else 0.1
        out["chance"] = chance
        out["identification_vs_chance"] = out["identification"] - chance
        out["identification_vs_chance_ci_low"] = out["identification_ci_low"] - chance
        out["identification_vs_chance_ci_high"] = out["identification_ci_high"] - chance
        out["identification_vs_chance_n"] = out["identification_n"]
        if control == "none":
            _put_diff(out, "identification_vs_control", Difference(NAN, NAN, NAN, 0, 0))
        else:
            ctrl = [_identified(c) for c in _matched(controls, layer, strength)]
            _put_rate_diff(out, "identification_vs_control", ident, ctrl)
        exact = [grade_value(t["grades"], "exact_match") for t in trials]
        _put_rate(out, "exact_match", exact)
        _put_rate(
            out,
            "both",
            (
                a and b if a is not None and b is not None else None
                for a, b in zip(ident, exact, strict=True)
            ),
        )
        rows.append(out)
    return _frame(rows)


# --------------------------------------------------------------------------- prefill


def prefill_table(df: pd.DataFrame) -> pd.DataFrame:
    """Prefill / retroactive intention: apology rate per injected condition x layer x strength.

    ``apology`` and ``coherent`` are rates; ``apology_vs_none`` is the apology rate minus that
    of the matched ``injected == "none"`` trials (Newcombe CI). A lower apology rate under
    "match" than under "none" means the report of intent carries information about the
    direction injected before the prefilled word; "other" is the wrong-concept control.
    """
    recs = _records(_select(df, "prefill"))
    if not recs:
        return pd.DataFrame()
    none = [r for r in recs if _cond(r, "injected") == "none"]
    groups = _group(
        recs,
        lambda r: (
            _cond(r, "injected"),
            _layer(_cond(r, "layer")),
            _strength(_cond(r, "strength")),
        ),
    )
    rows = []
    for (injected, layer, strength), trials in sorted(
        groups.items(),
        key=lambda kv: (
            _sort_key(kv[0][1]),
            _sort_key(kv[0][2]),
            _sort_key(kv[0][0], PREFILL_ORDER),
        ),
    ):
        out: dict[str, Any] = {
            "injected": injected,
            "layer": layer,
            "strength": strength,
            "n_trials": len(trials),
        }
        apo = [grade_value(t["grades"], "apology") for t in trials]
        _put_rate(out, "apology", apo)
        _put_rate(out, "coherent", (grade_value(t["grades"], "coherent") for t in trials))
        if injected == "none":
            _put_diff(out, "apology_vs_none", Difference(NAN, NAN, NAN, 0, 0))
        else:
            ctrl = [grade_value(c["grades"], "apology") for c in _matched(none, layer, strength)]
            _put_rate_diff(out, "apology_vs_none", apo, ctrl)
        rows.append(out)
    return _frame(rows)


# --------------------------------------------------------------------------- intentional control


def _vectors(r: dict[str, Any]) -> tuple[list[float | None], list[float | None]]:
    cos = r["logits"].get("cos_by_layer")
    base = r["logits"].get("baseline_by_layer")
    cos_l = [_number(v) for v in cos] if isinstance(cos, list) else []
    base_l = [_number(v) for v in base] if isinstance(base, list) else []
    return cos_l, base_l


def intentional_control_table(df: pd.DataFrame) -> pd.DataFrame:
    """Intentional control: cosine with the word's concept vector, per layer x instruction.

    Rows with ``row_type == "instruction"``: ``cos`` (mean cosine of the sentence tokens'
    mean activation with the word's vector, t CI), ``baseline`` (mean cosine with other
    words' vectors) and ``delta`` (per-trial cos - baseline, mean with t CI). Rows with
    ``row_type == "contrast"`` (``instruction`` "think - dont_think", "silent_task -
    dont_think", "think - silent_task"): ``delta`` is the difference of the two
    instructions' mean deltas with a Welch CI (``delta_n`` / ``delta_n_ref`` the two ns).
    """
    recs = _records(_select(df, "intentional_control"))
    if not recs:
        return pd.DataFrame()
    # deltas[instruction][layer] -> list of per-trial values
    cos_d: dict[str, dict[int, list[float]]] = {}
    base_d: dict[str, dict[int, list[float]]] = {}
    delta_d: dict[str, dict[int, list[float]]] = {}
    for r in recs:
        instr = _cond(r, "instruction")
        if not isinstance(instr, str):
            continue
        cos, base = _vectors(r)
        for i, c in enumerate(cos):
            b = base[i] if i < len(base) else None
            if c is not None:
                cos_d.setdefault(instr, {}).setdefault(i, []).append(c)
            if b is not None:
                base_d.setdefault(instr, {}).setdefault(i, []).append(b)
            if c is not None and b is not None:
                delta_d.setdefault(instr, {}).setdefault(i, []).append(c - b)
    layers = sorted({i for d in (cos_d, delta_d) for per in d.values() for i in per})
    instructions = sorted(set(cos_d) | set(delta_d), key=lambda s: _sort_key(s, INSTRUCTION_ORDER))
    rows: list[dict[str, Any]] = []
    for layer in layers:
        for instr in instructions:
            out: dict[str, Any] = {"row_type": "instruction", "instruction": instr, "layer": layer}
            _put_mean(out, "cos", cos_d.get(instr, {}).get(layer, []))
            _put_mean(out, "baseline", base_d.get(instr, {}).get(layer, []))
            _put_mean(out, "delta", delta_d.get(instr, {}).get(layer, []))
            out["delta_n_ref"] = out["delta_n"]
            rows.append(out)
        for first, second in CONTRASTS:
            va = delta_d.get(first, {}).get(layer, [])
            vb = delta_d.get(second, {}).get(layer, [])
            if not va or not vb:
                continue
            con: dict[str, Any] = {
                "row_type": "contrast",
                "instruction": f"{first} - {second}",
                "layer": layer,
            }
            _put_diff(con, "delta", mean_difference_ci(va, vb))
            rows.append(con)
    return _frame(rows)


# --------------------------------------------------------------------------- outcomes


def outcome_table(df: pd.DataFrame) -> pd.DataFrame:
    """Failure taxonomy of detection generation trials: one row per layer x strength x
    control x outcome with ``count``, the rate ``fraction`` (of graded trials in the cell,
    Wilson CI, ``fraction_n``) and ``n_ungraded`` (trials whose rules outcome is missing or
    an error, left out of n)."""
    recs = _records(_select(df, "detection", "generation"))
    if not recs:
        return pd.DataFrame()
    groups = _group(
        recs,
        config_key,
    )
    rows = []
    for (layer, strength, control), trials in sorted(
        groups.items(),
        key=lambda kv: config_order(kv[0]),
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
    return _frame(rows)


def yes_bias_generation_table(df: pd.DataFrame) -> pd.DataFrame:
    """Generated answers: the yes-bias shift next to the detection-claim shift.

    Per layer x strength x control: ``answered_yes`` (answers to "no"-questions that open
    with yes, under injection) minus the same rate on the no-injection trials
    (``yes_bias_shift``, Newcombe CI); the detection experiment's ``net_affirmative`` at the
    same configuration (claims under injection minus no-injection claims); and
    ``bias_corrected_claims`` = net_affirmative - yes_bias_shift with a MOVER interval
    (Zou & Donner 2008) built from the two Newcombe intervals. Answers opening with neither
    yes nor no are missing, never "no".
    """
    yb = _records(_select(df, "yes_bias", "generation"))
    if not yb:
        return pd.DataFrame()
    det = (
        {
            (r["layer"], r["strength"], r["control"]): r
            for r in detection_table(df).to_dict("records")
        }
        if not _select(df, "detection", "generation").empty
        else {}
    )
    ctrl = [_grade(r, "answered_yes") for r in yb if _cond(r, "control") == "none"]
    rows = []
    for out, trials in _by_config(r for r in yb if _cond(r, "control") != "none"):
        layer, strength, control = out["layer"], out["strength"], out["control"]
        yes = [_grade(t, "answered_yes") for t in trials]
        _put_rate(out, "answered_yes", yes)
        _put_rate_diff(out, "yes_bias_shift", yes, ctrl)
        d = det.get((layer, strength, control))
        if d is not None and not math.isnan(float(d.get("net_affirmative", float("nan")))):
            for suffix in ("", "_ci_low", "_ci_high", "_n"):
                out[f"net_affirmative{suffix}"] = d[f"net_affirmative{suffix}"]
            a, al, ah = (
                d["net_affirmative"],
                d["net_affirmative_ci_low"],
                d["net_affirmative_ci_high"],
            )
            b, bl, bh = (
                out["yes_bias_shift"],
                out["yes_bias_shift_ci_low"],
                out["yes_bias_shift_ci_high"],
            )
            out["bias_corrected_claims"] = a - b
            out["bias_corrected_claims_ci_low"] = a - b - math.hypot(a - al, bh - b)
            out["bias_corrected_claims_ci_high"] = a - b + math.hypot(ah - a, b - bl)
            out["bias_corrected_claims_n"] = out["answered_yes_n"]
        rows.append(out)
    return pd.DataFrame(rows)


def _grade(r: dict[str, Any], criterion: str) -> bool | None:
    value = ((r.get("grades") or {}).get("rules") or {}).get(criterion)
    return value if isinstance(value, bool) else None


def intentional_control_token_table(df: pd.DataFrame) -> pd.DataFrame:
    """Intentional control by token: per instruction x token position x layer, the mean of
    per-trial (cosine with the word's vector - baseline cosine) at that sentence token, with
    a t CI. Sentences differ in length, so each position's n is the trials that reach it."""
    recs = _records(_select(df, "intentional_control"))
    cells: dict[tuple[Any, int, int], list[float]] = {}
    for r in recs:
        lg = r.get("logits") or {}
        cos, base = lg.get("cos_by_token"), lg.get("baseline_by_token")
        if not cos or not base:
            continue
        instruction = _cond(r, "instruction")
        for t, (crow, brow) in enumerate(zip(cos, base, strict=False)):
            for layer, (c, b) in enumerate(zip(crow, brow, strict=False)):
                if c is not None and b is not None:
                    cells.setdefault((instruction, t, layer), []).append(float(c) - float(b))
    rows = []
    for (instruction, t, layer), vals in sorted(
        cells.items(), key=lambda kv: (_sort_key(kv[0][0]), kv[0][1], kv[0][2])
    ):
        out: dict[str, Any] = {"instruction": instruction, "token": t, "layer": layer}
        _put_mean(out, "delta", vals)
        rows.append(out)
    return pd.DataFrame(rows)


def grader_agreement_table(df: pd.DataFrame) -> pd.DataFrame:
    """Rules grader vs LLM judge, per criterion, over detection generation trials graded
    validly by both: ``n``, ``agreement`` (rate, Wilson CI) and Cohen's ``kappa``."""
    recs = _records(_select(df, "detection", "generation"))
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
        _put_rate(out, "agreement", (a == b for a, b in pairs))
        out["kappa"] = cohens_kappa([a for a, _ in pairs], [b for _, b in pairs])
        rows.append(out)
    return _frame(rows)


# --------------------------------------------------------------------------- summary


def _cfg_text(layer: Any, strength: Any) -> str:
    parts = []
    if _clean(layer) is not None:
        parts.append(f"layer {_fmt_num(layer)}")
    if _clean(strength) is not None:
        parts.append(f"strength {_fmt_num(strength)}")
    return ", ".join(parts) if parts else "all configurations"


def _ci(est: float, lo: float, hi: float, signed: bool = True) -> str:
    if math.isnan(est):
        return "n/a"
    f = "{:+.2f}" if signed else "{:.2f}"
    lo_s = "nan" if math.isnan(lo) else f.format(lo)
    hi_s = "nan" if math.isnan(hi) else f.format(hi)
    return f"{f.format(est)} [{lo_s}, {hi_s}]"


def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:.0f}%"


def _line(
    name: str, row: Mapping[str, Any], col: str, sentence: str, n: Any = None
) -> dict[str, Any]:
    return {
        "name": name,
        "estimate": float(row[col]),
        "ci_low": float(row[f"{col}_ci_low"]),
        "ci_high": float(row[f"{col}_ci_high"]),
        "n": int(n if n is not None else row[f"{col}_n"]),
        "sentence": sentence,
    }


def _best(table: pd.DataFrame, col: str, mask: pd.Series | None = None) -> tuple[Any, int]:
    """Row with the largest finite ``col`` (and how many rows competed), or (None, 0)."""
    t = table if mask is None else table[mask]
    t = t[t[col].notna()] if col in t.columns else t.iloc[0:0]
    if len(t) == 0:
        return None, 0
    return t.loc[t[col].idxmax()], len(t)


def _post_hoc(k: int) -> str:
    return f" (the largest of {k} configurations, selected after the fact)" if k > 1 else ""


def summary_lines(df: pd.DataFrame) -> list[dict[str, Any]]:
    """A few headline rows: ``name, estimate, ci_low, ci_high, n, sentence``.

    The headline is always a net score (injected minus matched control). Where a
    configuration is picked as "best", the sentence says so, because the maximum over many
    configurations is biased upward.
    """
    lines: list[dict[str, Any]] = []
    det = detection_table(df)
    if len(det):
        ctrl = det[det["control"] == "none"]
        inj = det["control"] == "concept"
        row, k = _best(det, "net_affirmative", inj)
        if row is not None:
            lines.append(
                _line(
                    "net detection claim (concept)",
                    row,
                    "net_affirmative",
                    f"At {_cfg_text(row['layer'], row['strength'])}{_post_hoc(k)}, the detection "
                    "report is coherent and affirmative more often under concept injection than "
                    f"on no-injection trials by {_ci(row['net_affirmative'], row['net_affirmative_ci_low'], row['net_affirmative_ci_high'])}; "
                    f"the report names the injected concept in {_pct(row['identification'])} of "
                    f"trials (n={int(row['identification_n'])}).",
                )
            )
            for other in ("random", "negated"):
                m = (
                    (det["control"] == other)
                    & (det["layer"].map(_clean) == _clean(row["layer"]))
                    & (det["strength"].map(_clean) == _clean(row["strength"]))
                )
                if m.any():
                    orow = det[m].iloc[0]
                    lines.append(
                        _line(
                            f"net detection claim ({other} control)",
                            orow,
                            "net_affirmative",
                            f"At the same configuration, a {other} "
                            f"{'norm-matched vector' if other == 'random' else 'concept vector'} "
                            "shifts the affirmative report by "
                            f"{_ci(orow['net_affirmative'], orow['net_affirmative_ci_low'], orow['net_affirmative_ci_high'])}; "
                            "a similar shift means the claim tracks the perturbation, not its "
                            "content.",
                        )
                    )
        row, k = _best(det, "net_detection", inj)
        if row is not None:
            lines.append(
                _line(
                    "net detection success (concept)",
                    row,
                    "net_detection",
                    f"At {_cfg_text(row['layer'], row['strength'])}{_post_hoc(k)}, trials meeting "
                    "the full success rule (coherent, affirmative, correct concept, noticed "
                    "before naming) exceed the no-injection false-positive rate by "
                    f"{_ci(row['net_detection'], row['net_detection_ci_low'], row['net_detection_ci_high'])}.",
                )
            )
        if len(ctrl):
            c = ctrl.iloc[0]
            lines.append(
                _line(
                    "false positives (no injection)",
                    c,
                    "claims_detection",
                    "On no-injection control trials the report claims a detection in "
                    f"{_ci(c['claims_detection'], c['claims_detection_ci_low'], c['claims_detection_ci_high'], signed=False)} "
                    f"of trials (n={int(c['claims_detection_n'])}).",
                )
            )
    yb = yes_bias_table(df, df)
    if len(yb):
        row, k = _best(yb, "detection_shift", yb["control"] == "concept")
        if row is not None:
            lines.append(
                _line(
                    "bias-corrected detection (logits)",
                    row,
                    "bias_corrected_detection",
                    f"At {_cfg_text(row['layer'], row['strength'])}{_post_hoc(k)}, injection "
                    f"shifts P(yes) on the detection question by {_ci(row['detection_shift'], row['detection_shift_ci_low'], row['detection_shift_ci_high'])} "
                    f"and on questions whose answer is 'no' by {_ci(row['yes_bias_shift'], row['yes_bias_shift_ci_low'], row['yes_bias_shift_ci_high'])}; "
                    f"the bias-corrected detection shift is {_ci(row['bias_corrected_detection'], row['bias_corrected_detection_ci_low'], row['bias_corrected_detection_ci_high'])}.",
                )
            )
        r0 = yb.iloc[0]
        if not math.isnan(float(r0["pearson_r"])):
            lines.append(
                {
                    "name": "detection vs yes-bias shift (r)",
                    "estimate": float(r0["pearson_r"]),
                    "ci_low": float(r0["pearson_ci_low"]),
                    "ci_high": float(r0["pearson_ci_high"]),
                    "n": int(r0["pearson_n"]),
                    "sentence": "Across injection configurations, the detection P(yes) shift "
                    "correlates with the yes-bias shift at r = "
                    + (
                        f"{float(r0['pearson_r']):+.2f} (only {int(r0['pearson_n'])} "
                        "configurations, too few for a CI)"
                        if math.isnan(float(r0["pearson_ci_low"]))
                        else _ci(
                            float(r0["pearson_r"]),
                            float(r0["pearson_ci_low"]),
                            float(r0["pearson_ci_high"]),
                        )
                    )
                    + "; a high r means much of the detection signal is a general shift "
                    "toward 'yes'.",
                }
            )
    tvt = thoughts_vs_text_table(df)
    if len(tvt):
        row, k = _best(tvt, "identification_vs_chance", tvt["control"] == "concept")
        if row is not None:
            lines.append(
                _line(
                    "thoughts vs text: identification above chance",
                    row,
                    "identification_vs_chance",
                    f"At {_cfg_text(row['layer'], row['strength'])}{_post_hoc(k)}, the word "
                    f"picked among the candidates is the injected one in {_pct(row['identification'])} "
                    f"of trials, {_ci(row['identification_vs_chance'], row['identification_vs_chance_ci_low'], row['identification_vs_chance_ci_high'])} "
                    f"relative to chance ({row['chance']:.2f}); the sentence is still transcribed "
                    f"exactly in {_pct(row['exact_match'])} of trials.",
                )
            )
    pre = prefill_table(df)
    if len(pre):
        for kind in ("match", "other"):
            row, k = _best(
                pre.assign(_neg=-pre["apology_vs_none"]), "_neg", pre["injected"] == kind
            )
            if row is not None:
                lines.append(
                    _line(
                        f"prefill: apology change ({kind})",
                        row,
                        "apology_vs_none",
                        f"At {_cfg_text(row['layer'], row['strength'])}{_post_hoc(k)}, "
                        f"injecting {'the prefilled word' if kind == 'match' else 'a different word'}'s "
                        "vector before the prefill changes the apology rate by "
                        f"{_ci(row['apology_vs_none'], row['apology_vs_none_ci_low'], row['apology_vs_none_ci_high'])} "
                        "relative to no injection.",
                    )
                )
    ic = intentional_control_table(df)
    if len(ic):
        con = ic[(ic["row_type"] == "contrast") & (ic["instruction"] == "think - dont_think")]
        row, k = _best(con, "delta")
        if row is not None:
            lines.append(
                _line(
                    "intentional control: think - don't think",
                    row,
                    "delta",
                    f"At layer {_fmt_num(row['layer'])}{_post_hoc(k)}, the sentence activations "
                    "align more with the word's concept vector (relative to other words) when "
                    "told to think about it than when told not to, by "
                    f"{_ci(row['delta'], row['delta_ci_low'], row['delta_ci_high'])} in cosine.",
                )
            )
    return lines
