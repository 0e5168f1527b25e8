"""The scorecard: the run read top to bottom as an argument, one block per step.

Each step removes one alternative explanation of a detection report (false positives, a
push toward "yes", reacting to any perturbation, naming nothing in particular ...). The
steps come from the slices (:func:`introscope.experiments.step_titles`); a step whose
experiment was not run still gets a line that says so. Sentences are mechanistic: "the
report carries N bits about the injected concept", never "the model is aware".
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from introscope.experiments import step_parts, step_titles
from introscope.headlines import Headline
from introscope.render.html import esc
from introscope.render.numbers import fmt_estimate
from introscope.report.results import load_results, scorecard_lines

INTRO = (
    "Read top to bottom. Step 0 checks that the injections act on the model at all (a run "
    "that fails it licenses nothing, and every later line says so). Each later step subtracts "
    "an alternative explanation of the detection "
    "report: false positives without injection (2), a general push toward answering 'yes' "
    "(3), reacting to any perturbation rather than its content (4), claiming detection "
    "without saying what was injected (5), and the controls that follow. Lines whose "
    "experiment was not run say so. A positive line licenses only the mechanistic reading "
    "in its sentence (the report carries information about the injected direction), never "
    "a claim that the model is aware of anything."
)

WORDING_NOTE = (
    "Wording is mechanistic on purpose. A positive net score means the model's report carries "
    "information about the injected direction (it differs from the matched control more than "
    "chance allows); it does not show that the model is aware of, knows or experiences "
    "anything. Detection claims can come from anomaly detection (random, negated, other-concept "
    "and covariance-matched random vectors test this, with their KL showing how matched they "
    "are) or from a general push toward answering 'yes' (the yes-bias questions test "
    "this). Each line reads one configuration, declared in the spec or chosen on half the "
    "concepts and estimated on the other half (its sentence says which), and names the unit "
    "its n counts (concepts wherever the estimate is a mean over concepts)."
)


def scorecard(run_dir: Path | str) -> list[Headline]:
    """The scorecard of a run directory; :class:`~introscope.errors.AnalysisError` names
    any slice whose analysis failed."""
    results = load_results(run_dir)
    lines = scorecard_lines(results)
    results.raise_failures()
    return lines


def model_name(manifest: Mapping[str, Any], fallback: str) -> str:
    """The model spec a run was made with (``bundled``, a hub id, a path)."""
    model = manifest.get("model")
    if isinstance(model, Mapping):
        for key in ("spec", "name", "model_id", "id"):
            if isinstance(model.get(key), str) and model[key]:
                return str(model[key])
    if isinstance(model, str) and model:
        return model
    return str(manifest.get("run_id") or fallback)


def estimate_text(ln: Headline) -> str:
    if not ln.available:
        return "not run" if ln.sentence.startswith("Not") else "failed"
    return fmt_estimate(ln.estimate, ln.ci_low, ln.ci_high, ln.kind)


def text_blocks(lines: Sequence[Headline], width: int = 80) -> list[tuple[str, str]]:
    """The scorecard as (line, style) pairs, one block per step, wrapped to ``width``."""
    titles, parts = step_titles(), step_parts()
    out: list[tuple[str, str]] = []
    body = textwrap.TextWrapper(width=width, initial_indent="    ", subsequent_indent="    ")
    shown: set[int | None] = set()
    part = ""
    for ln in lines:
        if parts.get(ln.step or 0, part) != part:
            part = parts[ln.step or 0]
            out += [("", ""), (f"── {part} " + "─" * max(0, width - len(part) - 4), "bold")]
        if ln.step not in shown:
            shown.add(ln.step)
            out.append(("", ""))
            out.append((f"{ln.step:>2}  {titles.get(ln.step or 0, '')}", "bold"))
        style = "" if ln.available else "dim"
        name = textwrap.TextWrapper(width=width, initial_indent="  • ", subsequent_indent="    ")
        out += [(s, style or "bold") for s in name.wrap(ln.name)]
        facts = [estimate_text(ln)]
        if ln.available:
            facts.append(f"n = {ln.n} {ln.unit}")
            if ln.config:
                facts.append(ln.config)
        out += [(s, style or "cyan") for s in body.wrap(" · ".join(facts))]
        out += [(s, style or "dim") for s in body.wrap(ln.sentence)]
    return out


def as_json(lines: Sequence[Headline], run_dir: Path, manifest: Mapping[str, Any]) -> str:
    titles = step_titles()
    return json.dumps(
        {
            "run": str(run_dir),
            "model": model_name(manifest, run_dir.name),
            "steps": {str(k): v for k, v in titles.items()},
            "lines": [ln.as_dict() for ln in lines],
        },
        indent=2,
    )


def scorecard_html(lines: Sequence[Headline]) -> str:
    """The scorecard as an HTML table (every string escaped)."""
    titles = step_titles()
    rows = []
    for ln in lines:
        cls = (
            ""
            if ln.available
            else f' class="{"failed" if ln.sentence.startswith("Analysis failed") else "muted"}"'
        )
        n = f"{ln.n} {ln.unit}" if ln.available else "-"
        rows.append(
            f"<tr{cls}><td>{esc(ln.step)}. {esc(titles.get(ln.step or 0, ''))}</td>"
            f'<td>{esc(ln.name)}</td><td class="num">{esc(estimate_text(ln))}</td>'
            f'<td class="num">{esc(n)}</td>'
            f"<td>{esc(ln.config or '-')}</td><td>{esc(ln.sentence)}</td></tr>"
        )
    return (
        '<div class="scroll"><table><thead><tr><th>step</th><th>result</th>'
        "<th>estimate [95% CI]</th><th>n</th><th>configuration</th><th>reading</th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table></div>"
    )
