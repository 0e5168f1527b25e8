"""The ``introscope`` command line.

Every command turns user mistakes (:class:`~introscope.errors.IntroscopeError`) into one
sentence on stderr and exit status 2; it never shows a traceback for them. Set
``INTROSCOPE_DEBUG=1`` to see tracebacks of unexpected errors.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from introscope.cli_common import (
    AddressOpt,
    CpusOpt,
    ExecutorOpt,
    FastOpt,
    ForceOpt,
    GpusOpt,
    InsecureJudgeOpt,
    WorkersOpt,
    console,
    err_console,
    executor_for,
    fail,
    friendly,
    run_with_progress,
)
from introscope.cli_experiments import register_experiment_commands
from introscope.cli_study import register_study_commands
from introscope.cli_train import register_train_command
from introscope.errors import IntroscopeError
from introscope.grading.command import grade as grade_command

app = typer.Typer(
    name="introscope",
    help="Controlled self-report experiments on open-weight language models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
vectors_app = typer.Typer(help="Build and inspect concept vectors.", no_args_is_help=True)
app.add_typer(vectors_app, name="vectors")

ModelOpt = Annotated[
    str, typer.Option("--model", "-m", help="bundled | HF hub id | local dir | file.gguf")
]
DeviceOpt = Annotated[str, typer.Option(help="cpu | cuda | mps | auto")]
DtypeOpt = Annotated[str, typer.Option(help="float32 | bfloat16 | float16 | auto")]


def _load(model: str, device: str = "auto", dtype: str = "auto", download: bool = False) -> Any:
    from introscope.core.models import load_model

    with err_console.status(f"Loading model {model}…"):
        return load_model(model, device=device, dtype=dtype, allow_download=download)


@app.command()
@friendly
def models(
    spec: Annotated[str, typer.Argument(help="Model spec")] = "bundled",
    device: DeviceOpt = "auto",
    dtype: DtypeOpt = "auto",
    download: Annotated[bool, typer.Option(help="Allow downloading from the hub")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Resolve a model spec and describe the model."""
    lm = _load(spec, device, dtype, download)
    info = lm.info.to_dict()
    if as_json:
        print(json.dumps(info, indent=2))
        return
    table = Table(title="Model", show_header=False)
    for key, value in info.items():
        table.add_row(key, str(value))
    console.print(table)


@vectors_app.command("build")
@friendly
def vectors_build(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output .safetensors file")],
    words: Annotated[str | None, typer.Option(help="Comma-separated words")] = None,
    category: Annotated[
        str | None,
        typer.Option(
            help="A word list: main, abstract_nouns, concrete_nouns, famous_people, "
            "countries, verbs, all"
        ),
    ] = None,
    paper: Annotated[bool, typer.Option(help="The paper's 50 main concepts")] = False,
    model: ModelOpt = "bundled",
    template: Annotated[str, typer.Option(help="User-turn template with {word}")] = (
        "Tell me about {word}."
    ),
    batch_size: int = 32,
    device: DeviceOpt = "auto",
    dtype: DtypeOpt = "auto",
) -> None:
    """Build mean-difference concept vectors (all layers) and save them as safetensors."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from introscope.core.engine import Engine
    from introscope.core.vectors import concept_vectors, save_vectors
    from introscope.words import word_list

    chosen: list[str] = []
    if words:
        chosen += [w.strip() for w in words.split(",") if w.strip()]
    if category:
        chosen += word_list(category)
    if paper:
        chosen += word_list("main")
    chosen = list(dict.fromkeys(chosen))
    if not chosen:
        raise fail("give --words, --category or --paper.")
    if "{word}" not in template:
        raise fail("--template must contain {word}.")
    lm = _load(model, device, dtype)
    engine = Engine(lm)
    total = len(chosen) + len(word_list("baseline"))
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
    ) as progress:
        task = progress.add_task("prompts", total=total)
        vs = concept_vectors(
            engine,
            chosen,
            template=template,
            batch_size=batch_size,
            progress=lambda n: progress.advance(task, n),
        )
    path = save_vectors(vs, out)
    console.print(f"Saved {len(vs)} vectors × {vs.n_layers} layers (d={vs.hidden_size}) to {path}")


@vectors_app.command("show")
@friendly
def vectors_show(path: Path, layer: Annotated[str, typer.Option()] = "0.5") -> None:
    """Describe a vector file: model, method, and per-vector norms at a layer."""
    from introscope.core.layers import resolve_layer
    from introscope.core.vectors import load_vectors

    vs = load_vectors(path)
    idx = resolve_layer(layer, vs.n_layers)
    console.print(
        f"{path}: {len(vs)} vectors, method={vs.method}, model={vs.model_id}, "
        f"weights={vs.weights_hash}, layers={vs.n_layers}, d={vs.hidden_size}"
    )
    table = Table("name", f"norm @ L{idx}")
    for name in vs.names:
        table.add_row(name, f"{float(vs.get(name, idx).norm()):.3f}")
    console.print(table)


@app.command()
@friendly
def steer(
    prompt: Annotated[str, typer.Argument(help="The user message")],
    concept: Annotated[str | None, typer.Option(help="Concept word to inject")] = None,
    vector: Annotated[
        str | None, typer.Option(help="Vector file, optionally FILE:NAME for a set")
    ] = None,
    layer: Annotated[str, typer.Option(help="Index, negative index, or depth fraction")] = "0.5",
    strength: Annotated[float, typer.Option(help="Multiplier on the vector")] = 4.0,
    window: Annotated[
        str, typer.Option(help="all | generated | from:INDEX | from:TEXT | span:S:E | span:TEXT")
    ] = "all",
    mode: Annotated[str, typer.Option(help="add | project_out")] = "add",
    max_new_tokens: int = 48,
    temperature: float = 0.0,
    seed: int = 0,
    raw: Annotated[bool, typer.Option(help="Use the prompt as is, no chat template")] = False,
    model: ModelOpt = "bundled",
    device: DeviceOpt = "auto",
    dtype: DtypeOpt = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Generate with and without an injection and show both completions side by side."""
    from introscope.core.engine import Engine
    from introscope.core.steering import Window
    from introscope.core.vectors import concept_vectors, load_vectors

    if (concept is None) == (vector is None):
        raise fail("give exactly one of --concept or --vector.")
    if mode not in ("add", "project_out"):
        raise fail(f"--mode must be add or project_out, not {mode!r}.")
    win = Window.parse(window)
    lm = _load(model, device, dtype)
    engine = Engine(lm)
    if concept is not None:
        with err_console.status(f"Building the concept vector for {concept!r}…"):
            vs = concept_vectors(engine, [concept])
        name = concept
    else:
        assert vector is not None
        file, _, name = vector.partition(":") if not Path(vector).is_file() else (vector, "", "")
        vs = load_vectors(file, lm)
        name = name or vs.names[0]
    inj = vs.injection(name, layer, strength, win, mode=mode)  # type: ignore[arg-type]
    text = prompt if raw else lm.chat_prompt(prompt)
    seeds = [seed, seed]
    plain, steered = engine.generate(
        [text, text],
        [None, inj],
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        seeds=seeds,
    )
    desc = inj.describe()
    if as_json:
        print(
            json.dumps(
                {
                    "model": lm.info.to_dict(),
                    "prompt": text,
                    "injection": {**desc, "layer": desc["layers"][0], "vector": name},
                    "unsteered": plain.text,
                    "steered": steered.text,
                    "temperature": temperature,
                    "seed": seed,
                },
                indent=2,
            )
        )
        return
    console.print(
        f"[bold]{name}[/] at layer {desc['layers'][0]} × {strength} "
        f"(|v| = {desc['vector_norm']:.2f}, window {desc['window']}, {mode})"
    )
    table = Table("unsteered", "steered", show_lines=True)
    table.add_row(plain.text, steered.text)
    console.print(table, markup=False)


def _finish(result: Any, report: bool) -> None:
    from introscope.report.document import write_report
    from introscope.report.terminal import render_summary

    for line in result.forced:
        err_console.print(f"[yellow]warning:[/] --force mixed in: {line}", highlight=False)
    if result.regraded:
        console.print(f"Graded {result.regraded} stored trials again (judge errors).")
    for line in result.retried:
        console.print(f"Retried {line}")
    if result.already_complete:
        console.print(
            f"{result.run_dir} is already complete ({result.n_trials} trials): nothing to do."
        )
    else:
        console.print(
            f"Ran {result.n_new} trials in {result.seconds:.0f} s "
            f"({result.n_trials} in the run) → {result.run_dir}"
        )
    res = render_summary(result.run_dir, console)
    if report:
        path = write_report(result.run_dir, results=res)
        console.print(f"Report: {path}")
    res.raise_failures()


@app.command()
@friendly
def run(
    spec: Annotated[
        str,
        typer.Argument(
            help="A spec .toml file or a preset name (`introscope experiments` lists them)"
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run directory")],
    layers: Annotated[str | None, typer.Option(help="e.g. 0.5,0.67 or 10,-5")] = None,
    strengths: Annotated[str | None, typer.Option(help="e.g. 1,2,4,8")] = None,
    trials: Annotated[int | None, typer.Option(help="Trials per cell")] = None,
    concepts: Annotated[str | None, typer.Option(help="Comma-separated concepts")] = None,
    n_concepts: Annotated[int | None, typer.Option(help="Keep the first N concepts")] = None,
    controls: Annotated[
        str | None, typer.Option(help="concept,random,negated,other,matched_random,none")
    ] = None,
    control_trials: Annotated[int | None, typer.Option(help="No-injection trials")] = None,
    measure: Annotated[str | None, typer.Option(help="generation | logits")] = None,
    batch_size: Annotated[
        str | None, typer.Option(help='Trials per batch, or "auto" (sized from free memory)')
    ] = None,
    max_new_tokens: Annotated[int | None, typer.Option()] = None,
    temperature: Annotated[float | None, typer.Option()] = None,
    seed: Annotated[int | None, typer.Option()] = None,
    model: Annotated[str | None, typer.Option("--model", "-m")] = None,
    strength_unit: Annotated[
        str | None, typer.Option(help="multiplier | residual_norm (fraction of the residual)")
    ] = None,
    report: Annotated[bool, typer.Option(help="Write the HTML report at the end")] = True,
    executor: ExecutorOpt = "local",
    address: AddressOpt = None,
    gpus_per_worker: GpusOpt = None,
    cpus_per_worker: CpusOpt = None,
    workers: WorkersOpt = None,
    force: ForceOpt = False,
    insecure_judge: InsecureJudgeOpt = False,
    fast: FastOpt = False,
) -> None:
    """Run (or resume) an experiment spec or preset into a run directory."""
    from introscope.spec import load_spec, override, parse_batch_size

    sp = override(
        load_spec(spec),
        layers=layers,
        strengths=strengths,
        trials=trials,
        concepts=concepts,
        n_concepts=n_concepts,
        controls=controls,
        control_trials=control_trials,
        measure=measure,
        batch_size=parse_batch_size(batch_size),
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        seed=seed,
        model=model,
        strength_unit=strength_unit,
        fast=True if fast else None,
    )
    with executor_for(executor, address, gpus_per_worker, cpus_per_worker, workers) as ex:
        result = run_with_progress(
            [sp], out, executor=ex, force=force, insecure_judge=insecure_judge
        )
    _finish(result, report)


@app.command()
@friendly
def battery(
    out: Annotated[Path, typer.Option("--out", "-o", help="Run directory")] = Path("runs/battery"),
    model: ModelOpt = "bundled",
    scale: Annotated[float, typer.Option(help="Multiply concept and control counts")] = 1.0,
    only: Annotated[str | None, typer.Option(help="Comma-separated parts to run")] = None,
    seed: int = 0,
    device: DeviceOpt = "auto",
    dtype: DtypeOpt = "auto",
    executor: ExecutorOpt = "local",
    address: AddressOpt = None,
    gpus_per_worker: GpusOpt = None,
    cpus_per_worker: CpusOpt = None,
    workers: WorkersOpt = None,
    force: ForceOpt = False,
    insecure_judge: InsecureJudgeOpt = False,
    fast: FastOpt = False,
) -> None:
    """The main job: the paper's four experiments, the positive control and the controls."""
    from introscope.battery import battery_specs

    specs = battery_specs(
        model=model,
        scale=scale,
        seed=seed,
        device=device,
        dtype=dtype,
        only=[p.strip() for p in only.split(",")] if only else None,
        fast=fast,
    )
    with executor_for(executor, address, gpus_per_worker, cpus_per_worker, workers) as ex:
        result = run_with_progress(
            specs, out, executor=ex, force=force, insecure_judge=insecure_judge
        )
    _finish(result, True)


@app.command()
@friendly
def report(run_dir: Annotated[Path, typer.Argument(help="A run directory")]) -> None:
    """(Re)write a run's plots and self-contained HTML report."""
    from introscope.report.document import write_report
    from introscope.report.terminal import render_summary

    res = render_summary(run_dir, console)
    path = write_report(run_dir, results=res)
    console.print(f"Report: {path}")
    res.raise_failures()


@app.command()
@friendly
def scorecard(
    run_dir: Annotated[Path, typer.Argument(help="A run directory")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """The argument, one block per step: raw → net → bias-corrected detection, controls,
    content."""
    from introscope.report.terminal import render_scorecard

    render_scorecard(run_dir, console, json_out=as_json).raise_failures()


@app.command()
@friendly
def export(
    run_dir: Annotated[Path, typer.Argument(help="A run directory")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="parquet | csv | jsonl")] = "parquet",
    out: Annotated[Path | None, typer.Option("--out", "-o")] = None,
) -> None:
    """Export a run's trials (one row per trial) to parquet, csv or jsonl."""
    from introscope.store import export_run

    if fmt not in ("parquet", "csv", "jsonl"):
        raise fail(f"--format must be parquet, csv or jsonl, not {fmt!r}.")
    path = export_run(run_dir, fmt, out)  # type: ignore[arg-type]
    console.print(f"Wrote {path}")


@app.command()
@friendly
def serve(
    model: ModelOpt = "bundled",
    host: Annotated[str, typer.Option(help="Bind address (loopback by default)")] = "127.0.0.1",
    port: int = 8000,
    vectors: Annotated[Path | None, typer.Option(help="A vector file to serve")] = None,
    vector_dir: Annotated[Path | None, typer.Option(help="Requests may load files here")] = None,
    api_key_env: Annotated[str | None, typer.Option(help="Env variable with the API key")] = None,
    allow_host: Annotated[list[str] | None, typer.Option(help="Answer this Host too")] = None,
    insecure: Annotated[bool, typer.Option(help="Non-loopback host without a key")] = False,
    max_tokens: Annotated[int, typer.Option(help="Largest max_tokens (400 beyond)")] = 1024,
    max_batch: Annotated[int, typer.Option(help="Rows decoded together")] = 8,
    max_queue: Annotated[int, typer.Option(help="Rows waiting (429 beyond)")] = 64,
    timeout: Annotated[float, typer.Option(help="Seconds per request (504 beyond)")] = 120.0,
    max_body_bytes: Annotated[int, typer.Option(help="Body size (413 beyond)")] = 1 << 20,
    max_prompts: Annotated[int, typer.Option(help="Prompts per completions request")] = 16,
    max_strength: Annotated[float, typer.Option(help="Bound on |strength|")] = 100.0,
    concept_rate: Annotated[float, typer.Option(help="New concepts a minute (429)")] = 6.0,
    device: DeviceOpt = "auto",
    dtype: DtypeOpt = "auto",
) -> None:
    """An OpenAI-compatible server for the model, with optional per-request injections.

    The API key comes from the environment variable named by --api-key-env, never from the
    command line. Every limit is described in the introscope.serve module docstring.
    """
    from introscope.core.vectors import load_vectors
    from introscope.serve import ServeLimits, api_key_from_env
    from introscope.serve import serve as run_server

    if vector_dir is not None and not vector_dir.is_dir():
        raise IntroscopeError(f"--vector-dir {str(vector_dir)!r} is not a directory.")
    api_key = api_key_from_env(api_key_env, host, insecure)  # before loading the model
    limits = ServeLimits(
        max_tokens=max_tokens,
        max_body_bytes=max_body_bytes,
        max_prompts=max_prompts,
        max_batch=max_batch,
        max_queue=max_queue,
        timeout_s=timeout,
        max_strength=max_strength,
        concept_builds_per_minute=concept_rate,
    )
    lm = _load(model, device, dtype)
    vs = load_vectors(vectors, lm) if vectors is not None else None
    console.print(f"Serving {lm.info.spec} on http://{host}:{port}/v1")
    hosts = tuple(allow_host or ())
    run_server(lm, host, port, vs, api_key=api_key, limits=limits, allow_hosts=hosts,
               insecure=insecure, vector_dir=vector_dir)  # fmt: skip


register_experiment_commands(app)
register_study_commands(app)
register_train_command(app)
# ``introscope grade RUN --judge URL --judge-model NAME`` (its options live with it).
app.command(name="grade")(friendly(grade_command))


def main() -> None:
    """Entry point of the ``introscope`` script."""
    try:
        app()
    except SystemExit as exc:
        sys.exit(exc.code)


if __name__ == "__main__":
    main()
