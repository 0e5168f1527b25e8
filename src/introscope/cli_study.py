"""``introscope study`` (many models, one study) and ``introscope compare`` (their
scorecards side by side), registered on the main app by :func:`register_study_commands`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from introscope.cli_common import (
    AddressOpt,
    CpusOpt,
    ExecutorOpt,
    ForceOpt,
    GpusOpt,
    InsecureJudgeOpt,
    WorkersOpt,
    console,
    executor_for,
    friendly,
    run_with_progress,
)


def register_study_commands(app: typer.Typer) -> None:
    app.command()(study)
    app.command()(compare)


@friendly
def study(
    study_file: Annotated[Path, typer.Argument(help="A study .toml (models x experiments)")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Study directory (default: runs/NAME)")
    ] = None,
    executor: ExecutorOpt = "local",
    address: AddressOpt = None,
    gpus_per_worker: GpusOpt = None,
    cpus_per_worker: CpusOpt = None,
    workers: WorkersOpt = None,
    force: ForceOpt = False,
    insecure_judge: InsecureJudgeOpt = False,
    report: Annotated[bool, typer.Option(help="Write each run's report and compare.html")] = True,
) -> None:
    """Run the same experiments on several models, one run directory each (resumable), then
    compare their scorecards."""
    from introscope.report.compare import expand_paths, load_compared, write_compare
    from introscope.report.document import write_report
    from introscope.study import load_study, run_study

    st = load_study(study_file)
    study_dir = out if out is not None else Path("runs") / st.name
    with executor_for(executor, address, gpus_per_worker, cpus_per_worker, workers) as ex:

        def run_one(specs: list[Any], run_dir: Path, device_map: str | None) -> None:
            console.print(f"[bold]{specs[0].model}[/] → {run_dir}")
            result = run_with_progress(
                specs,
                run_dir,
                executor=ex,
                force=force,
                insecure_judge=insecure_judge,
                device_map=device_map,
            )
            console.print(f"  {result.n_new} new trials ({result.n_trials} in the run)")
            if report:
                write_report(run_dir)

        run_study(st, study_dir, run_one)
    if report:
        runs = load_compared(expand_paths([study_dir]))
        console.print(f"Comparison: {write_compare(runs, study_dir)}")


@friendly
def compare(
    paths: Annotated[list[Path], typer.Argument(help="Run directories, or a study directory")],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Where compare.html goes (default: the study dir or .)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON")] = False,
) -> None:
    """Scorecards side by side: one row per line, one column per model (by size)."""
    from rich.table import Table

    from introscope.errors import StoreError
    from introscope.report.compare import as_json as compare_json
    from introscope.report.compare import (
        cell_text,
        expand_paths,
        line_keys,
        load_compared,
        missing_runs,
        raise_failures,
        size_text,
        write_compare,
    )
    from introscope.study import STUDY_NAME

    runs = load_compared(expand_paths(paths))
    missing = missing_runs(paths)
    default = paths[0] if len(paths) == 1 and (paths[0] / STUDY_NAME).is_file() else Path(".")
    page = write_compare(runs, out if out is not None else default, missing)
    if as_json:
        print(compare_json(runs))
    else:
        table = Table("step", "result", *(f"{r.label}\n{size_text(r.n_params)}" for r in runs))
        for step, name in line_keys(runs):
            table.add_row(str(step), name, *(cell_text(r.line((step, name))) for r in runs))
        console.print(table)
        console.print(f"Comparison: {page}")
    if missing:
        raise StoreError("; ".join(missing) + ".")
    raise_failures(runs)
