"""A self-contained HTML report for one run directory.

:func:`write_report` writes ``run_dir/plots/*.png`` and ``run_dir/report.html``. The page
opens with a short title (model, run, date, trials), the one-figure scorecard (a forest
plot) and a table of contents, then the scorecard and summary tables and one group of
sections per slice in registry order; long tables are folded (``<details>``). It has inline
CSS, PNGs embedded as data URIs, no JavaScript and no external resources (a
Content-Security-Policy forbids them). Every string from the store or the manifest, model
text above all, is escaped. A slice whose analysis fails is shown in red with its error;
the other slices still render.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from introscope.experiments import REGISTRY
from introscope.headlines import Headline
from introscope.render.html import Section, esc, img, json_block
from introscope.render.numbers import fmt_estimate, fmt_plain
from introscope.report.forest import plot_forest
from introscope.report.results import RunResults, headlines, load_results, scorecard_lines
from introscope.report.scorecard import INTRO, WORDING_NOTE, model_name, scorecard_html

CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1100px;padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.5em;border-bottom:2px solid #444;overflow-wrap:anywhere}
h2{border-bottom:1px solid #bbb;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f0f0f0}tr:nth-child(even) td{background:#fafafa}
td.num{font-variant-numeric:tabular-nums;white-space:nowrap}
.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.6em 1em}
.muted{color:#777}.failed,.failed td{color:#b00020}
.error{border:2px solid #b00020;color:#b00020;padding:.5em 1em;margin:.5em 0}
img{max-width:100%;border:1px solid #ddd;margin:.5em 0}
pre{white-space:pre-wrap;word-break:break-word;background:#f6f6f6;padding:.5em;margin:.2em 0;
font-size:12px}
details{margin:.3em 0}summary{cursor:pointer;font-weight:600}
.scroll{overflow-x:auto}.toc{columns:2;font-size:14px}
.example{border:1px solid #ddd;padding:.4em .8em;margin:.4em 0}
"""

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

MANIFEST_FIRST = (
    "run_id",
    "model",
    "versions",
    "specs",
    "status",
    "start_time",
    "end_time",
)


def write_report(
    run_dir: Path | str,
    *,
    examples_per_cell: int = 3,
    max_example_cells: int = 60,
    prompt_tail_chars: int = 400,
    results: RunResults | None = None,
) -> Path:
    """Write ``run_dir/plots/*.png`` and ``run_dir/report.html``; return the HTML path.

    Failures of single slices are shown in the page and kept in ``results.failures``; call
    ``results.raise_failures()`` afterwards to turn them into an error.
    """
    run_dir = Path(run_dir)
    res = results if results is not None else load_results(run_dir)
    plot_dir = run_dir / "plots"
    plot_dir.mkdir(parents=True, exist_ok=True)
    lines = scorecard_lines(res)
    summary = headlines(res)
    forest = plot_forest(lines, plot_dir / "scorecard.png")
    toc: list[tuple[str, str]] = [("scorecard", "Scorecard"), ("summary", "Summary")]
    body: list[str] = []
    for exp in REGISTRY:
        if not res.ran(exp):
            continue
        failure = res.failed(exp.kind)
        sections: list[Section] = []
        if failure is None:
            t = res.tables[exp.kind]
            try:
                figs = exp.figures(t, plot_dir)
                sections = exp.sections(t, figs)
            except Exception as exc:  # shown in red with the slice's name, never hidden
                failure = res.fail(exp, "sections", exc)
        if failure is not None:
            sections = [
                Section(
                    exp.title,
                    exp.kind,
                    "",
                    f'<div class="error">{esc(failure.message())}</div>',
                )
            ]
        for s in sections:
            toc.append((s.anchor, s.title))
            body.append(s.html())
    toc += [("examples", "Example transcripts"), ("manifest", "Run manifest")]
    df = res.run.df
    run_name = str(res.manifest.get("run_id") or run_dir.name).split("-")[0]
    title = f"introscope · {model_name(res.manifest, run_dir.name)} · {run_dir.name}"
    started = str(res.manifest.get("start_time") or "")[:10]
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    toc_html = "".join(f'<li><a href="#{esc(a)}">{esc(t)}</a></li>' for a, t in toc)
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{esc(title)}</h1>"
        f'<p class="muted">{esc(len(df))} trials · parts: {esc(run_name)} · run started '
        f"{esc(started or 'unknown')} · report generated {esc(generated)}</p>"
        + failures_html(res)
        + img(forest, "scorecard forest plot")
        + f'<ul class="toc">{toc_html}</ul>'
        + f'<h2 id="scorecard">Scorecard</h2><p>{esc(INTRO)}</p>{scorecard_html(lines)}'
        + f'<h2 id="summary">Summary</h2>{summary_html(summary)}'
        + f'<p class="note">{esc(WORDING_NOTE)}</p>'
        + "".join(body)
        + Section(
            "Example transcripts",
            "examples",
            f"Up to {examples_per_cell} trials per cell (prompt tail, response, grades). "
            "Model text is shown verbatim, escaped.",
            examples_html(df, examples_per_cell, max_example_cells, prompt_tail_chars),
        ).html()
        + Section("Run manifest", "manifest", "", manifest_html(res.manifest)).html()
        + "</body></html>\n"
    )
    out = run_dir / "report.html"
    out.write_text(page, encoding="utf-8")
    return out


def failures_html(res: RunResults) -> str:
    return "".join(f'<div class="error">{esc(f.message())}</div>' for f in res.failures)


def summary_html(lines: list[Headline]) -> str:
    if not lines:
        return '<p class="muted">No headline results (no analysable trials yet).</p>'
    rows = "".join(
        f'<tr><td>{esc(ln.name)}</td><td class="num">'
        f"{esc(fmt_estimate(ln.estimate, ln.ci_low, ln.ci_high, ln.kind))}</td>"
        f'<td class="num">{esc(ln.n)} {esc(ln.unit)}</td><td>{esc(ln.sentence)}</td></tr>'
        for ln in lines
    )
    return (
        "<table><thead><tr><th>result</th><th>estimate [95% CI]</th><th>n</th>"
        f"<th>reading</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def manifest_html(manifest: Mapping[str, Any]) -> str:
    if not manifest:
        return '<p class="muted">No manifest.json in this run directory.</p>'
    keys = [k for k in MANIFEST_FIRST if k in manifest]
    keys += sorted(k for k in manifest if k not in keys)
    rows = []
    for k in keys:
        v = manifest[k]
        cell = json_block(v) if isinstance(v, (dict, list)) else esc(fmt_plain(v))
        rows.append(f"<tr><th>{esc(k)}</th><td>{cell}</td></tr>")
    return f"<details><summary>manifest.json</summary><table><tbody>{''.join(rows)}</tbody></table></details>"


def signature(grades: Any) -> str:
    """What distinguishes trials for the example picker: the rules outcome, else the grades."""
    rules = grades.get("rules") if isinstance(grades, Mapping) else None
    if isinstance(rules, Mapping) and isinstance(rules.get("outcome"), str):
        return str(rules["outcome"])
    try:
        return json.dumps(grades, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return str(grades)


def diverse(trials: pd.DataFrame, k: int) -> pd.DataFrame:
    """Up to ``k`` trials, the first of each distinct outcome before any repeats."""
    sigs = [signature(g) for g in trials["grades"]] if "grades" in trials.columns else []
    first: list[int] = []
    seen: set[str] = set()
    for i, sig in enumerate(sigs):
        if sig not in seen:
            seen.add(sig)
            first.append(i)
    rest = [i for i in range(len(trials)) if i not in set(first)]
    return trials.iloc[(first + rest)[:k]]


def examples_html(df: pd.DataFrame, per_cell: int, max_cells: int, tail_chars: int) -> str:
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
                f'<p class="muted">{esc(cells.ngroups - max_cells)} more cells not shown.</p>'
            )
            break
        cond = trials["condition"].iloc[0]
        cond_text = (
            ", ".join(f"{k}={fmt_plain(v)}" for k, v in sorted(cond.items()))
            if isinstance(cond, Mapping)
            else fmt_plain(cond)
        )
        items = []
        for _, t in diverse(trials, per_cell).iterrows():
            prompt = str(t.get("prompt") or "")
            tail = ("…" + prompt[-tail_chars:]) if len(prompt) > tail_chars else prompt
            items.append(
                '<div class="example">'
                f'<div class="muted">trial {esc(t["trial_id"])} · seed {esc(t["seed"])}</div>'
                f"<div><b>prompt (tail)</b><pre>{esc(tail)}</pre></div>"
                f"<div><b>response</b><pre>{esc(t['response'])}</pre></div>"
                f"<div><b>grades</b>{json_block(t.get('grades'))}</div>"
                "</div>"
            )
        parts.append(
            f"<details><summary>{esc(experiment)} · {esc(cell_id)} · {esc(cond_text)} "
            f"({esc(len(trials))} trials)</summary>{''.join(items)}</details>"
        )
    return "".join(parts)
