"""Scorecards side by side: one row per scorecard line, one column per model.

``introscope compare RUN_DIR...`` (or a study directory, which lists its runs) reads every
run's scorecard (:func:`~introscope.report.results.load_results` +
:func:`~introscope.report.results.scorecard_lines`), orders the models by parameter count
(``ModelInfo.n_params``; models whose size is not recorded go last), and writes
``compare.html`` (self-contained and escaped, like the run report) with one figure per line:
its estimate and 95% interval against model size. ``--json`` prints the same comparison.

Lines are matched across runs by (step, line name); the configuration each run selected
(layer, strength) is shown under its estimate, since it is chosen per model.
"""

from __future__ import annotations

import json
import math
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from introscope.errors import AnalysisError, StoreError
from introscope.experiments import step_titles
from introscope.headlines import Headline
from introscope.render.figures import save
from introscope.render.html import esc, img
from introscope.report.document import CSP, CSS
from introscope.report.results import load_results, scorecard_lines
from introscope.report.scorecard import estimate_text, model_name
from introscope.store import MANIFEST_NAME
from introscope.study import STUDY_NAME, study_run_dirs

Key = tuple[int, str]  # (step, line name)


@dataclass(frozen=True)
class ComparedRun:
    """One run's scorecard and what the comparison needs to know about its model."""

    run_dir: Path
    label: str  # the column header (unique)
    model: str
    n_params: int  # 0 when the run did not record it
    info: Mapping[str, Any]
    lines: list[Headline]
    failures: list[str] = field(default_factory=list)

    def line(self, key: Key) -> Headline | None:
        return next((ln for ln in self.lines if (ln.step or 0, ln.name) == key), None)


def expand_paths(paths: Sequence[Path]) -> list[Path]:
    """Run directories from run directories and study directories (their runs that have
    started, in order; :func:`missing_runs` names the others)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if (p / STUDY_NAME).is_file():
            out += [d for d in study_run_dirs(p) if (d / MANIFEST_NAME).is_file()]
        elif (p / MANIFEST_NAME).is_file():
            out.append(p)
        else:
            raise StoreError(
                f"{p} is neither a run directory ({MANIFEST_NAME}) nor a study directory "
                f"({STUDY_NAME})."
            )
    if not out:
        raise StoreError("Nothing to compare: give run directories or a study directory.")
    return list(dict.fromkeys(out))


def missing_runs(paths: Sequence[Path]) -> list[str]:
    """The runs a study directory lists but that have not started (no manifest yet)."""
    return [
        f"{d} has no run yet (rerun the study)"
        for p in map(Path, paths)
        if (p / STUDY_NAME).is_file()
        for d in study_run_dirs(p)
        if not (d / MANIFEST_NAME).is_file()
    ]


def size_text(n: int) -> str:
    """``135M``, ``7.2B``; "size unknown" when not recorded."""
    if n <= 0:
        return "size unknown"
    for unit, div in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= div:
            return f"{n / div:.3g}{unit}"
    return str(n)


def load_compared(run_dirs: Sequence[Path]) -> list[ComparedRun]:
    """Every run's scorecard, ordered by parameter count (unknown sizes last)."""
    runs = []
    for d in run_dirs:
        res = load_results(d)
        lines = scorecard_lines(res)
        model = res.manifest.get("model")
        info: Mapping[str, Any] = model if isinstance(model, Mapping) else {}
        n_params = int(info.get("n_params") or 0)
        name = model_name(res.manifest, Path(d).name)
        runs.append(
            ComparedRun(
                Path(d), name, name, n_params, info, lines, [f.message() for f in res.failures]
            )
        )
    runs.sort(key=lambda r: (r.n_params <= 0, r.n_params, r.model))
    return _unique_labels(runs)


def _unique_labels(runs: list[ComparedRun]) -> list[ComparedRun]:
    out: list[ComparedRun] = []
    seen: dict[str, int] = {}
    for r in runs:
        base = Path(r.model.rstrip("/")).name or r.model
        seen[base] = seen.get(base, 0) + 1
        label = base if seen[base] == 1 else f"{base} ({seen[base]})"
        out.append(ComparedRun(r.run_dir, label, r.model, r.n_params, r.info, r.lines, r.failures))
    return out


def line_keys(runs: Sequence[ComparedRun]) -> list[Key]:
    """Every (step, name) of any run, by step, then in first-seen order."""
    keys: dict[Key, None] = {}
    for r in runs:
        for ln in r.lines:
            keys.setdefault((ln.step or 0, ln.name), None)
    return sorted(keys, key=lambda k: k[0])  # stable: first-seen order within a step


def failures(runs: Sequence[ComparedRun]) -> list[str]:
    return [f"{r.label}: {f}" for r in runs for f in r.failures]


def raise_failures(runs: Sequence[ComparedRun]) -> None:
    """One :class:`AnalysisError` naming every run whose analysis failed."""
    msgs = failures(runs)
    if msgs:
        raise AnalysisError("; ".join(m.rstrip(".") for m in msgs) + ".")


# --------------------------------------------------------------------------- JSON


def as_json(runs: Sequence[ComparedRun]) -> str:
    return json.dumps(
        {
            "models": [
                {
                    "label": r.label,
                    "model": r.model,
                    "n_params": r.n_params or None,
                    "run": str(r.run_dir),
                    "weights_hash": r.info.get("weights_hash"),
                }
                for r in runs
            ],
            "steps": {str(k): v for k, v in step_titles().items()},
            "lines": [
                {
                    "step": step,
                    "name": name,
                    "values": {
                        r.label: (ln.as_dict() if (ln := r.line((step, name))) else None)
                        for r in runs
                    },
                }
                for step, name in line_keys(runs)
            ],
            "failures": failures(runs),
        },
        indent=2,
    )


# --------------------------------------------------------------------------- figures


def plot_line(runs: Sequence[ComparedRun], key: Key, path: Path) -> Path | None:
    """One scorecard line against model size (log axis; positions when sizes are unknown);
    None, writing nothing, when no run has an estimate for it."""
    points = [
        (r, ln)
        for r in runs
        if (ln := r.line(key)) is not None and ln.available and not math.isnan(ln.estimate)
    ]
    if not points:
        return None
    by_size = all(r.n_params > 0 for r in runs)
    fig, ax = plt.subplots(figsize=(5.0, 3.0))
    for i, (r, ln) in enumerate(points):
        x = r.n_params if by_size else runs.index(r)
        lo, hi = ln.ci_low, ln.ci_high
        err = [[max(ln.estimate - lo, 0.0)], [max(hi - ln.estimate, 0.0)]]
        if math.isnan(lo) or math.isnan(hi):
            err = [[0.0], [0.0]]
        ax.errorbar([x], [ln.estimate], yerr=err, fmt="o", color=f"C{i % 10}", capsize=3)
        ax.annotate(
            r.label, (x, ln.estimate), fontsize=6, xytext=(4, 4), textcoords="offset points"
        )
    ax.margins(x=0.2)
    null = points[0][1].null
    if not math.isnan(null):
        ax.axhline(null, color="grey", ls="--", lw=0.8)
    if by_size:
        ax.set_xscale("log")
        ax.set_xlabel("parameters")
    else:
        ax.set_xticks(range(len(runs)), [r.label for r in runs], fontsize=6, rotation=20)
    ax.set_ylabel(points[0][1].kind.replace("_", " "), fontsize=8)
    ax.set_title(textwrap.shorten(f"{key[0]}. {key[1]}", 70, placeholder="…"), fontsize=8)
    ax.tick_params(labelsize=7)
    return save(fig, path)


# --------------------------------------------------------------------------- HTML


def cell_text(ln: Headline | None) -> str:
    """A terminal cell: the estimate with its interval, or why there is none."""
    return "-" if ln is None else estimate_text(ln)


def cell_html(ln: Headline | None) -> str:
    if ln is None:
        return '<td class="muted">-</td>'
    if not ln.available:
        cls = "failed" if ln.sentence.startswith("Analysis failed") else "muted"
        return f'<td class="{cls}" title="{esc(ln.sentence)}">{esc(estimate_text(ln))}</td>'
    extra = " · ".join(x for x in (f"n = {ln.n} {ln.unit}", ln.config) if x)
    return (
        f'<td class="num" title="{esc(ln.sentence)}">{esc(estimate_text(ln))}'
        f'<br><span class="muted">{esc(extra)}</span></td>'
    )


def table_html(runs: Sequence[ComparedRun]) -> str:
    titles = step_titles()
    head = "".join(
        f"<th>{esc(r.label)}<br><span class='muted'>{esc(size_text(r.n_params))}</span></th>"
        for r in runs
    )
    rows = []
    for step, name in line_keys(runs):
        cells = "".join(cell_html(r.line((step, name))) for r in runs)
        rows.append(
            f"<tr><td>{esc(step)}. {esc(titles.get(step, ''))}</td><td>{esc(name)}</td>{cells}</tr>"
        )
    return (
        f'<div class="scroll"><table><thead><tr><th>step</th><th>result</th>{head}</tr>'
        f"</thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def models_html(runs: Sequence[ComparedRun]) -> str:
    rows = "".join(
        f"<tr><td>{esc(r.label)}</td><td>{esc(r.model)}</td><td>{esc(size_text(r.n_params))}</td>"
        f"<td>{esc(r.info.get('architecture', '-'))}</td><td>{esc(r.info.get('n_layers', '-'))}</td>"
        f"<td>{esc(r.info.get('weights_hash', '-'))}</td><td>{esc(r.run_dir)}</td></tr>"
        for r in runs
    )
    return (
        "<table><thead><tr><th>column</th><th>model</th><th>parameters</th><th>architecture</th>"
        f"<th>layers</th><th>weights</th><th>run directory</th></tr></thead><tbody>{rows}"
        "</tbody></table>"
    )


def write_compare(runs: Sequence[ComparedRun], out_dir: Path, missing: Sequence[str] = ()) -> Path:
    """Write ``out_dir/compare.html`` (and its figures under ``out_dir/compare_plots``);
    ``missing`` (runs that could not be compared) is shown at the top."""
    out_dir = Path(out_dir)
    plots = out_dir / "compare_plots"
    figures = []
    for i, key in enumerate(line_keys(runs)):
        path = plot_line(runs, key, plots / f"line_{i:02d}.png")
        figures.append(img(path, f"{key[0]}. {key[1]}"))
    title = f"introscope · {len(runs)} models compared"
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    errors = "".join(f'<div class="error">{esc(m)}</div>' for m in [*missing, *failures(runs)])
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{esc(title)}</h1>"
        f'<p class="muted">Models ordered by parameter count · report generated '
        f"{esc(generated)}</p>{errors}"
        "<h2 id='scorecards'>Scorecards side by side</h2>"
        "<p>Each cell: estimate [95% CI], n and the configuration that run selected (chosen "
        "per model, so post hoc). Hover a cell for its sentence.</p>"
        + table_html(runs)
        + "<h2 id='figures'>Each line against model size</h2>"
        + ("".join(figures) or '<p class="muted">No line has an estimate in any run.</p>')
        + "<h2 id='models'>Models</h2>"
        + models_html(runs)
        + "</body></html>\n"
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / "compare.html"
    out.write_text(page, encoding="utf-8")
    return out
