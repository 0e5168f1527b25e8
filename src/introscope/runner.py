"""Run a spec: expand it into trials, run them in batches, store one row per trial.

Resumability and exactness come from three choices:

* trial ids and per-trial seeds depend only on the trial (never on batch position);
* batch composition is fixed by the full trial list (batch ``k`` = trials ``k*B..k*B+B-1``),
  so a resumed run computes every remaining batch exactly as an uninterrupted run would;
* each batch is written in one transaction, so a run killed at any point (even SIGKILL)
  leaves only whole batches, and restarting skips exactly those.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from introscope import __version__
from introscope.core.engine import Engine
from introscope.core.models import LoadedModel, load_model
from introscope.core.vectors import VectorSet, concept_vectors, load_vectors, save_vectors
from introscope.errors import JudgeError, StoreError
from introscope.experiments import get_experiment
from introscope.experiments.base import Context, Trial, TrialResult
from introscope.spec import Spec, dump_digest, spec_params
from introscope.store import (
    RunStore,
    TrialRecord,
    mark_complete,
    read_manifest,
    stable_hash,
    write_manifest,
)

ProgressFn = Callable[[int, int], None]  # (done_now, total)


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    n_trials: int
    n_new: int
    seconds: float
    already_complete: bool


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).parent,
        )
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def _versions() -> dict[str, str]:
    import torch
    import transformers

    return {
        "introscope": __version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
    }


def build_vectors(
    engine: Engine,
    words: Sequence[str],
    run_dir: Path | None,
    cache: dict[str, VectorSet] | None = None,
) -> VectorSet:
    """Concept vectors for ``words``: from the run directory if saved there (so a resumed
    run uses the very same vectors), else computed and saved. No words (experiments that
    read no concept vectors): an empty set, nothing computed or saved."""
    lm = engine.lm
    if not words:
        info = lm.info
        return VectorSet(
            {}, info.name_or_path, info.weights_hash, lm.hidden_size, lm.n_layers, "none"
        )
    path = run_dir / "vectors.safetensors" if run_dir is not None else None
    if path is not None and path.is_file():
        vs = load_vectors(path, engine.lm)
        if set(words) <= set(vs.names):
            return vs
    vs = concept_vectors(engine, list(words))
    if path is not None:
        save_vectors(vs, path)
    return vs


def check_judge(spec: Spec) -> None:
    if "judge" not in spec.graders or spec.judge is None:
        return
    env = spec.judge.api_key_env
    if env and not os.environ.get(env):
        raise JudgeError(
            f"The judge grader needs an API key: set {env} in the environment (or set "
            f'api_key_env = "" in the spec\'s [judge] table for a local endpoint).'
        )


def _judge_grades(
    spec: Spec, run_dir: Path, trials: Sequence[Trial], results: Sequence[TrialResult]
) -> None:
    from introscope.grading.judge import Judge, JudgeConfig

    assert spec.judge is not None
    cfg = JudgeConfig(
        base_url=spec.judge.base_url,
        model=spec.judge.model,
        api_key_env=spec.judge.api_key_env or None,
        timeout_s=spec.judge.timeout_s,
        max_retries=spec.judge.max_retries,
        cache_path=run_dir / "judge_cache.jsonl",
    )
    with Judge(cfg) as judge:
        for t, r in zip(trials, results, strict=True):
            if r.response is None:
                continue
            concept = t.concept or ""
            grades: dict[str, Any] = {}
            for criterion in spec.judge.criteria:
                fields = {"concept": concept, "word": concept}
                grades[criterion] = judge.grade(r.response, criterion, **fields).as_grade()
            r.grades["judge"] = grades


def run_specs(
    specs: Sequence[Spec],
    run_dir: Path,
    *,
    lm: LoadedModel | None = None,
    progress: ProgressFn | None = None,
    on_total: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Run (or resume) one or more specs into one run directory (one store, one manifest).

    A single ``introscope run`` is one spec; the battery is several sharing one model.
    ``on_total(already_done, total)`` is called once the trials are known; ``progress(n,
    total)`` after each stored batch.
    """
    started = time.perf_counter()
    run_dir = Path(run_dir)
    if not specs:
        raise StoreError("Nothing to run: no spec was given.")
    if len({s.name for s in specs}) != len(specs):
        raise StoreError("Specs in one run need distinct names.")
    if len({(s.model, s.device, s.dtype) for s in specs}) != 1:
        raise StoreError("Specs in one run must use the same model, device and dtype.")
    for spec in specs:
        check_judge(spec)
    digest = stable_hash([s.digest() for s in specs])[:16]
    run_id = f"{'+'.join(s.name for s in specs)}-{digest}"
    manifest: dict[str, Any] | None = None
    if (run_dir / "manifest.json").is_file():
        manifest = read_manifest(run_dir)
        if stored_spec_digests(manifest) != sorted(s.digest() for s in specs):
            raise StoreError(
                f"{run_dir} already holds a run of different specs "
                f"({', '.join(s.get('name', '?') for s in manifest.get('specs', []))}); "
                f"choose another --out."
            )
        # The same specs in another order (the battery's parts follow the registry): the run
        # keeps the identity it was started with.
        digest = str(manifest.get("spec_digest") or digest)
        run_id = str(manifest.get("run_id") or run_id)
    first = specs[0]
    if lm is None:
        lm = load_model(first.model, device=first.device, dtype=first.dtype)
    for spec in specs:  # a bad layer fails now, not after building vectors into run_dir
        lm.layer_indices(spec.grid.layers)
    engine = Engine(lm)
    run_dir.mkdir(parents=True, exist_ok=True)
    solvers = {s.name: get_experiment(s.experiment).solver() for s in specs}
    params = {s.name: spec_params(s) for s in specs}
    words = list(
        dict.fromkeys(w for s in specs for w in solvers[s.name].words_needed(params[s.name]))
    )
    vectors = build_vectors(engine, words, run_dir)
    plans = []
    for spec in specs:
        ctx = Context(spec, params[spec.name], lm, engine, vectors, run_dir)
        trials = solvers[spec.name].build_trials(ctx)
        plans.append((spec, ctx, trials))
    ids = [t.trial_id for _, _, trials in plans for t in trials]
    if len(set(ids)) != len(ids):
        raise StoreError("The specs expand to duplicate trials; check the grids for repeats.")
    store = RunStore(run_dir)
    n_todo = 0
    try:
        done = store.completed_ids()
        work = []
        for spec, ctx, trials in plans:
            bs = spec.batch_size
            for k in range(0, len(trials), bs):
                batch = [t for t in trials[k : k + bs] if t.trial_id not in done]
                if batch:
                    work.append((spec, ctx, k // bs, batch))
        n_todo = sum(len(w[3]) for w in work)
        if on_total is not None:
            on_total(len(ids) - n_todo, len(ids))
        if not work:
            if manifest is None or manifest.get("status") != "complete":
                _write_manifest(run_dir, specs, digest, lm, run_id, len(ids), manifest)
                mark_complete(run_dir)
            return RunResult(run_dir, len(ids), 0, time.perf_counter() - started, True)
        _write_manifest(run_dir, specs, digest, lm, run_id, len(ids), manifest)
        n_prompt: dict[str, int] = {}
        for spec, ctx, batch_index, batch in work:
            t0 = time.perf_counter()
            stamp = datetime.now(UTC)
            results = solvers[spec.name].run_batch(ctx, batch)
            if "judge" in spec.graders:
                _judge_grades(spec, run_dir, batch, results)
            per_trial = (time.perf_counter() - t0) / len(batch)
            records = []
            for t, r in zip(batch, results, strict=True):
                if t.prompt not in n_prompt:
                    n_prompt[t.prompt] = len(lm.encode(t.prompt))
                records.append(
                    trial_record(
                        spec, run_id, t, r, batch_index, stamp, per_trial, n_prompt[t.prompt]
                    )
                )
            store.write_batch(records)
            if progress is not None:
                progress(len(batch), len(ids))
    finally:
        store.close()
    mark_complete(run_dir)
    return RunResult(run_dir, len(ids), n_todo, time.perf_counter() - started, False)


def run_spec(spec: Spec, run_dir: Path, **kwargs: Any) -> RunResult:
    """Run (or resume) a single spec; see :func:`run_specs`."""
    return run_specs([spec], run_dir, **kwargs)


def trial_record(
    spec: Spec,
    run_id: str,
    t: Trial,
    r: TrialResult,
    batch_index: int,
    stamp: datetime,
    seconds: float,
    n_prompt_tokens: int,
) -> TrialRecord:
    c = t.condition
    return TrialRecord(
        trial_id=t.trial_id,
        run_id=run_id,
        experiment=spec.experiment,
        cell_id=t.cell_id,
        condition=c,
        prompt=t.prompt,
        measure=spec.measure,
        seed=t.seed,
        injection=t.injection.describe() if t.injection is not None else None,
        response=r.response,
        n_prompt_tokens=n_prompt_tokens,
        n_response_tokens=r.n_response_tokens,
        logits=r.readout,
        grades=r.grades,
        batch_index=batch_index,
        started_at=stamp,
        duration_s=seconds,
        concept=t.concept,
        layer=c.get("layer"),
        strength=c.get("strength"),
        control=t.control,
        variant=c.get("variant"),
    )


def stored_spec_digests(manifest: dict[str, Any]) -> list[str]:
    """The digests (:meth:`Spec.digest`) of the specs a manifest records, sorted."""
    return sorted(dump_digest(dump) for dump in manifest.get("specs", []))


def _write_manifest(
    run_dir: Path,
    specs: Sequence[Spec],
    digest: str,
    lm: LoadedModel,
    run_id: str,
    n_trials: int,
    previous: dict[str, Any] | None,
) -> None:
    write_manifest(
        run_dir,
        {
            "run_id": run_id,
            "status": "running",
            "specs": [s.model_dump(mode="json") for s in specs],
            "spec_digest": digest,
            "model": lm.info.to_dict(),
            "versions": _versions(),
            "git_commit": _git_commit(),
            "host": platform.node(),
            "n_trials": n_trials,
            "start_time": (previous or {}).get("start_time") or datetime.now(UTC).isoformat(),
            "resumed_at": datetime.now(UTC).isoformat() if previous else None,
        },
    )
