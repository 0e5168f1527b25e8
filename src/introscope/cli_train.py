"""``introscope train``: the train-time arm of the evaluation-framing suite.

Trains the LoRA adapters an ``eval_training`` spec or preset asks for into
``<out>/adapters/`` (one progress bar over the adapters' optimiser steps; adapters already
there with the same data, hyperparameters and base model are reused), then runs the
evaluation like ``introscope run`` (resumable: a second call skips trained adapters and
finished trials).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from introscope.cli_common import (
    ForceOpt,
    console,
    err_console,
    fail,
    friendly,
    progress_bar,
    run_with_progress,
)

if TYPE_CHECKING:
    from introscope.core.models import LoadedModel
    from introscope.experiments.eval_training.params import EvalTrainingParams
    from introscope.spec import Spec

KIND = "eval_training"


def register_train_command(app: typer.Typer) -> None:
    app.command(name="train")(train)


@friendly
def train(
    spec: Annotated[
        str, typer.Argument(help="An eval_training spec .toml file or preset name")
    ] = "eval_training",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Run directory")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m")] = None,
    seeds: Annotated[int | None, typer.Option(help="Adapters per arm (seeds 0..N-1)")] = None,
    report: Annotated[bool, typer.Option(help="Write the HTML report at the end")] = True,
    force: ForceOpt = False,
) -> None:
    """Train (or reuse) the LoRA adapters of an eval_training spec, then evaluate them."""
    from introscope.experiments import get_experiment
    from introscope.spec import load_spec, override

    if out is None:
        raise fail("--out is required: the run directory that keeps the adapters and trials.")
    sp = override(load_spec(spec), model=model)
    if sp.experiment != KIND:
        raise fail(
            f"introscope train runs {KIND} specs; {spec!r} is a {sp.experiment} spec "
            "(run it with introscope run)."
        )
    if seeds is not None:
        if seeds < 1:
            raise fail("--seeds must be at least 1.")
        sp = sp.model_copy(update={"params": {**sp.params, "seeds": seeds}})
    params: Any = get_experiment(KIND).params(sp)
    refuse_other_run(out, sp)
    lm = load(sp)
    train_adapters(lm, out, params)
    result = run_with_progress([sp], out, lm=lm, force=force)
    finish(result, report)


def refuse_other_run(out: Path, sp: Spec) -> None:
    """Fail before any training when ``out`` holds a run of another spec."""
    from introscope.errors import StoreError
    from introscope.runner import stored_spec_digests
    from introscope.store import read_manifest

    if (out / "manifest.json").is_file() and stored_spec_digests(read_manifest(out)) != [
        sp.digest()
    ]:
        raise StoreError(f"{out} already holds a run of another spec; choose another --out.")


def load(sp: Spec) -> LoadedModel:
    from introscope.core.models import load_model

    with err_console.status(f"Loading model {sp.model}…"):
        return load_model(sp.model, device=sp.device, dtype=sp.dtype)


def train_adapters(lm: LoadedModel, out: Path, params: EvalTrainingParams) -> None:
    """Every adapter of the spec, under one progress bar of optimiser steps."""
    from introscope.experiments.eval_training.trials import train_all
    from introscope.locks import RunDirLock
    from introscope.training.adapters import AdapterPlan
    from introscope.training.lora import steps_per_epoch

    per_adapter = params.lora.epochs * steps_per_epoch(params.train_examples, params.lora)
    total = per_adapter * len(params.arms) * len(params.seeds)
    progress = progress_bar()
    task = progress.add_task("training", total=total)
    reused: list[str] = []
    state = {"done": 0}

    def on_adapter(plan: AdapterPlan, finished: bool) -> None:
        if not finished:
            progress.update(task, description=f"training {plan.name}")
            return
        state["done"] += per_adapter
        progress.update(task, completed=state["done"])

    def on_step(step: int, _total: int, loss: float) -> None:
        progress.update(
            task,
            completed=state["done"] + step,
            description=f"training (loss {loss:.3f})",
        )

    with RunDirLock(out), progress:
        done = train_all(lm, out, params, on_adapter, on_step)
    reused = [plan.name for plan, now in done if not now]
    trained = len(done) - len(reused)
    console.print(
        f"Adapters: {trained} trained, {len(reused)} reused → {out / 'adapters'} "
        "(each adapter's metadata records the seconds its training loop took)."
    )


def finish(result: Any, report: bool) -> None:
    from introscope.report.document import write_report
    from introscope.report.terminal import render_summary

    for line in result.forced:
        err_console.print(f"[yellow]warning:[/] --force mixed in: {line}", highlight=False)
    if result.already_complete:
        console.print(f"{result.run_dir} is already complete ({result.n_trials} trials).")
    else:
        console.print(
            f"Evaluated {result.n_new} trials ({result.n_trials} in the run) → {result.run_dir}"
        )
    res = render_summary(result.run_dir, console)
    if report:
        console.print(f"Report: {write_report(result.run_dir, results=res)}")
    res.raise_failures()
