"""``introscope experiments``: the registry as the CLI sees it — every experiment kind with
its description, measures, presets, battery parts and scorecard steps."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from introscope.cli_common import console, friendly


def register_experiment_commands(app: typer.Typer) -> None:
    app.command()(experiments)


@friendly
def experiments(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """List the experiment kinds (the registry, in scorecard order) with their presets,
    battery parts and scorecard steps."""
    import tomllib
    from rich.markup import escape

    from introscope.experiments import REGISTRY

    rows: list[dict[str, Any]] = []
    for e in REGISTRY:
        text = e.battery_text()
        rows.append(
            {
                "kind": e.kind,
                "title": e.title,
                "description": e.description,
                "measures": list(e.measures),
                "presets": sorted(e.preset_files()),
                "battery_parts": list(tomllib.loads(text)) if text else [],
                "steps": {str(k): v for k, v in e.steps.items()},
            }
        )
    if as_json:
        console.print_json(json.dumps(rows))
        return
    for r in rows:
        console.print(f"[bold]{escape(r['kind'])}[/bold] — {escape(r['description'])}")
        console.print(
            f"  measures: {', '.join(r['measures'])} · presets: {', '.join(r['presets']) or '-'}"
        )
        if r["battery_parts"]:
            console.print(f"  battery parts: {', '.join(r['battery_parts'])}")
        for step, title in r["steps"].items():
            console.print(f"  scorecard step {step}: {escape(title)}")
