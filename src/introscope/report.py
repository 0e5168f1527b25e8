"""A self-contained HTML report for one run directory.

:func:`write_report` writes ``run_dir/plots/*.png`` and ``run_dir/report.html``. The HTML has
inline CSS, PNGs embedded as base64 data URIs, no JavaScript and no external resources (a
Content-Security-Policy forbids them), so it can be mailed or archived as one file. Every
string that comes from the store or the manifest (model text above all) goes through
:func:`html.escape`. :func:`render_summary` prints the headline rows to a terminal.
"""

from __future__ import annotations

import base64
import html
import importlib
import json
import math
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from introscope import analysis, analysis_controls, plots, plots_controls
from introscope.errors import StoreError
from introscope.store import load_run, read_manifest

__all__ = ["format_table", "render_summary", "write_report"]

WORDING_NOTE = (
    "Wording is mechanistic on purpose. A positive net score means the model's report carries "
    "information about the injected direction (it differs from the matched control more than "
    "chance allows); it does not show that the model is aware of, knows or experiences "
    "anything. Detection claims can come from anomaly detection (random and negated vectors "
    "test this) or from a general push toward answering 'yes' (the yes-bias questions test "
    "this). Configurations called 'best' are selected after the fact, so their estimates are "
    "biased upward."
)

_CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1200px;padding:0 1em;color:#222;line-height:1.4}
h1{border-bottom:2px solid #444}h2{border-bottom:1px solid #bbb;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f0f0f0}tr:nth-child(even) td{background:#fafafa}
td.num{font-variant-numeric:tabular-nums;white-space:nowrap}
.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.6em 1em}
.muted{color:#777}img{max-width:100%;border:1px solid #ddd;margin:.5em 0}
pre{white-space:pre-wrap;word-break:break-word;background:#f6f6f6;padding:.5em;margin:.2em 0;
font-size:12px}
details{margin:.3em 0}summary{cursor:pointer;font-weight:600}
.scroll{overflow-x:auto}
.example{border:1px solid #ddd;padding:.4em .8em;margin:.4em 0}
"""

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

_MANIFEST_FIRST = (
    "run_id",
    "model",
    "model_id",
    "weights_hash",
    "weights_sha256",
    "model_hash",
    "versions",
    "spec",
    "status",
    "start_time",
    "end_time",
)


# --------------------------------------------------------------------------- formatting


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _isnan(x: Any) -> bool:
    try:
        return math.isnan(float(x))
    except (TypeError, ValueError):
        return x is None


def _plain(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.3g}"
    try:
        if pd.isna(value):
            return "-"
    except (TypeError, ValueError):
        pass
    return str(value)


def _families(columns: list[str]) -> list[str]:
    return [c for c in columns if f"{c}_ci_low" in columns and f"{c}_ci_high" in columns]


def format_table(table: pd.DataFrame) -> pd.DataFrame:
    """The table with every (estimate, ci_low, ci_high, n) family collapsed to one string
    column: rates as ``0.20 [0.11, 0.33] (n=50)``, differences (families with ``_n_ref``) as
    ``+0.50 [+0.33, +0.63] (n=50 vs 50)``. Small quantities (|x| < 0.1 throughout, e.g.
    cosines) get three decimals."""
    if table is None or len(table) == 0:
        return pd.DataFrame()
    cols = [str(c) for c in table.columns]
    fams = _families(cols)
    consumed = {f"{f}_{s}" for f in fams for s in ("ci_low", "ci_high", "n", "n_ref")}
    out: dict[str, list[str]] = {}
    for col in cols:
        if col in consumed:
            continue
        if col not in fams:
            out[col] = [_plain(v) for v in table[col]]
            continue
        est = pd.to_numeric(table[col], errors="coerce")
        finite = est[est.notna()].abs()
        dec = 3 if len(finite) and float(finite.max()) < 0.1 else 2
        signed = f"{col}_n_ref" in cols or any(
            k in col for k in ("shift", "delta", "vs_", "net_", "corrected")
        )
        fmt = ("{:+." if signed else "{:.") + f"{dec}f}}"
        cells = []
        for i in range(len(table)):
            e, lo, hi = (
                table[col].iloc[i],
                table[f"{col}_ci_low"].iloc[i],
                table[f"{col}_ci_high"].iloc[i],
            )
            if _isnan(e):
                n = table[f"{col}_n"].iloc[i] if f"{col}_n" in cols else None
                cells.append("-" if n is None or _isnan(n) or int(n) == 0 else f"n/a (n={int(n)})")
                continue
            lo_s = "nan" if _isnan(lo) else fmt.format(float(lo))
            hi_s = "nan" if _isnan(hi) else fmt.format(float(hi))
            text = f"{fmt.format(float(e))} [{lo_s}, {hi_s}]"
            if f"{col}_n" in cols and not _isnan(table[f"{col}_n"].iloc[i]):
                n_s = str(int(table[f"{col}_n"].iloc[i]))
                if f"{col}_n_ref" in cols and not _isnan(table[f"{col}_n_ref"].iloc[i]):
                    n_s += f" vs {int(table[f'{col}_n_ref'].iloc[i])}"
                text += f" (n={n_s})"
            cells.append(text)
        out[col] = cells
    return pd.DataFrame(out)


def _html_table(table: pd.DataFrame) -> str:
    if table is None or len(table) == 0:
        return '<p class="muted">No data.</p>'
    head = "".join(f"<th>{_e(c)}</th>" for c in table.columns)
    body = []
    for _, row in table.iterrows():
        cells = "".join(f'<td class="num">{_e(v)}</td>' for v in row)
        body.append(f"<tr>{cells}</tr>")
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _img(path: Path | None, alt: str) -> str:
    if path is None or not path.exists():
        return ""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _json_block(value: Any) -> str:
    try:
        text = json.dumps(value, indent=2, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = str(value)
    return f"<pre>{_e(text)}</pre>"


# --------------------------------------------------------------------------- sections


def _summary_html(lines: list[dict[str, Any]]) -> str:
    if not lines:
        return '<p class="muted">No headline results (no analysable trials yet).</p>'
    rows = []
    for ln in lines:
        est = "n/a" if _isnan(ln["estimate"]) else f"{ln['estimate']:.2f}"
        ci = (
            "n/a"
            if _isnan(ln["ci_low"]) or _isnan(ln["ci_high"])
            else f"[{ln['ci_low']:.2f}, {ln['ci_high']:.2f}]"
        )
        rows.append(
            f'<tr><td>{_e(ln["name"])}</td><td class="num">{_e(est)}</td>'
            f'<td class="num">{_e(ci)}</td><td class="num">{_e(ln["n"])}</td>'
            f"<td>{_e(ln['sentence'])}</td></tr>"
        )
    return (
        "<table><thead><tr><th>result</th><th>estimate</th><th>95% CI</th><th>n</th>"
        f"<th>reading</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _manifest_html(manifest: Mapping[str, Any] | None) -> str:
    if not manifest:
        return '<p class="muted">No manifest.json in this run directory.</p>'
    keys = [k for k in _MANIFEST_FIRST if k in manifest]
    keys += sorted(k for k in manifest if k not in keys)
    rows = []
    for k in keys:
        v = manifest[k]
        cell = _json_block(v) if isinstance(v, (dict, list)) else _e(_plain(v))
        rows.append(f"<tr><th>{_e(k)}</th><td>{cell}</td></tr>")
    return f"<table><tbody>{''.join(rows)}</tbody></table>"


def _outcome_pivot(table: pd.DataFrame) -> pd.DataFrame:
    if len(table) == 0:
        return table
    keys = ["layer", "strength", "control"]
    t = table.copy()
    for k in keys:
        t[k] = t[k].map(_plain)
    t["cell"] = [f"{int(c)} ({f:.0%})" for c, f in zip(t["count"], t["fraction"], strict=True)]
    wide = t.pivot_table(index=keys, columns="outcome", values="cell", aggfunc="first", sort=False)
    wide = wide.fillna("0").reset_index()
    n = t.groupby(keys, sort=False)[["fraction_n", "n_ungraded"]].first().reset_index()
    wide = wide.merge(n, on=keys, how="left").rename(
        columns={"fraction_n": "n graded", "n_ungraded": "n ungraded"}
    )
    wide.columns = [str(c) for c in wide.columns]
    return wide


def _signature(grades: Any) -> str:
    """What distinguishes trials for the example picker: the rules outcome, else the grades."""
    rules = grades.get("rules") if isinstance(grades, Mapping) else None
    if isinstance(rules, Mapping) and isinstance(rules.get("outcome"), str):
        return str(rules["outcome"])
    try:
        return json.dumps(grades, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return str(grades)


def _diverse(trials: pd.DataFrame, k: int) -> pd.DataFrame:
    """Up to ``k`` trials, the first of each distinct outcome before any repeats."""
    sigs = [_signature(g) for g in trials["grades"]] if "grades" in trials.columns else []
    first: list[int] = []
    seen: set[str] = set()
    for i, sig in enumerate(sigs):
        if sig not in seen:
            seen.add(sig)
            first.append(i)
    rest = [i for i in range(len(trials)) if i not in set(first)]
    return trials.iloc[(first + rest)[:k]]


def _examples_html(df: pd.DataFrame, per_cell: int, max_cells: int, tail_chars: int) -> str:
    if df is None or len(df) == 0:
        return '<p class="muted">No trials.</p>'
    gen = df[df["response"].notna()] if "response" in df.columns else df.iloc[0:0]
    if len(gen) == 0:
        return '<p class="muted">No generated responses in this run.</p>'
    parts = []
    cells = gen.groupby(["experiment", "cell_id"], sort=True)
    for n_cells, ((experiment, cell_id), trials) in enumerate(cells):
        if n_cells >= max_cells:
            parts.append(
                f'<p class="muted">{_e(cells.ngroups - max_cells)} more cells not shown.</p>'
            )
            break
        cond = trials["condition"].iloc[0]
        cond_text = (
            ", ".join(f"{k}={_plain(v)}" for k, v in sorted(cond.items()))
            if isinstance(cond, Mapping)
            else _plain(cond)
        )
        items = []
        for _, t in _diverse(trials, per_cell).iterrows():
            prompt = str(t.get("prompt") or "")
            tail = ("…" + prompt[-tail_chars:]) if len(prompt) > tail_chars else prompt
            items.append(
                '<div class="example">'
                f'<div class="muted">trial {_e(t["trial_id"])} · seed {_e(t["seed"])}</div>'
                f"<div><b>prompt (tail)</b><pre>{_e(tail)}</pre></div>"
                f"<div><b>response</b><pre>{_e(t['response'])}</pre></div>"
                f"<div><b>grades</b>{_json_block(t.get('grades'))}</div>"
                "</div>"
            )
        parts.append(
            f"<details><summary>{_e(experiment)} · {_e(cell_id)} · {_e(cond_text)} "
            f"({_e(len(trials))} trials)</summary>{''.join(items)}</details>"
        )
    return "".join(parts)


def _section(title: str, anchor: str, intro: str, body: str) -> str:
    return f'<h2 id="{_e(anchor)}">{_e(title)}</h2><p>{_e(intro)}</p>{body}'


# --------------------------------------------------------------------------- controls

# Headline rows of the newer controls, appended after analysis.summary_lines. A module or
# function that is missing (work in progress) is skipped.
_CONTROL_SUMMARIES: tuple[tuple[str, str], ...] = (
    ("introscope.analysis_controls", "mismatch_summary"),
    ("introscope.analysis_controls", "localization_summary"),
    ("introscope.analysis_controls", "natural_states_summary"),
    ("introscope.analysis_thresholds", "thresholds_summary"),
)

_PlotFn = Callable[[pd.DataFrame, Path], Path | None]


def _optional(module: str, name: str) -> Callable[..., Any] | None:
    try:
        fn = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None
    return fn if callable(fn) else None


def _summary_lines(df: pd.DataFrame) -> list[dict[str, Any]]:
    """:func:`introscope.analysis.summary_lines`, then the controls' headline rows."""
    lines = list(analysis.summary_lines(df))
    for module, name in _CONTROL_SUMMARIES:
        fn = _optional(module, name)
        if fn is None:
            continue
        lines.extend(dict(ln) for ln in fn(df) if isinstance(ln, Mapping))
    return lines


def _drop_empty(table: pd.DataFrame) -> pd.DataFrame:
    """Columns that are NaN on every row removed (e.g. the other row type's columns)."""
    return table.dropna(axis=1, how="all").reset_index(drop=True)


def _threshold_sections(df: pd.DataFrame, plot_html: Callable[[], str]) -> str:
    table_fn = _optional("introscope.analysis_thresholds", "threshold_table")
    if table_fn is None:
        return ""
    table = table_fn(df)
    if not isinstance(table, pd.DataFrame) or len(table) == 0:
        return ""
    body = ""
    compact_fn = _optional("introscope.analysis_thresholds", "category_thresholds")
    if compact_fn is not None:
        compact = compact_fn(table)
        if isinstance(compact, pd.DataFrame) and len(compact):
            body += "<h3>Threshold per category and layer</h3>" + _html_table(format_table(compact))
    body += (
        "<details><summary>Concept − random P(yes) difference at every strength</summary>"
        f"{_html_table(format_table(table))}</details>"
    )
    reg_fn = _optional("introscope.analysis_thresholds", "threshold_regression")
    reg = reg_fn(df) if reg_fn is not None else None
    need = {"outcome", "term", "estimate", "ci_low", "ci_high", "n"}
    if isinstance(reg, pd.DataFrame) and len(reg) and need <= set(reg.columns):
        r = reg[(reg["outcome"] != "effect") & (reg["term"] != "intercept")]
        r = r.rename(
            columns={
                "estimate": "coef",
                "ci_low": "coef_ci_low",
                "ci_high": "coef_ci_high",
                "n": "coef_n",
            }
        ).drop(columns=[c for c in ("se", "strength") if c in r.columns])
        if len(r):
            body += (
                "<h3>Regression on the connection measures and category</h3>"
                "<p>OLS per layer, one row per coefficient (classical 95% CI; n = concepts): "
                "outcome mean_effect = the concept − random difference averaged over "
                "strengths; log2_threshold = log2 of the concept's own threshold (concepts "
                "that never pass are set to twice the largest strength); category terms are "
                "relative to the reference category. Per-strength models are left out.</p>"
                + _html_table(format_table(r.reset_index(drop=True)))
            )
    return _section(
        "Category thresholds",
        "category-thresholds",
        "Concept vectors from several categories (abstract nouns, concrete nouns, famous "
        "people, countries, verbs) are injected at increasing strengths, and each concept "
        "is paired with a norm-matched random vector at the same strength. Per concept, the "
        "difference in P(yes) to the detection question (concept minus random) says how far "
        "the report carries information about the concept vector over a content-free "
        "perturbation of the same size. A category's threshold at a layer is the lowest "
        "strength whose 95% CI (t, over the category's concepts) lies above 0; '-' means no "
        "strength passes. The regression asks whether concepts more connected to the "
        "context (the word's log-probability there, the cosine between its vector and the "
        "prompt's activation) need less strength, and whether category differences remain "
        "after adjusting for these measures.",
        body + plot_html(),
    )


def _control_sections(
    df: pd.DataFrame,
    plot: Callable[[_PlotFn, pd.DataFrame, str], str],
    threshold_plot: Callable[[], str],
) -> list[str]:
    """Sections for the mismatch, localization, natural-states and category-threshold
    controls, each only when its experiment has rows."""
    sections: list[str] = []
    mm = analysis_controls.mismatch_table(df)
    if len(mm):
        sections.append(
            _section(
                "Mismatch control",
                "mismatch",
                "While a concept vector is injected, the model is asked 'Are you thinking "
                "about X?', with X either the injected concept (congruent) or another word "
                "(incongruent). A push toward 'yes' that ignores the content raises P(yes) "
                "for both alike; a congruent − incongruent gap above 0 means the yes/no answer "
                "carries information about which concept was injected. Shifts subtract the "
                "same asked word's P(yes) without injection, so words that draw 'yes' more "
                "readily do not count; gap_corrected is the difference of the shifts (Welch "
                "CI, permutation p). Means have t CIs. Rows for a random vector, labelled "
                "with the same words, should show no gap.",
                _html_table(format_table(mm)) + plot(plots_controls.plot_mismatch, mm, "mismatch"),
            )
        )
    loc = analysis_controls.localization_table(df)
    if len(loc):
        sections.append(
            _section(
                "Localization vs abstractness",
                "localization",
                "The model sees numbered sentences with the concept injected on one of them "
                "and is asked which sentence it was injected on (question 'injected'); on "
                "the same stimuli it is asked which sentence is the most abstract (question "
                "'abstract'). Localization accuracy above chance (1/N; exact binomial p) "
                "means the numbered answer carries information about where the injection "
                "happened. If the abstractness question picks the injected sentence as often, "
                "the answer may follow how the perturbed sentence reads rather than the "
                "injection site: localization_minus_abstractness is the difference (Newcombe "
                "CI). accuracy_vs_none subtracts the same question's accuracy without "
                "injection on the same stimuli, which cancels positional bias. Accuracy has "
                "Wilson CIs; rows with control 'none' carry no injection.",
                _html_table(format_table(loc))
                + plot(plots_controls.plot_localization, loc, "localization"),
            )
        )
    ns = analysis_controls.natural_states_table(df)
    if len(ns):
        kinds = ns["row_type"] if "row_type" in ns.columns else pd.Series([""] * len(ns))
        tmpl = _drop_empty(ns[kinds == "template"].drop(columns=["row_type"], errors="ignore"))
        reg = _drop_empty(ns[kinds == "regression"].drop(columns=["row_type"], errors="ignore"))
        sections.append(
            _section(
                "Natural states",
                "natural-states",
                "No injection: the model reads passages that are more or less related to a "
                "concept (templates repeated, single, incidental) and gives a one-word report "
                "of what it is thinking about. The question is whether the report carries "
                "information about the activation's projection onto the concept direction "
                "beyond what the text itself predicts.",
                "<h3>Per template (manipulation check)</h3><p>identified: the concept ranks "
                "first among the candidates (Wilson CI); concept_logprob: its "
                "log-probability; cos: cosine between the last-token activation and the "
                "concept's vector, distractor_cos: mean cosine with the distractors' "
                "vectors, cos_specific: their per-trial difference (t CIs).</p>"
                + _html_table(format_table(tmpl))
                + "<h3>Report on projection, given the text</h3><p>coef: change in the "
                "outcome per standard deviation (predictor_sd) of the predictor, with the "
                "template (and for template+concept also the concept) as covariates; OLS for "
                "concept_logprob, logistic for identified. A coefficient whose CI excludes 0 "
                "means the report tracks the projection beyond the covariates. partial_r: "
                "within-covariate correlation (Fisher z CI); delta_r2: R² gained by adding "
                "the projection.</p>" + _html_table(format_table(reg)),
            )
        )
    thr = _threshold_sections(df, threshold_plot)
    if thr:
        sections.append(thr)
    return sections


# --------------------------------------------------------------------------- public API


def _load(run_dir: Path) -> tuple[pd.DataFrame, dict[str, Any] | None]:
    try:
        manifest: dict[str, Any] | None = read_manifest(run_dir)
    except StoreError:
        manifest = None
    df = load_run(run_dir)
    return df, manifest


def write_report(
    run_dir: Path | str,
    *,
    examples_per_cell: int = 3,
    max_example_cells: int = 60,
    prompt_tail_chars: int = 400,
) -> Path:
    """Write ``run_dir/plots/*.png`` and ``run_dir/report.html``; return the HTML path."""
    run_dir = Path(run_dir)
    df, manifest = _load(run_dir)
    plot_dir = run_dir / "plots"
    plot_dir.mkdir(parents=True, exist_ok=True)

    det = analysis.detection_table(df)
    det_logit = analysis.detection_logit_table(df)
    yb = analysis.yes_bias_table(df, df)
    tvt = analysis.thoughts_vs_text_table(df)
    pre = analysis.prefill_table(df)
    ic = analysis.intentional_control_table(df)
    outc = analysis.outcome_table(df)
    agree = analysis.grader_agreement_table(df)
    lines = _summary_lines(df)

    def plot(
        fn: Callable[[pd.DataFrame, Path], Path | None], table: pd.DataFrame, name: str
    ) -> str:
        return _img(fn(table, plot_dir / f"{name}.png"), name.replace("_", " "))

    run_id = (manifest or {}).get("run_id") or (
        str(df["run_id"].iloc[0]) if len(df) and "run_id" in df.columns else run_dir.name
    )
    title = f"introscope report — {run_id}"
    sections: list[str] = []

    det_body = plot(plots.plot_net_detection_heatmap, det, "net_detection_heatmap") + plot(
        plots.plot_detection_controls, det, "detection_controls"
    )
    sections.append(
        _section(
            "Injected-thought detection",
            "detection",
            "Generation trials, rules grader. success = coherent, affirmative, names the "
            "injected concept, noticed before naming; claims_detection = coherent and "
            "affirmative; false_positive = claims_detection on no-injection trials (the "
            "matched control); net_* = rate minus false_positive (Newcombe 95% CI).",
            _html_table(format_table(det)) + det_body,
        )
    )
    if len(agree):
        sections.append(
            _section(
                "Rules grader vs LLM judge",
                "agreement",
                "Detection trials graded validly by both graders (judge errors excluded).",
                _html_table(format_table(agree)),
            )
        )
    sections.append(
        _section(
            "Failure taxonomy (detection)",
            "outcomes",
            "Outcome counts (share of graded trials) per configuration; ungraded trials are "
            "left out of n.",
            _html_table(_outcome_pivot(outc)),
        )
    )
    sections.append(
        _section(
            "Detection from the logits",
            "detection-logits",
            "Mean normalised P(yes) at the answer, its shift against no-injection trials "
            "(Welch CI), and how often the injected concept ranks first among candidates.",
            _html_table(format_table(det_logit)),
        )
    )
    yb_intro = (
        "Shift in P(yes) on the detection question next to the shift on yes/no questions "
        "whose true answer is 'no'; bias-corrected detection = detection shift minus "
        "yes-bias shift (Welch CI)."
    )
    if len(yb) and not _isnan(yb["pearson_r"].iloc[0]):
        r0 = yb.iloc[0]
        r_ci = (
            "no CI with fewer than 4 configurations"
            if _isnan(r0["pearson_ci_low"])
            else f"[{r0['pearson_ci_low']:.2f}, {r0['pearson_ci_high']:.2f}]"
        )
        yb_intro += (
            f" Across configurations, the two shifts correlate at r = {r0['pearson_r']:.2f} "
            f"({r_ci}; n={int(r0['pearson_n'])} configurations)."
        )
    yb_show = yb.drop(columns=[c for c in yb.columns if str(c).startswith("pearson")])
    sections.append(
        _section(
            "Yes-bias control",
            "yes-bias",
            yb_intro,
            _html_table(format_table(yb_show)) + plot(plots.plot_yes_bias_scatter, yb, "yes_bias"),
        )
    )
    ybg = analysis.yes_bias_generation_table(df)
    if len(ybg):
        sections.append(
            _section(
                "Yes-bias control (generated answers)",
                "yes-bias-generation",
                "The same injections while the model answers, in free text, yes/no questions "
                "whose true answer is 'no'. yes_bias_shift = rate of answers opening with "
                "'yes' under injection minus without (Newcombe CI); net_affirmative = the "
                "detection-claim shift at the same configuration; bias_corrected_claims = "
                "their difference (MOVER CI). Answers opening with neither yes nor no are "
                "missing, not 'no'.",
                _html_table(format_table(ybg)),
            )
        )
    sections.append(
        _section(
            "Thoughts vs. text",
            "thoughts-vs-text",
            "Identification of the word injected on an unrelated sentence (pick among "
            "candidates; chance = 1/n_candidates) and exact transcription of that sentence.",
            _html_table(format_table(tvt))
            + plot(plots.plot_thoughts_vs_text, tvt, "thoughts_vs_text"),
        )
    )
    sections.append(
        _section(
            "Prefill / retroactive intention",
            "prefill",
            "Apology rate for a prefilled word, with no injection, with the prefilled word's "
            "vector injected before it (match), or another word's vector (other); differences "
            "against no injection with Newcombe CIs.",
            _html_table(format_table(pre)) + plot(plots.plot_prefill, pre, "prefill"),
        )
    )
    sections.append(
        _section(
            "Intentional control",
            "intentional-control",
            "Cosine between the mean sentence-token activation and the word's concept vector "
            "(cos), the mean cosine with other words' vectors (baseline), their per-trial "
            "difference (delta, t CI), and contrasts between instructions (Welch CI).",
            _html_table(format_table(ic))
            + plot(plots.plot_intentional_control, ic, "intentional_control")
            + plot(
                plots_controls.plot_intentional_control_tokens,
                analysis.intentional_control_token_table(df),
                "intentional_control_tokens",
            ),
        )
    )
    from introscope.scorecard import scorecard_html, scorecard_sections

    score_sections = scorecard_sections(run_dir, df, plot_dir)

    def threshold_plot() -> str:
        # The scorecard's figures section may already draw the category-threshold figure;
        # it is drawn once, and the thresholds section points to it.
        if 'alt="scorecard category thresholds"' in score_sections:
            return (
                "<p>The figure of these differences and thresholds is in "
                '<a href="#scorecard-figures">Scorecard figures</a>.</p>'
            )
        fn = _optional("introscope.plots_thresholds", "plot_category_thresholds")
        table_fn = _optional("introscope.analysis_thresholds", "threshold_table")
        if fn is None or table_fn is None:
            return ""
        return plot(fn, table_fn(df), "category_thresholds")

    sections.extend(_control_sections(df, plot, threshold_plot))
    sections.append(score_sections)
    sections.append(
        _section(
            "Example transcripts",
            "examples",
            f"Up to {examples_per_cell} trials per cell (prompt tail, response, grades). "
            "Model text is shown verbatim, escaped.",
            _examples_html(df, examples_per_cell, max_example_cells, prompt_tail_chars),
        )
    )
    sections.append(_section("Run manifest", "manifest", "", _manifest_html(manifest)))

    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_e(title)}</h1>"
        f'<p class="muted">{_e(len(df))} trials · generated {_e(generated)}</p>'
        f"{scorecard_html(run_dir, df=df)}"
        f'<h2 id="summary">Summary</h2>{_summary_html(lines)}'
        f'<p class="note">{_e(WORDING_NOTE)}</p>'
        f"{''.join(sections)}</body></html>\n"
    )
    out = run_dir / "report.html"
    out.write_text(page, encoding="utf-8")
    return out


def render_summary(run_dir: Path | str, console: Any = None) -> None:
    """Print the run's headline rows (:func:`introscope.analysis.summary_lines`, then the
    mismatch, localization, natural-states and category-threshold summaries) as a rich
    table to ``console`` (a ``rich.console.Console``; a new one when None)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    con = console if console is not None else Console()
    df, manifest = _load(Path(run_dir))
    lines = _summary_lines(df)
    run_id = (manifest or {}).get("run_id") or Path(run_dir).name
    if not lines:
        con.print(f"[dim]No analysable trials in {escape(str(run_id))}.[/dim]")
        return
    table = Table(title=f"introscope summary — {escape(str(run_id))}", show_lines=True, expand=True)
    table.add_column("result", style="bold", ratio=2)
    table.add_column("estimate", justify="right", no_wrap=True)
    table.add_column("95% CI", justify="right", no_wrap=True)
    table.add_column("n", justify="right", no_wrap=True)
    table.add_column("reading", ratio=5)
    for ln in lines:
        est = "n/a" if _isnan(ln["estimate"]) else f"{ln['estimate']:.2f}"
        ci = (
            "n/a"
            if _isnan(ln["ci_low"]) or _isnan(ln["ci_high"])
            else f"[{ln['ci_low']:.2f}, {ln['ci_high']:.2f}]"
        )
        table.add_row(escape(ln["name"]), est, ci, str(ln["n"]), escape(ln["sentence"]))
    con.print(table)
    con.print(f"[dim]{escape(WORDING_NOTE)}[/dim]")
