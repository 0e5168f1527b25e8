"""The run in a terminal: the scorecard as one block per step, and the summary rows, both
readable at 80 columns."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from introscope.render.numbers import fmt_estimate
from introscope.report.results import RunResults, headlines, load_results, scorecard_lines
from introscope.report.scorecard import INTRO, WORDING_NOTE, as_json, model_name, text_blocks


def console_of(console: Any) -> Any:
    from rich.console import Console

    return console if console is not None else Console()


def render_scorecard(
    run_dir: Path | str, console: Any = None, *, json_out: bool = False
) -> RunResults:
    """Print the scorecard (or its JSON) and return the results (their ``failures`` say
    which slices failed)."""
    from rich.markup import escape

    con = console_of(console)
    run_dir = Path(run_dir)
    res = load_results(run_dir)
    lines = scorecard_lines(res)
    if json_out:
        con.print_json(as_json(lines, run_dir, res.manifest))
        return res
    width = min(int(getattr(con, "width", 80) or 80), 100)
    con.print(
        f"[bold]introscope scorecard — {escape(model_name(res.manifest, run_dir.name))}[/bold]"
    )
    for text, style in text_blocks(lines, width):
        con.print(f"[{style}]{escape(text)}[/{style}]" if style else escape(text), soft_wrap=True)
    con.print()
    con.print(f"[dim]{escape(INTRO)}[/dim]")
    return res


def render_summary(run_dir: Path | str, console: Any = None) -> RunResults:
    """Print the run's headline rows, one block per row."""
    from rich.markup import escape

    con = console_of(console)
    res = load_results(Path(run_dir))
    lines = headlines(res)
    run_id = res.manifest.get("run_id") or Path(run_dir).name
    if not lines:
        con.print(f"[dim]No analysable trials in {escape(str(run_id))}.[/dim]")
        return res
    width = min(int(getattr(con, "width", 80) or 80), 100)
    wrap = textwrap.TextWrapper(width=width, initial_indent="  ", subsequent_indent="  ")
    con.print(f"[bold]introscope summary — {escape(str(run_id).split('-')[0])}[/bold]")
    for ln in lines:
        con.print()
        con.print(f"[bold]{escape(ln.name)}[/bold]")
        est = fmt_estimate(ln.estimate, ln.ci_low, ln.ci_high, ln.kind)
        con.print(f"[cyan]  {escape(est)} · n = {ln.n} {escape(ln.unit)}[/cyan]")
        for s in wrap.wrap(ln.sentence):
            con.print(escape(s), soft_wrap=True)
    con.print()
    con.print(f"[dim]{escape(WORDING_NOTE)}[/dim]")
    return res
