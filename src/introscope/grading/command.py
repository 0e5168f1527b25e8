"""The ``introscope grade`` command: judge a finished run's answers, print what was done
and the rule-judge agreement, rewrite the report. Registered on :data:`introscope.cli.app`;
its heavy imports are inside the functions, so the command line starts fast."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from introscope.errors import JudgeError


def grade(
    run_dir: Annotated[Path, typer.Argument(help="A finished run directory")],
    judge: Annotated[
        str | None,
        typer.Option(help="Base URL of an OpenAI-compatible judge API, e.g. http://host/v1"),
    ] = None,
    judge_model: Annotated[
        str | None, typer.Option(help="The judge model's name at that API")
    ] = None,
    rules: Annotated[
        bool, typer.Option("--rules", help="Re-grade with the rule grader as it is now")
    ] = False,
    api_key_env: Annotated[
        str, typer.Option(help="Env variable holding the API key ('' for none)")
    ] = "INTROSCOPE_JUDGE_API_KEY",
    criteria: Annotated[
        str | None, typer.Option(help="Comma-separated judge criteria (default: all)")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Requests in flight")] = 4,
    timeout: Annotated[float, typer.Option(help="Seconds per request")] = 30.0,
    max_retries: Annotated[int, typer.Option(min=0, help="Retries per request")] = 3,
    report: Annotated[bool, typer.Option(help="Rewrite the HTML report at the end")] = True,
) -> None:
    """Grade a finished run's answers with an LLM judge (cached, resumable), and/or again
    with the current rule grader (--rules).

    Answers already graded by the judge are kept; judge errors are recorded as missing
    (never "no") and asked again by the next call. The report then shows the rule-judge
    agreement.
    """
    from rich.console import Console

    grade_run(
        run_dir, judge, judge_model, rules=rules, api_key_env=api_key_env, criteria=criteria,
        workers=workers, timeout_s=timeout, max_retries=max_retries, report=report,
        console=Console(), err_console=Console(stderr=True),
    )  # fmt: skip


def grade_run(
    run_dir: Path,
    judge: str | None,
    judge_model: str | None,
    *,
    rules: bool = False,
    api_key_env: str,
    criteria: str | None,
    workers: int,
    timeout_s: float,
    max_retries: int,
    report: bool,
    console: Any,
    err_console: Any,
) -> None:
    """Re-grade ``run_dir``'s answers with the current rules and/or judge them (see
    :func:`regrade_with_rules`, :func:`regrade_with_judge`); mistakes raise an
    :class:`~introscope.errors.IntroscopeError` with one sentence, before any grading."""
    from introscope.grading.regrade import (
        DEFAULT_CRITERIA,
        judge_config,
        regrade_with_rules,
    )
    from introscope.store.database import is_run_dir, not_a_run

    if not is_run_dir(run_dir):
        raise not_a_run(run_dir)
    if judge is None and not rules:
        raise JudgeError("grade needs --judge URL --judge-model NAME, or --rules (or both).")
    cfg = None
    chosen = tuple(c.strip() for c in criteria.split(",")) if criteria else DEFAULT_CRITERIA
    if judge is not None:
        if not judge_model:
            raise JudgeError("--judge needs --judge-model NAME (the model's name at that API).")
        if api_key_env and not os.environ.get(api_key_env):
            raise JudgeError(
                f"The judge needs an API key: set {api_key_env} in the environment (or pass "
                "--api-key-env '' for a local endpoint that needs none)."
            )
        unknown = sorted(set(chosen) - set(DEFAULT_CRITERIA))
        if unknown:
            raise JudgeError(
                f"Unknown judge criterion {unknown[0]!r}; choose from {', '.join(DEFAULT_CRITERIA)}."
            )
        cfg = judge_config(
            judge, judge_model, run_dir, api_key_env=api_key_env,
            timeout_s=timeout_s, max_retries=max_retries,
        )  # fmt: skip
    if rules:
        n = regrade_with_rules(run_dir)
        console.print(f"Rule grader: re-graded {n} answers with the current rules.")
    if cfg is not None:
        run_judge(run_dir, cfg, chosen, workers, console, err_console)
    if report:
        from introscope.report.document import write_report

        console.print(f"Report: {write_report(run_dir)}")


def run_judge(
    run_dir: Path,
    cfg: Any,
    criteria: tuple[str, ...],
    workers: int,
    console: Any,
    err_console: Any,
) -> None:
    """Judge the run with a progress bar; print what was done and the rule-judge agreement."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from introscope.grading.regrade import regrade_with_judge

    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
    )
    task = progress.add_task("judged", total=None)

    def step(done: int, total: int) -> None:
        progress.update(task, total=total, completed=done)

    with progress:
        result = regrade_with_judge(run_dir, cfg, criteria, workers=workers, progress=step)
    console.print(
        f"Judge {cfg.model}: {result.n_asked} of {result.n_trials} answers needed grades; "
        f"{result.n_errors} have a judge error (missing, not 'no'; run the command again "
        "to retry them)."
    )
    print_agreement(run_dir, console)


def print_agreement(run_dir: Path, console: Any) -> None:
    """The rule-judge agreement of the detection answers (the report's table)."""
    from rich.table import Table

    from introscope.report.results import load_results

    res = load_results(run_dir)
    table = res.tables.get("detection", {}).get("grader_agreement")
    if table is None or len(table) == 0:
        console.print("No detection answers graded by both the rules and the judge.")
        return
    out = Table("criterion", "n", "agreement", "Cohen's kappa", title="Rules vs judge")
    for row in table.to_dict("records"):
        out.add_row(
            str(row["criterion"]),
            str(int(row["agreement_n"])),
            f"{row['agreement']:.2f}",
            f"{row['kappa']:.2f}",
        )
    console.print(out)
