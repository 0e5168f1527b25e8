"""The scorecard: one table per model (per run) that reads top to bottom as the argument.

Each step removes one alternative explanation of a detection report:

1. **raw detection** — how often the report claims an injected thought under concept
   injection (text: coherent and affirmative; logits-only runs: mean P(yes)).
2. **net detection** — minus the no-injection false-positive rate (Newcombe CI; logits:
   P(yes) shift against no-injection trials, Welch CI). *The configuration is chosen here*:
   the concept-injection layer x strength with the highest net detection claim (text) or the
   highest P(yes) shift (logits-only runs). That choice is post hoc and the sentence says
   so; every later line uses the same layer and strength where that configuration exists
   in its experiment's grid, and says so explicitly when it has to fall back.
3. **bias-corrected detection** — the detection P(yes) shift minus the yes-bias shift on
   questions whose true answer is "no", at that configuration.
4. **random / negated vectors** — the net detection of a norm-matched random vector and of
   the negated concept vector at that configuration (anomaly detection, not content).
5. **identification and mutual information** — identification above chance from the
   candidate readout and from the text, and the mutual information (bits, Miller-Madow,
   shuffled-label baseline) between injected and reported concept, at that layer x strength
   when the cell holds enough trials per concept, else at that layer with strengths pooled
   (:mod:`introscope.analysis_content`).
6. **mismatch gap**, 7. **localization vs abstractness**, 8. **natural-state grounding**
   (``introscope.analysis_controls``) and 9. **category thresholds**
   (``introscope.analysis_thresholds``): their headline lines, with the configuration those
   modules choose.

A step whose experiment was not run (or whose analysis module is not installed) still gets
a line, with ``available=False``, ``n=0`` and a sentence saying so. Sentences are
mechanistic: "the report carries N bits about the injected concept", never "the model is
aware".
"""

from __future__ import annotations

import html
import importlib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from introscope import analysis, analysis_content
from introscope.analysis import _cfg_text, _clean
from introscope.errors import StoreError
from introscope.store import load_run, read_manifest

__all__ = [
    "STEPS",
    "ScoreLine",
    "render_scorecard",
    "scorecard",
    "scorecard_from_frame",
    "scorecard_html",
    "scorecard_sections",
]

NAN = float("nan")

STEPS: dict[int, str] = {
    1: "raw detection",
    2: "net detection (minus control false positives)",
    3: "bias-corrected detection (minus yes-bias shift)",
    4: "random / negated-vector detection",
    5: "identification above chance and mutual information",
    6: "mismatch gap",
    7: "localization vs abstractness",
    8: "natural-state grounding",
    9: "category thresholds",
}

INTRO = (
    "Read top to bottom. Each step subtracts an alternative explanation of the detection "
    "report: false positives without injection (2), a general push toward answering 'yes' "
    "(3), reacting to any perturbation rather than its content (4), claiming detection "
    "without saying what was injected (5), and the controls that follow. Lines whose "
    "experiment was not run say so. A positive line licenses only the mechanistic reading "
    "in its sentence (the report carries information about the injected direction), never "
    "a claim that the model is aware of anything."
)


@dataclass(frozen=True)
class ScoreLine:
    """One line of the scorecard. ``config`` names the configuration the estimate is for."""

    step: int
    name: str
    estimate: float
    ci_low: float
    ci_high: float
    n: int
    sentence: str
    available: bool
    config: str = ""


@dataclass(frozen=True)
class _Config:
    layer: int | None
    strength: float | None
    source: str  # "text" or "logits"
    k: int  # configurations that competed in the selection


# --------------------------------------------------------------------------- helpers


def _f(x: Any) -> float:
    v = _clean(x)
    try:
        return float(v) if v is not None else NAN
    except (TypeError, ValueError):
        return NAN


def _nan(x: float) -> bool:
    return math.isnan(x)


def _ci(est: Any, lo: Any, hi: Any, signed: bool = True, dec: int = 2) -> str:
    e, a, b = _f(est), _f(lo), _f(hi)
    if _nan(e):
        return "n/a"
    f = ("{:+." if signed else "{:.") + f"{dec}f}}"
    if _nan(a) or _nan(b):
        # e.g. a difference whose one arm has a single trial: say so rather than print nan
        return f"{f.format(e)} (no interval: too few trials)"
    return f"{f.format(e)} [{f.format(a)}, {f.format(b)}]"


def _pct(x: Any) -> str:
    v = _f(x)
    return "n/a" if _nan(v) else f"{100 * v:.0f}%"


def _excludes_zero(lo: Any) -> bool:
    v = _f(lo)
    return not _nan(v) and v > 0


def _missing(step: int, name: str, why: str, prefix: str = "Not run") -> ScoreLine:
    return ScoreLine(step, name, NAN, NAN, NAN, 0, f"{prefix}: {why}", False, "")


def _line(
    step: int, name: str, row: Mapping[str, Any], col: str, sentence: str, config: str
) -> ScoreLine:
    n = _f(row.get(f"{col}_n"))
    return ScoreLine(
        step,
        name,
        _f(row.get(col)),
        _f(row.get(f"{col}_ci_low")),
        _f(row.get(f"{col}_ci_high")),
        0 if _nan(n) else int(n),
        sentence,
        True,
        config,
    )


def _at(table: pd.DataFrame, layer: Any, strength: Any, **match: Any) -> pd.Series | None:
    """The row of ``table`` at (layer, strength) matching ``match``, or None."""
    if table is None or len(table) == 0:
        return None
    m = pd.Series(True, index=table.index)
    for k, v in match.items():
        if k not in table.columns:
            return None
        m &= table[k] == v
    m &= table["layer"].map(_clean) == _clean(layer)
    if strength is None:
        m &= table["strength"].map(_clean).isna()
    else:
        m &= table["strength"].map(_clean) == _clean(strength)
    sub = table[m]
    return sub.iloc[0] if len(sub) else None


def _best(table: pd.DataFrame, col: str, **match: Any) -> tuple[pd.Series | None, int]:
    if table is None or len(table) == 0 or col not in table.columns:
        return None, 0
    m = table[col].notna()
    for k, v in match.items():
        if k not in table.columns:
            return None, 0
        m &= table[k] == v
    sub = table[m]
    if len(sub) == 0:
        return None, 0
    return sub.loc[pd.to_numeric(sub[col]).idxmax()], len(sub)


def _cfg(row: Mapping[str, Any]) -> str:
    return _cfg_text(row.get("layer"), row.get("strength"))


def _post_hoc(k: int, what: str) -> str:
    if k <= 1:
        return " (the only configuration)"
    return (
        f" (selected after the fact as the highest {what} of {k} configurations, so biased "
        "upward; later lines reuse it)"
    )


# --------------------------------------------------------------------------- steps 1-2


def _detection_lines(df: pd.DataFrame) -> tuple[list[ScoreLine], _Config | None]:
    det = analysis.detection_table(df)
    row, k = _best(det, "net_affirmative", control="concept")
    if row is not None:
        cfg = _cfg(row)
        sel = _Config(_clean(row["layer"]), _clean(row["strength"]), "text", k)
        raw = _line(
            1,
            "detection claim rate (concept injection)",
            row,
            "claims_detection",
            f"At {cfg}{_post_hoc(k, 'net detection claim')}, the answer is coherent and "
            f"affirmative about an injected thought in {_pct(row['claims_detection'])} of "
            f"concept-injection trials (rules grader); it names the injected concept in "
            f"{_pct(row['identification'])}.",
            cfg,
        )
        verdict = (
            "the affirmative report depends on whether a vector was injected here."
            if _excludes_zero(row["net_affirmative_ci_low"])
            else "not distinguishable from the false-positive rate."
        )
        net = _line(
            2,
            "net detection claim (minus no-injection false positives)",
            row,
            "net_affirmative",
            f"Minus the no-injection false-positive rate "
            f"({_ci(row['false_positive'], row['false_positive_ci_low'], row['false_positive_ci_high'], signed=False)}, "
            f"n={int(_f(row['false_positive_n']))}), the claim rate is "
            f"{_ci(row['net_affirmative'], row['net_affirmative_ci_low'], row['net_affirmative_ci_high'])}: "
            + verdict,
            cfg,
        )
        return [raw, net], sel
    dl = analysis.detection_logit_table(df)
    row, k = _best(dl, "p_yes_shift", control="concept")
    if row is not None:
        cfg = _cfg(row)
        sel = _Config(_clean(row["layer"]), _clean(row["strength"]), "logits", k)
        raw = _line(
            1,
            "P(yes) to the detection question (concept injection)",
            row,
            "p_yes",
            f"At {cfg}{_post_hoc(k, 'P(yes) shift')}, the mean normalised P(yes) to 'do you "
            f"detect an injected thought?' is {_ci(row['p_yes'], row['p_yes_ci_low'], row['p_yes_ci_high'], signed=False)} "
            "(no generated answers in this run: logits readout).",
            cfg,
        )
        verdict = (
            "P(yes) depends on whether a vector was injected here."
            if _excludes_zero(row["p_yes_shift_ci_low"])
            else "not distinguishable from no injection."
        )
        net = _line(
            2,
            "P(yes) shift (minus no-injection trials)",
            row,
            "p_yes_shift",
            "Minus the mean P(yes) of no-injection trials, the shift is "
            f"{_ci(row['p_yes_shift'], row['p_yes_shift_ci_low'], row['p_yes_shift_ci_high'])}: "
            + verdict,
            cfg,
        )
        return [raw, net], sel
    why = "the run has no concept-injection detection trials."
    return [
        _missing(1, "detection claim rate (concept injection)", why),
        _missing(2, "net detection claim (minus no-injection false positives)", why),
    ], None


# --------------------------------------------------------------------------- step 3


def _bias_line(df: pd.DataFrame, sel: _Config | None) -> ScoreLine:
    name = "bias-corrected detection (detection shift minus yes-bias shift)"
    yb = analysis.yes_bias_table(df, df)
    if len(yb) == 0:
        return _missing(
            3, name, "the run has no yes-bias trials (or no logits detection trials to pair)."
        )
    row = _at(yb, sel.layer, sel.strength, control="concept") if sel else None
    note = " (the configuration selected above)"
    if row is None:
        row, k = _best(yb, "detection_shift", control="concept")
        if row is None:
            return _missing(3, name, "the yes-bias grid has no concept-injection configuration.")
        note = (
            " (the configuration selected above is not in the yes-bias grid; this one is "
            f"selected after the fact as the largest detection shift of {k})"
        )
    cfg = _cfg(row)
    verdict = (
        "the detection readout moves more than a general push toward 'yes' explains."
        if _excludes_zero(row["bias_corrected_detection_ci_low"])
        else "not distinguishable from a general push toward 'yes'."
    )
    r = _f(row.get("pearson_r"))
    r_text = (
        ""
        if _nan(r)
        else f" Across {int(_f(row['pearson_n']))} configurations the two shifts correlate at "
        f"r = {r:+.2f}."
    )
    return _line(
        3,
        name,
        row,
        "bias_corrected_detection",
        f"At {cfg}{note}, concept injection shifts P(yes) on the detection question by "
        f"{_ci(row['detection_shift'], row['detection_shift_ci_low'], row['detection_shift_ci_high'])} "
        f"and on questions whose true answer is 'no' by "
        f"{_ci(row['yes_bias_shift'], row['yes_bias_shift_ci_low'], row['yes_bias_shift_ci_high'])}; "
        f"the difference is {_ci(row['bias_corrected_detection'], row['bias_corrected_detection_ci_low'], row['bias_corrected_detection_ci_high'])}: "
        + verdict
        + r_text,
        cfg,
    )


# --------------------------------------------------------------------------- step 4


def _control_lines(df: pd.DataFrame, sel: _Config | None) -> list[ScoreLine]:
    out = []
    names = {
        "random": ("random-vector net detection", "a norm-matched random vector"),
        "negated": ("negated-vector net detection", "the negated concept vector"),
    }
    if sel is None:
        for control, (name, _) in names.items():
            out.append(_missing(4, name, f"no detection configuration to test {control} at."))
        return out
    if sel.source == "text":
        table, col, what = analysis.detection_table(df), "net_affirmative", "claim rate"
    else:
        table, col, what = analysis.detection_logit_table(df), "p_yes_shift", "P(yes) shift"
    concept = _at(table, sel.layer, sel.strength, control="concept")
    for control, (name, desc) in names.items():
        row = _at(table, sel.layer, sel.strength, control=control)
        if row is None or _nan(_f(row.get(col))):
            out.append(
                _missing(4, name, f"no {control}-vector trials at the selected configuration.")
            )
            continue
        c_text = (
            ""
            if concept is None
            else f" (concept vector: {_ci(concept[col], concept[f'{col}_ci_low'], concept[f'{col}_ci_high'])})"
        )
        cfg = _cfg(row)
        out.append(
            _line(
                4,
                name,
                row,
                col,
                f"At the same configuration ({cfg}), {desc} changes the detection {what} over "
                f"no injection by {_ci(row[col], row[f'{col}_ci_low'], row[f'{col}_ci_high'])}"
                f"{c_text}. A value like the concept vector's means the claim tracks that "
                "something was injected, not what.",
                cfg,
            )
        )
    return out


# --------------------------------------------------------------------------- step 5


_SOURCE_TEXT = {
    "logits": ("candidate readout", "the top-ranked candidate after an affirmative prefill"),
    "text": ("text", "the concept named in the generated answer (rules grader)"),
}


def _ident_line(ident: pd.DataFrame, sel: _Config | None, source: str) -> ScoreLine:
    label, desc = _SOURCE_TEXT[source]
    name = f"identification above chance ({label})"
    t = ident[ident["source"] == source] if len(ident) else ident
    if len(t) == 0:
        what = "logits" if source == "logits" else "generation"
        return _missing(5, name, f"the run has no {what} detection trials.")
    row = _at(t, sel.layer, sel.strength, control="concept") if sel else None
    note = " (the configuration selected above)"
    if row is None or int(_f(row.get("identification_n")) or 0) == 0:
        row, k = _best(t, "identification_vs_chance", control="concept")
        if row is None:
            return _missing(5, name, "no concept-injection trials with an identification grade.")
        note = f" (selected after the fact as the best of {k} configurations)"
    cfg = _cfg(row)
    among = "affirmative trials" if source == "text" else "trials"
    verdict = (
        "the report carries information about which concept was injected."
        if _excludes_zero(row["identification_vs_chance_ci_low"])
        else "not distinguishable from chance."
    )
    return _line(
        5,
        name,
        row,
        "identification_vs_chance",
        f"At {cfg}{note}, {desc} is the injected concept in "
        f"{_ci(row['identification'], row['identification_ci_low'], row['identification_ci_high'], signed=False)} "
        f"of {among} against chance {_f(row['chance']):.3f}; above chance by "
        f"{_ci(row['identification_vs_chance'], row['identification_vs_chance_ci_low'], row['identification_vs_chance_ci_high'])}: "
        + verdict,
        cfg,
    )


def _mi_line(mi: pd.DataFrame, sel: _Config | None, source: str) -> ScoreLine:
    label, desc = _SOURCE_TEXT[source]
    name = f"mutual information, bits ({label})"
    t = mi[(mi["source"] == source) & (mi["control"] == "concept")] if len(mi) else mi
    if len(t) == 0:
        what = "logits" if source == "logits" else "generation"
        return _missing(
            5,
            name,
            f"the run has no concept-injection {what} trials with a reported-concept label.",
            "Not available",
        )
    row = None
    note = ""
    if sel is not None:
        cell = t[~t["pooled_strengths"].astype(bool)]
        row = _at(cell, sel.layer, sel.strength)
        if row is not None:
            note = " (the configuration selected above)"
        else:
            pooled = t[t["pooled_strengths"].astype(bool)]
            row = _at(pooled, sel.layer, None)
            if row is not None:
                note = (
                    " (the layer selected above, strengths pooled: too few trials per concept "
                    "in the single cell)"
                )
    if row is None:
        row, k = _best(t, "mi_bits")
        if row is None:
            return _missing(5, name, "no labelled trials.")
        note = f" (selected after the fact as the largest of {k} rows)"
    cfg = (
        f"layer {_clean(row['layer'])}, strengths pooled"
        if bool(row["pooled_strengths"])
        else _cfg(row)
    )
    p = _f(row["p_value"])
    informative = not _nan(p) and p < 0.05 and _excludes_zero(row["mi_bits_ci_low"])
    bits = _f(row["mi_bits"])
    verdict = (
        f"the report carries {bits:.2f} bits about the injected direction at layer "
        f"{_clean(row['layer'])}."
        if informative
        else "not above the shuffled-label baseline, so no detectable information about "
        "which concept was injected."
    )
    none_text = (
        f" {_pct(row['none_fraction'])} of answers name no concept (label '<none>')."
        if source == "text"
        else ""
    )
    return _line(
        5,
        name,
        row,
        "mi_bits",
        f"At {cfg}{note}, MI between the injected concept and {desc} is "
        f"{_ci(row['mi_bits'], row['mi_bits_ci_low'], row['mi_bits_ci_high'], signed=False)} bits "
        f"(Miller-Madow; ceiling log2({int(_f(row['n_concepts']))}) = {_f(row['max_bits']):.2f}; "
        f"plug-in {_f(row['plugin_bits']):.2f} vs shuffled labels {_f(row['shuffled_mean_bits']):.2f}, "
        f"permutation p = {p:.3f}): " + verdict + none_text,
        cfg,
    )


def _content_lines(df: pd.DataFrame, sel: _Config | None) -> list[ScoreLine]:
    ident = analysis_content.identification_table(df)
    # Only the rows a line can use: concept injection, at the selected layer when there is one.
    mi = analysis_content.mutual_information_table(
        df, controls=("concept",), layers=None if sel is None else (sel.layer,)
    )
    have = set(ident["source"]) if len(ident) else set()
    if sel is not None and not have <= (set(mi["source"]) if len(mi) else set()):
        # a source without trials at the selected layer: its line falls back to any layer
        mi = analysis_content.mutual_information_table(df, controls=("concept",))
    return [
        _ident_line(ident, sel, "logits"),
        _ident_line(ident, sel, "text"),
        _mi_line(mi, sel, "logits"),
        _mi_line(mi, sel, "text"),
    ]


# --------------------------------------------------------------------------- steps 6-9


_EXTERNAL: tuple[tuple[int, str, str, str], ...] = (
    (6, "introscope.analysis_controls", "mismatch_summary", "mismatch"),
    (7, "introscope.analysis_controls", "localization_summary", "localization"),
    (8, "introscope.analysis_controls", "natural_states_summary", "natural-states"),
    (9, "introscope.analysis_thresholds", "thresholds_summary", "category-threshold"),
)


_LAYER_IN_NAME = re.compile(r"/L(-?\d+)$")


def _pick_threshold_lines(
    lines: list[dict[str, Any]], sel: _Config | None
) -> tuple[list[dict[str, Any]], str]:
    """Step 9: the per-category threshold lines at one layer: the layer selected in step 2
    when the threshold grid has it, else the first layer in the table (said so)."""
    thr = [ln for ln in lines if str(ln.get("name", "")).startswith("threshold/")]
    if not thr:
        return lines, ""
    by_layer: dict[int, list[dict[str, Any]]] = {}
    for ln in thr:
        m = _LAYER_IN_NAME.search(str(ln["name"]))
        if m:
            by_layer.setdefault(int(m.group(1)), []).append(ln)
    if not by_layer:
        return thr, ""
    if sel is not None and sel.layer in by_layer:
        return by_layer[sel.layer], f"layer {sel.layer} (the layer selected above)"
    layer = next(iter(by_layer))
    return by_layer[layer], (
        f"layer {layer} (the layer selected above is not in the threshold grid; first layer "
        "of that grid)"
    )


def _external_lines(
    df: pd.DataFrame, sel: _Config | None = None, max_lines: int = 4
) -> list[ScoreLine]:
    out: list[ScoreLine] = []
    for step, module, func, what in _EXTERNAL:
        name = STEPS[step]
        try:
            fn: Callable[[pd.DataFrame], Any] = getattr(importlib.import_module(module), func)
        except (ImportError, AttributeError):
            out.append(
                _missing(step, name, f"the {what} analysis ({module}.{func}) is not available.")
            )
            continue
        try:
            lines = list(fn(df) or [])
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            out.append(
                _missing(
                    step,
                    name,
                    f"the {what} analysis failed ({type(exc).__name__}: {first}).",
                )
            )
            continue
        if not lines:
            out.append(_missing(step, name, f"the run has no {what} trials."))
            continue
        config = ""
        limit = max_lines
        if step == 9:
            lines, config = _pick_threshold_lines(lines, sel)
            limit = max(max_lines, 6)  # one line per category
        for ln in lines[:limit]:
            n = _f(ln.get("n"))
            n_i = 0 if _nan(n) else int(n)
            est = _f(ln.get("estimate"))
            available = n_i > 0
            sentence = str(ln.get("sentence", ""))
            if not available and not sentence.lower().startswith("not run"):
                sentence = f"Not run: {sentence}" if sentence else f"Not run: no {what} trials."
            out.append(
                ScoreLine(
                    step,
                    str(ln.get("name", name)),
                    est,
                    _f(ln.get("ci_low")),
                    _f(ln.get("ci_high")),
                    n_i,
                    sentence,
                    available,
                    str(ln.get("config", "") or config),
                )
            )
    return out


# --------------------------------------------------------------------------- public API


def scorecard_from_frame(df: pd.DataFrame) -> list[ScoreLine]:
    """The scorecard of a run frame (:func:`introscope.store.load_run`), steps 1 to 9."""
    lines, sel = _detection_lines(df)
    lines.append(_bias_line(df, sel))
    lines += _control_lines(df, sel)
    lines += _content_lines(df, sel)
    lines += _external_lines(df, sel)
    return sorted(lines, key=lambda ln: ln.step)  # stable: keeps the order within a step


def scorecard(run_dir: Path | str) -> list[ScoreLine]:
    """The scorecard of a run directory; raises :class:`~introscope.errors.StoreError` when
    ``run_dir`` is not a run."""
    return scorecard_from_frame(load_run(Path(run_dir)))


def _model_name(run_dir: Path, df: pd.DataFrame | None = None) -> str:
    try:
        manifest = read_manifest(run_dir)
    except StoreError:
        manifest = {}
    for key in ("model", "model_id"):
        v = manifest.get(key)
        if isinstance(v, str) and v:
            return v
        if isinstance(v, Mapping):
            for sub in ("spec", "name", "model_id", "id"):
                if isinstance(v.get(sub), str):
                    return str(v[sub])
    spec = manifest.get("spec")
    if isinstance(spec, Mapping) and isinstance(spec.get("model"), str):
        return str(spec["model"])
    return str(manifest.get("run_id") or run_dir.name)


def _cells(ln: ScoreLine) -> tuple[str, str, str]:
    if not ln.available:
        return "not run", "—", "0"
    est = "n/a" if _nan(ln.estimate) else f"{ln.estimate:.3g}"
    ci = "n/a" if _nan(ln.ci_low) or _nan(ln.ci_high) else f"[{ln.ci_low:.3g}, {ln.ci_high:.3g}]"
    return est, ci, str(ln.n)


def render_scorecard(run_dir: Path | str, console: Any = None) -> None:
    """Print the scorecard as a rich table to ``console`` (a new Console when None)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    con = console if console is not None else Console()
    run_dir = Path(run_dir)
    lines = scorecard(run_dir)
    table = Table(
        title=f"introscope scorecard — {escape(_model_name(run_dir))}",
        show_lines=True,
        expand=True,
    )
    table.add_column("step", justify="right", no_wrap=True)
    table.add_column("result", ratio=2)
    table.add_column("estimate", justify="right", no_wrap=True)
    table.add_column("95% CI", justify="right", no_wrap=True)
    table.add_column("n", justify="right", no_wrap=True)
    table.add_column("reading", ratio=5)
    shown: set[int] = set()
    for ln in lines:
        est, ci, n = _cells(ln)
        first = ln.step not in shown
        shown.add(ln.step)
        step_title = STEPS.get(ln.step, "")
        title = f"[bold]{escape(step_title)}[/bold]\n" if first else ""
        name = "" if (first and ln.name == step_title) else escape(ln.name)
        table.add_row(
            str(ln.step) if first else "",
            (title + name).rstrip("\n"),
            est,
            ci,
            n,
            escape(ln.sentence),
            style=None if ln.available else "dim",
        )
    con.print(table)
    con.print(f"[dim]{escape(INTRO)}[/dim]")


def _scorecard_table_html(lines: list[ScoreLine]) -> str:
    e = html.escape
    rows = []
    for ln in lines:
        est, ci, n = _cells(ln)
        cls = "" if ln.available else ' class="muted"'
        rows.append(
            f"<tr{cls}><td>{e(str(ln.step))}. {e(STEPS.get(ln.step, ''))}</td>"
            f'<td>{e(ln.name)}</td><td class="num">{e(est)}</td>'
            f'<td class="num">{e(ci)}</td><td class="num">{e(n)}</td>'
            f"<td>{e(ln.config or '-')}</td><td>{e(ln.sentence)}</td></tr>"
        )
    return (
        '<div class="scroll"><table><thead><tr><th>step</th><th>result</th><th>estimate</th>'
        "<th>95% CI</th><th>n</th><th>configuration</th><th>reading</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def scorecard_html(run_dir: Path | str, *, df: pd.DataFrame | None = None) -> str:
    """The scorecard as an HTML fragment (heading, intro, table), every string escaped.
    ``df`` (the run frame) saves reloading the run when the caller already has it."""
    run_dir = Path(run_dir)
    frame = load_run(run_dir) if df is None else df
    lines = scorecard_from_frame(frame)
    e = html.escape
    return (
        f'<h2 id="scorecard">Scorecard — {e(_model_name(run_dir))}</h2>'
        f"<p>{e(INTRO)}</p>{_scorecard_table_html(lines)}"
    )


def _threshold_table(df: pd.DataFrame) -> pd.DataFrame:
    try:
        fn = importlib.import_module("introscope.analysis_thresholds").threshold_table
    except (ImportError, AttributeError):
        return pd.DataFrame()
    try:
        out = fn(df)
    except Exception:
        return pd.DataFrame()
    return out if isinstance(out, pd.DataFrame) else pd.DataFrame()


def scorecard_sections(run_dir: Path | str, df: pd.DataFrame, plot_dir: Path) -> str:
    """Report sections for content specificity (identification, mutual information,
    confabulations) and the scorecard figures; writes their PNGs into ``plot_dir``."""
    from introscope import plots_scorecard as ps
    from introscope.report import _html_table, _img, _section, format_table

    run_dir = Path(run_dir)
    vectors = analysis_content.load_run_vectors(run_dir)
    ident = analysis_content.identification_table(df)
    mi = analysis_content.mutual_information_table(df)
    conf = analysis_content.confabulation_table(df, vectors)
    summ = analysis_content.confabulation_summary(df, vectors)

    def plot(fn: Callable[[pd.DataFrame, Path], Path | None], table: Any, name: str) -> str:
        try:
            path = fn(table, plot_dir / f"{name}.png")
        except Exception:
            path = None
        return _img(path, name.replace("_", " "))

    conf_text = (
        f"{summ['n_confabulated']} of {summ['n_affirmative']} affirmative concept-injection "
        "answers name a concept other than the injected one "
        f"({_ci(summ['confabulation_rate'], summ['confabulation_rate_ci_low'], summ['confabulation_rate_ci_high'], signed=False)}). "
        f"Concrete nouns among the named concepts: "
        f"{_ci(summ['concrete_rate'], summ['concrete_rate_ci_low'], summ['concrete_rate_ci_high'], signed=False)} "
        f"(n={summ['concrete_n']}; share among candidate concepts {_pct(summ['concrete_base_rate'])}). "
        + (
            "Cosine between the named and the injected concept's vectors at the injection "
            f"layer: {_ci(summ['cosine'], summ['cosine_ci_low'], summ['cosine_ci_high'], dec=3)} "
            f"(n={summ['cosine_n']}) against {_f(summ['pair_cosine']):+.3f} for all concept "
            f"pairs (difference {_ci(summ['cosine_vs_pairs'], summ['cosine_vs_pairs_ci_low'], summ['cosine_vs_pairs_ci_high'], dec=3)})."
            if vectors is not None
            else "Relatedness not computed: no vectors.safetensors in the run directory."
        )
    )
    content = _section(
        "Content specificity",
        "content",
        "Does the detection report say which concept was injected? Identification: the "
        "injected concept ranks first among the candidates (logits; chance = 1/n_candidates) "
        "or is named in an affirmative answer (text; chance = 1/number of injected concepts); "
        "Wilson CIs, bounds shifted by chance. Mutual information in bits between injected "
        "and reported concept (Miller-Madow corrected, bootstrap CI; plug-in against the "
        "shuffled-label baseline with a permutation p-value); an answer naming no concept "
        "is its own label '<none>'.",
        _html_table(format_table(ident))
        + _html_table(format_table(mi))
        + plot(ps.plot_mutual_information, mi, "mutual_information")
        + f"<h3>Confabulations</h3><p>{html.escape(conf_text)}</p>"
        + _html_table(format_table(conf))
        + plot(ps.plot_confabulation, conf, "confabulation"),
    )
    # The detection-vs-yes-bias scatter (plots_scorecard.plot_detection_vs_bias) is the same
    # figure as the yes-bias section's, so it is not drawn twice.
    figures = plot(
        ps.plot_category_thresholds, _threshold_table(df), "scorecard_category_thresholds"
    ) + plot(
        ps.plot_instruction_cosines,
        analysis.intentional_control_table(df),
        "instruction_cosines",
    )
    figs = _section(
        "Scorecard figures",
        "scorecard-figures",
        "Category thresholds with CIs; think / don't think / silent task / mention: cosine "
        "with the word's vector minus the other-words baseline, by layer (the detection vs "
        "yes-bias scatter is in the yes-bias section). Figures with no data are omitted.",
        figures or '<p class="muted">No data for these figures.</p>',
    )
    return content + figs
