"""What every ``introscope`` command shares: the one-sentence error wrapper, the consoles, the
executor options of ``run``, ``battery`` and ``study``, and the progress bar of a run.

Every command turns user mistakes (:class:`~introscope.errors.IntroscopeError`) into one
sentence on stderr and exit status 2; it never shows a traceback for them. Set
``INTROSCOPE_DEBUG=1`` to see tracebacks of unexpected errors.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from introscope.errors import IntroscopeError

if TYPE_CHECKING:
    from rich.progress import Progress

    from introscope.execution.base import BatchOutcome, Executor
    from introscope.runner import RunResult

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = 2) -> typer.Exit:
    from rich.markup import escape

    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def friendly(func: F) -> F:
    """Run a command, turning known errors into one sentence and a non-zero exit."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except IntroscopeError as exc:
            raise fail(str(exc)) from None
        except KeyboardInterrupt:
            raise fail("interrupted.", 130) from None
        except Exception as exc:
            if os.environ.get("INTROSCOPE_DEBUG"):
                raise
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise fail(
                f"unexpected {type(exc).__name__}: {first} (set INTROSCOPE_DEBUG=1 for details)",
                1,
            ) from None

    return wrapper  # type: ignore[return-value]


# --------------------------------------------------------------------------- executor options

ExecutorOpt = Annotated[
    str, typer.Option("--executor", help="Where batches run: local (this process) | ray")
]
AddressOpt = Annotated[
    str | None,
    typer.Option(
        help="Ray: auto (join the running cluster) | ray://HOST:PORT (default: start one)"
    ),
]
GpusOpt = Annotated[
    float | None,
    typer.Option(
        "--gpus-per-worker",
        help="Ray: GPUs per actor (default 1 if the cluster has GPUs, else CPU actors); "
        ">1 spreads the model over them (device_map=auto)",
    ),
]
CpusOpt = Annotated[
    int | None, typer.Option("--cpus-per-worker", help="Ray: CPUs (and torch threads) per actor")
]
WorkersOpt = Annotated[
    int | None, typer.Option("--workers", help="Ray: actors to start (default: all that fit)")
]
FastOpt = Annotated[
    bool,
    typer.Option(
        "--fast",
        help="Fast mode: bfloat16 where the hardware is fast at it; not bit-exact "
        "(docs/engine.md §7)",
    ),
]
ForceOpt = Annotated[
    bool,
    typer.Option(
        help="Resume even if weights, vectors, prompts or library versions changed (mixes them)"
    ),
]
InsecureJudgeOpt = Annotated[
    bool, typer.Option("--insecure-judge", help="Allow a plain-http judge on another machine")
]


@contextmanager
def executor_for(
    name: str,
    address: str | None = None,
    gpus_per_worker: float | None = None,
    cpus_per_worker: int | None = None,
    workers: int | None = None,
) -> Iterator[Executor | None]:
    """The executor the options name (None: the runner's local default); a Ray instance
    started here is shut down on exit."""
    if name not in ("local", "ray"):
        raise fail(f"--executor must be local or ray, not {name!r}.")
    ray_only = {
        "--address": address,
        "--gpus-per-worker": gpus_per_worker,
        "--cpus-per-worker": cpus_per_worker,
        "--workers": workers,
    }
    if name == "local":
        given = [flag for flag, value in ray_only.items() if value is not None]
        if given:
            raise fail(f"{given[0]} applies to --executor ray only.")
        yield None
        return
    if gpus_per_worker is not None and not gpus_per_worker >= 0:
        raise fail("--gpus-per-worker must be a number >= 0.")
    for flag, value in (("--cpus-per-worker", cpus_per_worker), ("--workers", workers)):
        if value is not None and value < 1:
            raise fail(f"{flag} must be at least 1.")
    from introscope.execution.ray_cluster import RayExecutor, RayOptions

    options = RayOptions(
        address=address,
        workers=workers,
        gpus_per_worker=gpus_per_worker,
        cpus_per_worker=cpus_per_worker or 1,
    )
    with RayExecutor(options) as executor:
        yield executor


# --------------------------------------------------------------------------- progress


class Throughput:
    """Trials per second of compute, per worker, for the progress bar's description."""

    def __init__(self) -> None:
        self.trials: dict[str, int] = {}
        self.seconds: dict[str, float] = {}

    def add(self, outcome: BatchOutcome) -> None:
        w = outcome.worker
        self.trials[w] = self.trials.get(w, 0) + len(outcome.job.trials)
        self.seconds[w] = self.seconds.get(w, 0.0) + outcome.seconds

    def describe(self) -> str:
        parts = [
            f"{w} {self.trials[w] / self.seconds[w]:.1f}/s"
            for w in sorted(self.trials)
            if self.seconds[w] > 0
        ]
        return "trials" + ("".join(f" · {p}" for p in parts) if len(parts) > 1 else "")


def progress_bar() -> Progress:
    """The long-work progress bar on stderr: description, bar, done/total, elapsed, left."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
    )


def run_with_progress(specs: list[Any], out: Path, *, lm: Any = None, **options: Any) -> RunResult:
    """:func:`~introscope.runner.run_specs` under one progress bar over every worker (its
    description shows each worker's throughput when there are several)."""
    from introscope.runner import run_specs

    # The bar starts once the trials are known, so a mistake found before that (a bad layer,
    # a refused run directory) prints only its one error line.
    progress = progress_bar()
    task = progress.add_task("trials", total=None)
    speed = Throughput()

    def on_total(done: int, total: int) -> None:
        progress.update(task, total=total, completed=done)
        progress.start()

    def on_batch(outcome: BatchOutcome) -> None:
        speed.add(outcome)
        progress.update(task, advance=len(outcome.job.trials), description=speed.describe())

    try:
        return run_specs(specs, out, lm=lm, on_total=on_total, on_batch=on_batch, **options)
    finally:
        progress.stop()
