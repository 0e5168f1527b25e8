"""Tables and headline rows for three controls (DESIGN §3.3): mismatch, localization and
natural states.

Each ``*_table(df)`` takes the frame of :func:`introscope.store.load_run` (the whole run is
fine: each keeps only its own experiment) and returns a tidy DataFrame, empty when the
experiment is absent. Column conventions are those of :mod:`introscope.analysis`: a rate
``X`` comes as ``X, X_ci_low, X_ci_high, X_n`` (Wilson); a difference adds ``X_n_ref``
(Newcombe for rates, Welch for means); a mean has a t interval.

Each ``*_summary(df)`` returns a list of dicts ``{name, estimate, ci_low, ci_high, n,
sentence}`` for the scorecard. Wording is mechanistic: "the report carries information
about ...", never a claim about awareness. Where a configuration is picked as the best of
several, the sentence says so (the maximum of many configurations is biased upward).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as _st

from introscope.analysis import (
    CONTROL_ORDER,
    _cfg_text,
    _ci,
    _clean,
    _cond,
    _fmt_num,
    _frame,
    _group,
    _layer,
    _matched,
    _number,
    _pct,
    _post_hoc,
    _put_diff,
    _put_mean,
    _put_rate,
    _put_rate_diff,
    _records,
    _select,
    _sort_key,
    _strength,
    config_key,
    config_order,
)
from introscope.stats import (
    Difference,
    RegressionResult,
    linear_regression,
    logistic_regression,
    mean_difference_ci,
    permutation_test,
)

__all__ = [
    "localization_summary",
    "localization_table",
    "mismatch_summary",
    "mismatch_table",
    "natural_states_summary",
    "natural_states_table",
]

NAN = float("nan")
N_PERMUTATIONS = 5000
QUESTION_ORDER: tuple[str, ...] = ("injected", "abstract")
TEMPLATE_ORDER: tuple[str, ...] = ("repeated", "single", "incidental")
PREDICTORS: tuple[str, ...] = ("cos_specific", "cos")
OUTCOMES: tuple[str, ...] = ("concept_logprob", "identified")
COVARIATE_SETS: tuple[str, ...] = ("template", "template+concept")


def _f(x: Any) -> float:
    v = _number(_clean(x))
    return NAN if v is None else v


def _isnan(x: Any) -> bool:
    return math.isnan(_f(x))


def _summary_line(
    name: str, estimate: Any, low: Any, high: Any, n: Any, sentence: str
) -> dict[str, Any]:
    return {
        "name": name,
        "estimate": _f(estimate),
        "ci_low": _f(low),
        "ci_high": _f(high),
        "n": int(_f(n)) if not _isnan(n) else 0,
        "sentence": sentence,
    }


def _best_row(table: pd.DataFrame, col: str, mask: pd.Series | None = None) -> tuple[Any, int]:
    t = table if mask is None else table[mask]
    if col not in t.columns:
        return None, 0
    t = t[pd.to_numeric(t[col], errors="coerce").notna()]
    if len(t) == 0:
        return None, 0
    return t.loc[pd.to_numeric(t[col]).idxmax()], len(t)


def _excludes_zero(low: Any, high: Any) -> int:
    """+1 when the CI lies above 0, -1 below, 0 when it covers 0 or is undefined."""
    lo, hi = _f(low), _f(high)
    if math.isnan(lo) or math.isnan(hi):
        return 0
    return 1 if lo > 0 else (-1 if hi < 0 else 0)


def _p_text(p: Any) -> str:
    v = _f(p)
    return "n/a" if math.isnan(v) else (f"{v:.3f}" if v >= 0.001 else "< 0.001")


# =========================================================================== mismatch


def _p_yes(r: Mapping[str, Any]) -> float | None:
    return _number(r["logits"].get("p_yes"))


def mismatch_table(df: pd.DataFrame) -> pd.DataFrame:
    """Mismatch control, by layer x strength x control (injected trials only).

    ``p_yes_congruent`` / ``p_yes_incongruent`` / ``p_yes_baseline``: mean P(yes) (t CI) when
    the asked word is the injected concept, another word, or nothing is injected (all
    baseline trials). ``gap``: congruent - incongruent mean P(yes) (Welch CI) with
    ``gap_p``, a two-sided permutation test. ``congruent_shift`` / ``incongruent_shift``:
    P(yes) minus the no-injection mean *for the same asked word*, and ``gap_corrected`` their
    difference (Welch CI, permutation ``gap_corrected_p``); this removes differences between
    asked words that have nothing to do with the injection. A gap above 0 means the
    yes-answer carries information about which concept was injected; a shift with no gap
    means it follows the perturbation only.
    """
    recs = _records(_select(df, "mismatch"))
    if not recs:
        return pd.DataFrame()
    base_rows = [r for r in recs if _cond(r, "control") == "none"]
    baseline: dict[Any, list[float]] = {}
    for r in base_rows:
        p = _p_yes(r)
        if p is not None:
            baseline.setdefault(_cond(r, "asked"), []).append(p)
    base_mean = {k: float(np.mean(v)) for k, v in baseline.items()}
    injected = [r for r in recs if _cond(r, "control") != "none"]
    groups = _group(
        injected,
        config_key,
    )
    rows = []
    for (layer, strength, control), trials in sorted(
        groups.items(),
        key=lambda kv: config_order(kv[0]),
    ):
        cong = [t for t in trials if _cond(t, "congruent") is True]
        inc = [t for t in trials if _cond(t, "congruent") is False]
        pc = [p for t in cong if (p := _p_yes(t)) is not None]
        pi = [p for t in inc if (p := _p_yes(t)) is not None]
        pb = [p for t in _matched(base_rows, layer, strength) if (p := _p_yes(t)) is not None]
        out: dict[str, Any] = {
            "layer": layer,
            "strength": strength,
            "control": control,
            "n_trials": len(trials),
        }
        _put_mean(out, "p_yes_congruent", pc)
        _put_mean(out, "p_yes_incongruent", pi)
        _put_mean(out, "p_yes_baseline", pb)
        _put_diff(out, "gap", mean_difference_ci(pc, pi))
        out["gap_p"] = permutation_test(pc, pi, n_permutations=N_PERMUTATIONS, seed=0)[1]

        def shifts(ts: list[dict[str, Any]]) -> list[float]:
            vals = []
            for t in ts:
                p, asked = _p_yes(t), _cond(t, "asked")
                if p is not None and asked in base_mean:
                    vals.append(p - base_mean[asked])
            return vals

        sc, si = shifts(cong), shifts(inc)
        _put_mean(out, "congruent_shift", sc)
        _put_mean(out, "incongruent_shift", si)
        _put_diff(out, "gap_corrected", mean_difference_ci(sc, si))
        out["gap_corrected_p"] = permutation_test(sc, si, n_permutations=N_PERMUTATIONS, seed=0)[1]
        rows.append(out)
    return _frame(rows)


def mismatch_summary(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Headline: the baseline-corrected congruent - incongruent gap in P(yes) (the raw gap
    when there are no baseline trials) at the configuration with the largest gap under
    concept injection, then the same configuration under the random-vector control."""
    table = mismatch_table(df)
    if len(table) == 0:
        return []
    col = "gap_corrected" if table["gap_corrected_n"].fillna(0).gt(0).any() else "gap"
    row, k = _best_row(table, col, table["control"] == "concept")
    if row is None:
        row, k = _best_row(table, col)
    if row is None:
        return []
    lines = []
    est = (row[col], row[f"{col}_ci_low"], row[f"{col}_ci_high"])
    verdict = _excludes_zero(est[1], est[2])
    what = (
        "the yes/no answer carries information about which concept was injected"
        if verdict > 0
        else (
            "the answer favours the asked word *less* when it is the injected one"
            if verdict < 0
            else "no evidence that the yes/no answer carries information about which concept "
            "was injected, beyond a content-free shift"
        )
    )
    corrected = "after subtracting each asked word's no-injection P(yes), " if col != "gap" else ""
    lines.append(
        _summary_line(
            f"mismatch: congruent - incongruent P(yes) ({row['control']})",
            *est,
            row[f"{col}_n"] + row[f"{col}_n_ref"],
            f"At {_cfg_text(row['layer'], row['strength'])}{_post_hoc(k)}, {corrected}P(yes) to "
            "'Are you thinking about X?' is higher when X is the injected concept than when X "
            f"is another word by {_ci(_f(est[0]), _f(est[1]), _f(est[2]))} (permutation p = "
            f"{_p_text(row[f'{col}_p'])}; congruent shift "
            f"{_ci(_f(row['congruent_shift']), _f(row['congruent_shift_ci_low']), _f(row['congruent_shift_ci_high']))}, "
            f"incongruent shift {_ci(_f(row['incongruent_shift']), _f(row['incongruent_shift_ci_low']), _f(row['incongruent_shift_ci_high']))}): "
            f"{what}.",
        )
    )
    if row["control"] == "concept":
        m = (
            (table["control"] == "random")
            & (table["layer"].map(_clean) == _clean(row["layer"]))
            & (table["strength"].map(_clean) == _clean(row["strength"]))
        )
        if m.any():
            r2 = table[m].iloc[0]
            lines.append(
                _summary_line(
                    "mismatch: congruent - incongruent P(yes) (random control)",
                    r2[col],
                    r2[f"{col}_ci_low"],
                    r2[f"{col}_ci_high"],
                    r2[f"{col}_n"] + r2[f"{col}_n_ref"],
                    "At the same configuration, a norm-matched random vector (labelled with the "
                    "same words) gives a gap of "
                    f"{_ci(_f(r2[col]), _f(r2[f'{col}_ci_low']), _f(r2[f'{col}_ci_high']))}; "
                    "a gap of similar size would mean the word-specific answer does not depend "
                    "on the injected content.",
                )
            )
    return lines


# =========================================================================== localization


def _correct(r: Mapping[str, Any]) -> bool | None:
    lg = r["logits"]
    chosen, target = _number(lg.get("chosen")), _number(lg.get("target"))
    if target is None:
        target = _number(_cond(r, "target"))
    if chosen is None or target is None:
        return None
    return int(chosen) == int(target)


def _n_options(trials: Sequence[Mapping[str, Any]]) -> int:
    for t in trials:
        probs = t["logits"].get("probs")
        if isinstance(probs, Sequence) and len(probs) > 1:
            return len(probs)
    return 5


def localization_table(df: pd.DataFrame) -> pd.DataFrame:
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
    recs = _records(_select(df, "localization"))
    if not recs:
        return pd.DataFrame()
    groups = _group(
        recs,
        lambda r: (
            _cond(r, "question"),
            _layer(_cond(r, "layer")),
            _strength(_cond(r, "strength")),
            _cond(r, "control"),
        ),
    )
    none_by_q = {
        q: [r for r in recs if _cond(r, "control") == "none" and _cond(r, "question") == q]
        for q in {_cond(r, "question") for r in recs}
    }
    rows = []
    for (question, layer, strength, control), trials in sorted(
        groups.items(),
        key=lambda kv: (
            _sort_key(kv[0][0], QUESTION_ORDER),
            _sort_key(kv[0][1]),
            _sort_key(kv[0][2]),
            _sort_key(kv[0][3], CONTROL_ORDER),
        ),
    ):
        out: dict[str, Any] = {
            "question": question,
            "layer": layer,
            "strength": strength,
            "control": control,
            "n_trials": len(trials),
        }
        correct = [_correct(t) for t in trials]
        _put_rate(out, "accuracy", correct)
        chance = 1.0 / _n_options(trials)
        out["chance"] = chance
        out["accuracy_vs_chance"] = out["accuracy"] - chance
        out["accuracy_vs_chance_ci_low"] = out["accuracy_ci_low"] - chance
        out["accuracy_vs_chance_ci_high"] = out["accuracy_ci_high"] - chance
        out["accuracy_vs_chance_n"] = out["accuracy_n"]
        vals = [c for c in correct if c is not None]
        out["accuracy_p"] = (
            float(_st.binomtest(sum(vals), len(vals), chance).pvalue) if vals else NAN
        )
        _put_mean(out, "p_target", (_number(t["logits"].get("p_target")) for t in trials))
        _put_mean(out, "digit_mass", (_number(t["logits"].get("digit_mass")) for t in trials))
        if control == "none":
            _put_diff(out, "accuracy_vs_none", Difference(NAN, NAN, NAN, 0, 0))
        else:
            ref = _matched(none_by_q.get(question, []), layer, strength)
            _put_rate_diff(out, "accuracy_vs_none", correct, [_correct(t) for t in ref])
        other = groups.get(("abstract", layer, strength, control), [])
        if question == "injected" and other:
            _put_rate_diff(
                out, "localization_minus_abstractness", correct, [_correct(t) for t in other]
            )
        else:
            _put_diff(out, "localization_minus_abstractness", Difference(NAN, NAN, NAN, 0, 0))
        rows.append(out)
    return _frame(rows)


def localization_summary(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Headline: localization accuracy above chance at the best injected configuration, the
    same configuration's localization - abstractness difference, and the no-injection
    accuracy (positional bias)."""
    table = localization_table(df)
    if len(table) == 0:
        return []
    loc = table["question"] == "injected"
    row, k = _best_row(table, "accuracy_vs_chance", loc & (table["control"] == "concept"))
    if row is None:
        row, k = _best_row(table, "accuracy_vs_chance", loc & (table["control"] != "none"))
    lines = []
    if row is not None:
        v = _excludes_zero(row["accuracy_vs_chance_ci_low"], row["accuracy_vs_chance_ci_high"])
        what = (
            "the numbered answer carries information about which sentence received the injection"
            if v > 0
            else "no evidence that the numbered answer carries information about which "
            "sentence received the injection"
        )
        lines.append(
            _summary_line(
                "localization: accuracy vs chance",
                row["accuracy_vs_chance"],
                row["accuracy_vs_chance_ci_low"],
                row["accuracy_vs_chance_ci_high"],
                row["accuracy_n"],
                f"At {_cfg_text(row['layer'], row['strength'])}{_post_hoc(k)}, asked which of "
                f"{round(1 / row['chance'])} sentences carried the injected thought, the model "
                f"picks the injected one in {_pct(_f(row['accuracy']))} of trials "
                f"(n={int(row['accuracy_n'])}), "
                f"{_ci(_f(row['accuracy_vs_chance']), _f(row['accuracy_vs_chance_ci_low']), _f(row['accuracy_vs_chance_ci_high']))} "
                f"relative to chance {row['chance']:.2f} (binomial p = {_p_text(row['accuracy_p'])}): "
                f"{what}.",
            )
        )
        d = row["localization_minus_abstractness"]
        if not _isnan(d):
            v2 = _excludes_zero(
                row["localization_minus_abstractness_ci_low"],
                row["localization_minus_abstractness_ci_high"],
            )
            if v2 > 0:
                what2 = (
                    "the localization answer carries information beyond how the injected "
                    "sentence looks to an unrelated question"
                )
            elif v > 0:
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
                _summary_line(
                    "localization - abstractness",
                    d,
                    row["localization_minus_abstractness_ci_low"],
                    row["localization_minus_abstractness_ci_high"],
                    row["localization_minus_abstractness_n"]
                    + row["localization_minus_abstractness_n_ref"],
                    "On the same stimuli, the 'which sentence is the most abstract?' question "
                    "finds the injected sentence at a rate that the localization question "
                    f"exceeds by {_ci(_f(d), _f(row['localization_minus_abstractness_ci_low']), _f(row['localization_minus_abstractness_ci_high']))}: "
                    f"{what2}.",
                )
            )
    none = table[loc & (table["control"] == "none")]
    if len(none):
        c = none.iloc[0]
        lines.append(
            _summary_line(
                "localization: no-injection accuracy",
                c["accuracy"],
                c["accuracy_ci_low"],
                c["accuracy_ci_high"],
                c["accuracy_n"],
                "Without any injection, the answer matches the (arbitrary) target sentence in "
                f"{_ci(_f(c['accuracy']), _f(c['accuracy_ci_low']), _f(c['accuracy_ci_high']), signed=False)} "
                f"of trials (chance {c['chance']:.2f}); a departure from chance here is "
                "positional bias, not information about an injection.",
            )
        )
    return lines


# =========================================================================== natural states


def _layer_map(value: Any) -> dict[int, float]:
    out: dict[int, float] = {}
    if isinstance(value, Mapping):
        for k, v in value.items():
            try:
                layer = int(k)
            except (TypeError, ValueError):
                continue
            f = _number(v)
            if f is not None:
                out[layer] = f
    return out


def _natural_points(recs: Sequence[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """Per layer, one point per trial: template, concept, outcomes and projections."""
    by_layer: dict[int, list[dict[str, Any]]] = {}
    for r in recs:
        lg = r["logits"]
        cos, dist = (
            _layer_map(lg.get("cos_by_layer")),
            _layer_map(lg.get("distractor_cos_by_layer")),
        )
        rank = _number(lg.get("rank"))
        lp = _number(lg.get("concept_logprob"))
        for layer, c in cos.items():
            d = dist.get(layer)
            by_layer.setdefault(layer, []).append(
                {
                    "template": _cond(r, "template"),
                    "concept": _cond(r, "concept"),
                    "cos": c,
                    "distractor_cos": d,
                    "cos_specific": c - d if d is not None else None,
                    "concept_logprob": lp,
                    "identified": (rank == 1) if rank is not None else None,
                }
            )
    return by_layer


def _dummies(values: Sequence[Any], prefix: str) -> dict[str, list[float]]:
    levels = sorted({v for v in values}, key=lambda v: _sort_key(v, TEMPLATE_ORDER))
    return {f"{prefix}[{lv}]": [1.0 if v == lv else 0.0 for v in values] for lv in levels[1:]}


def _residualize(y: np.ndarray, covs: Mapping[str, Sequence[float]]) -> np.ndarray:
    cols = [np.ones(len(y))] + [np.asarray(c, dtype=float) for c in covs.values()]
    a = np.column_stack(cols)
    beta, *_ = np.linalg.lstsq(a, y, rcond=None)
    resid: np.ndarray = y - a @ beta
    return resid


def _partial_r(
    y: np.ndarray, x: np.ndarray, covs: Mapping[str, Sequence[float]], k_cov: int
) -> tuple[float, float, float]:
    """Partial correlation of y and x given covariates (residuals of OLS on them), with a
    Fisher-z interval whose SE is 1 / sqrt(n - 3 - k_cov)."""
    ry, rx = _residualize(y, covs), _residualize(x, covs)
    n = len(y)
    if n < 3 or ry.std() < 1e-12 or rx.std() < 1e-12:
        return NAN, NAN, NAN
    r = float(np.clip(np.corrcoef(ry, rx)[0, 1], -1.0, 1.0))
    dof = n - 3 - k_cov
    if dof <= 0:
        return r, NAN, NAN
    if abs(r) >= 1.0:
        return r, r, r
    z, se = math.atanh(r), 1.0 / math.sqrt(dof)
    zc = float(_st.norm.ppf(0.975))
    return r, math.tanh(z - zc * se), math.tanh(z + zc * se)


def _fit(
    outcome: str, y: Sequence[float], x: Mapping[str, Sequence[float]]
) -> RegressionResult | None:
    n, k = len(y), len(x) + 1
    if n <= k + 1:
        return None
    if outcome == "identified":
        return logistic_regression(y, x)
    return linear_regression(y, x)


def natural_states_table(df: pd.DataFrame) -> pd.DataFrame:
    """Natural states ("heartbeat"), two kinds of row (``row_type``).

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
    recs = _records(_select(df, "natural_states"))
    if not recs:
        return pd.DataFrame()
    rows: list[dict[str, Any]] = []
    by_layer = _natural_points(recs)
    for layer in sorted(by_layer):
        pts = by_layer[layer]
        for template, tp in sorted(
            _group(pts, lambda p: (p["template"],)).items(),
            key=lambda kv: _sort_key(kv[0][0], TEMPLATE_ORDER),
        ):
            out: dict[str, Any] = {
                "row_type": "template",
                "layer": layer,
                "template": template[0],
                "n_trials": len(tp),
            }
            _put_rate(out, "identified", (p["identified"] for p in tp))
            for col in ("concept_logprob", "cos", "distractor_cos", "cos_specific"):
                _put_mean(out, col, (p[col] for p in tp))
            rows.append(out)
        for predictor in PREDICTORS:
            for outcome in OUTCOMES:
                for covset in COVARIATE_SETS:
                    rows.append(_regression_row(layer, pts, predictor, outcome, covset))
    return _frame(rows)


def _regression_row(
    layer: int, pts: Sequence[Mapping[str, Any]], predictor: str, outcome: str, covset: str
) -> dict[str, Any]:
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
    }
    if len(use) < 4:
        return out
    y = np.array([float(p[outcome]) for p in use])
    x = np.array([float(p[predictor]) for p in use])
    covs = _dummies([p["template"] for p in use], "template")
    if covset == "template+concept":
        covs.update(_dummies([p["concept"] for p in use], "concept"))
    sd = float(x.std(ddof=1))
    out["predictor_sd"] = sd
    if sd < 1e-12:
        return out
    # The projection is standardised: cosines span a few hundredths, so raw-unit slopes are
    # huge (and a logistic fit would read them as separation). coef is per SD of the
    # predictor; multiply by 1 / predictor_sd for per-unit-cosine slopes.
    x = (x - x.mean()) / sd
    full = _fit(outcome, list(y), {predictor: list(x), **covs})
    reduced = _fit(outcome, list(y), covs) if covs else None
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
    r, lo, hi = _partial_r(y, x, covs, len(covs))
    out.update(partial_r=r, partial_r_ci_low=lo, partial_r_ci_high=hi)
    return out


def natural_states_summary(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Headline: does the one-word report track the activation's projection onto the concept
    direction beyond the text? The within-trial projection (``cos_specific``) regressed on
    with template dummies as covariates, at the layer where its t statistic is largest, for
    the log-probability and (logistic) the top-1 report; the within-template partial
    correlation; and the manipulation check (is the concept direction more active than the
    distractors' at all)."""
    table = natural_states_table(df)
    if len(table) == 0:
        return []
    reg = table[table["row_type"] == "regression"]
    main = reg[
        (reg["predictor"] == "cos_specific")
        & (reg["outcome"] == "concept_logprob")
        & (reg["covariates"] == "template")
    ]
    main = main.assign(_t=main["coef"] / (main["coef_ci_high"] - main["coef_ci_low"]))
    row, k = _best_row(main, "_t")
    lines: list[dict[str, Any]] = []
    licence = (
        " This licenses only a correlational claim: within a level of textual relatedness, the "
        "report carries information about the activation state; it does not show that the "
        "report is read from that state (both may follow features of the text the covariates "
        "miss), which needs an intervention."
    )
    if row is None:
        return lines
    layer = row["layer"]
    where = f"At layer {_fmt_num(layer)}{_post_hoc(k).replace('configurations', 'layers')}"
    v = _excludes_zero(row["coef_ci_low"], row["coef_ci_high"])
    what = (
        "the report carries information about the projection of the model's own activation "
        "onto the concept direction beyond what the passage's relatedness predicts."
        if v > 0
        else (
            "the report moves *against* the projection once the text is accounted for."
            if v < 0
            else "no evidence that the report carries information about the projection beyond "
            "what the passage's relatedness predicts."
        )
    )
    lines.append(
        _summary_line(
            "natural states: report ~ projection | template (log-prob)",
            row["coef"],
            row["coef_ci_low"],
            row["coef_ci_high"],
            row["coef_n"],
            f"{where}, with the template (text relatedness) as a covariate, each +1 SD "
            f"(= {_f(row['predictor_sd']):.3f}) in the cosine between the last-token activation "
            "and the concept vector (minus the distractors' mean cosine) changes the "
            "log-probability of naming the concept by "
            f"{_ci(_f(row['coef']), _f(row['coef_ci_low']), _f(row['coef_ci_high']))} "
            f"(p = {_p_text(row['coef_p'])}, delta R² = {_f(row['delta_r2']):.3f}): {what}"
            + (licence if v > 0 else ""),
        )
    )
    same = reg[(reg["layer"] == layer) & (reg["predictor"] == "cos_specific")]
    logit = same[(same["outcome"] == "identified") & (same["covariates"] == "template")]
    if len(logit):
        lr = logit.iloc[0]
        if lr["converged"] is True or lr["converged"] == 1.0:
            lines.append(
                _summary_line(
                    "natural states: top-1 report ~ projection | template (logistic)",
                    lr["coef"],
                    lr["coef_ci_low"],
                    lr["coef_ci_high"],
                    lr["coef_n"],
                    f"At the same layer, the log-odds that the concept is the top-ranked of "
                    "the candidates change per +1 SD of the within-trial projection by "
                    f"{_ci(_f(lr['coef']), _f(lr['coef_ci_low']), _f(lr['coef_ci_high']))} "
                    "with the template as a covariate.",
                )
            )
    lines.append(
        _summary_line(
            "natural states: within-template partial r",
            row["partial_r"],
            row["partial_r_ci_low"],
            row["partial_r_ci_high"],
            row["partial_r_n"],
            "Comparing trials of the same template only, the log-probability of the concept "
            "report and the projection correlate at r = "
            f"{_ci(_f(row['partial_r']), _f(row['partial_r_ci_low']), _f(row['partial_r_ci_high']))}.",
        )
    )
    strict = same[
        (same["outcome"] == "concept_logprob") & (same["covariates"] == "template+concept")
    ]
    if len(strict) and not _isnan(strict.iloc[0]["coef"]):
        s = strict.iloc[0]
        lines.append(
            _summary_line(
                "natural states: report ~ projection | template + concept",
                s["coef"],
                s["coef_ci_low"],
                s["coef_ci_high"],
                s["coef_n"],
                "With concept identity also as a covariate (only variation across texts within "
                "a concept left), the coefficient is "
                f"{_ci(_f(s['coef']), _f(s['coef_ci_low']), _f(s['coef_ci_high']))}.",
            )
        )
    recs = _records(_select(df, "natural_states"))
    pts = _natural_points(recs).get(int(_f(layer)), [])
    spec_vals = [p["cos_specific"] for p in pts if p["cos_specific"] is not None]
    if spec_vals:
        out: dict[str, Any] = {}
        _put_mean(out, "m", spec_vals)
        lines.append(
            _summary_line(
                "natural states: concept vs distractor projection",
                out["m"],
                out["m_ci_low"],
                out["m_ci_high"],
                out["m_n"],
                "Manipulation check: at that layer the last-token activation's cosine with the "
                "concept vector exceeds its mean cosine with the distractors' vectors by "
                f"{_ci(_f(out['m']), _f(out['m_ci_low']), _f(out['m_ci_high']))} "
                "(pooled over templates); near 0 means the passages barely move the concept "
                "direction at the reading position.",
            )
        )
    return lines
