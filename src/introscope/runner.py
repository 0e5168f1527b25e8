"""Run a spec: expand it into trials, run them in batches, store one row per trial.

Resumability and exactness come from four choices:

* trial ids and per-trial seeds depend only on the trial (never on batch position);
* batch composition is fixed by the full trial list (batch ``k`` = trials ``k*B..k*B+B-1``),
  so a resumed run computes every remaining batch exactly as an uninterrupted run would;
* each batch is written in one transaction, so a run killed at any point (even SIGKILL)
  leaves only whole batches, and restarting skips exactly those;
* a resume refuses to mix: same specs, weights, vectors, prompts and library versions as the
  run it continues (:mod:`introscope.resume`), unless forced.

Where batches are computed is the executor's business (:mod:`introscope.execution`: this
process, or Ray actors); this module plans, and is the only writer of the run's store.
"""

from __future__ import annotations

import platform
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from introscope.core.models import LoadedModel, ModelInfo, load_model
from introscope.core.vectors import RESIDUAL_NORM_KEY, VectorSet, load_vectors, save_vectors
from introscope.errors import StoreError
from introscope.execution.base import (
    BatchJob,
    BatchOutcome,
    Executor,
    ModelRequest,
    Session,
    WorkerEnvironment,
)
from introscope.execution.local import LocalExecutor
from introscope.experiments.base import Trial, TrialResult
from introscope.locks import RunDirLock
from introscope.resume import (
    FORCE_HINT,
    check_model_and_versions,
    check_prompts,
    check_protocols,
    check_vectors_file,
    file_sha256,
    prompt_digests,
    run_protocols,
)
from introscope.run_judge import JudgePool, check_judge, regrade_errors, uses_judge
from introscope.spec import MAX_TRIALS, Spec, dump_digest
from introscope.store import (
    VECTORS_NAME,
    RunStore,
    TrialRecord,
    mark_complete,
    read_manifest,
    stable_hash,
    write_batch_arrays,
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
    retried: list[str] = field(default_factory=list)  # batches re-sent after a worker died
    regraded: int = 0  # stored trials whose judge errors were graded again
    forced: list[str] = field(default_factory=list)  # mismatches a forced resume mixed in


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


def run_vectors(
    session: Session, words: Sequence[str], run_dir: Path, *, need_norms: bool = False
) -> VectorSet:
    """The run's concept vectors: from the run directory if saved there, else computed once
    and saved. Either way they are the ones read back from the file, so a fresh run, a
    resumed one and every Ray actor use the very same numbers."""
    path = run_dir / VECTORS_NAME
    if path.is_file():
        vs = load_vectors(path)
        vs.check_info(session.info)
        if set(words) <= set(vs.names) and (not need_norms or RESIDUAL_NORM_KEY in vs.extra):
            return vs
    if not words and not need_norms:
        # Experiments that read no concept vectors (the chain-of-thought suite): nothing to
        # compute or save, and the run records no vector file.
        info = session.info
        return VectorSet(
            {}, info.name_or_path, info.weights_hash, info.hidden_size, info.n_layers, "none"
        )
    save_vectors(session.compute_vectors(words), path)
    return load_vectors(path)


def local_loader(request: ModelRequest) -> LoadedModel:
    return load_model(
        request.model, device=request.device, dtype=request.dtype, device_map=request.device_map
    )


def run_specs(
    specs: Sequence[Spec],
    run_dir: Path,
    *,
    lm: LoadedModel | None = None,
    executor: Executor | None = None,
    progress: ProgressFn | None = None,
    on_total: Callable[[int, int], None] | None = None,
    on_batch: Callable[[BatchOutcome], None] | None = None,
    force: bool = False,
    insecure_judge: bool = False,
    device_map: str | None = None,
) -> RunResult:
    """Run (or resume) one or more specs into one run directory (one store, one manifest).

    A single ``introscope run`` is one spec; the battery is several sharing one model.
    ``executor`` computes the batches (default: this process, on ``lm`` when given).
    ``on_total(already_done, total)`` is called once the trials are known; ``progress(n,
    total)`` and ``on_batch(outcome)`` after each stored batch. ``force`` resumes even when
    the weights, vectors, prompts or library versions differ from the run's record.
    """
    started = time.perf_counter()
    run_dir = Path(run_dir)
    if not specs:
        raise StoreError("Nothing to run: no spec was given.")
    if len({s.name for s in specs}) != len(specs):
        raise StoreError("Specs in one run need distinct names.")
    if len({(s.model, s.device, s.dtype, s.fast) for s in specs}) != 1:
        raise StoreError("Specs in one run must use the same model, device, dtype and mode.")
    for spec in specs:
        check_judge(spec, insecure=insecure_judge)
    first = specs[0]
    # Fast mode converts the loaded model itself (core/fast.py: the blocks' matrix products
    # in reduced precision, the rest in float32), so it loads as the spec says.
    request = ModelRequest(first.model, first.device, first.dtype, device_map)
    executor = executor or LocalExecutor(local_loader, lm)
    callbacks = _Callbacks(progress, on_total, on_batch)
    with RunDirLock(run_dir) as lock:
        try:
            manifest = _existing_manifest(run_dir, specs)
            session = executor.open(request, specs)
            try:
                run = _Run(specs, run_dir, session, manifest, executor, force, insecure_judge)
                n_trials, n_new, regraded = run.execute(callbacks)
            finally:
                session.close()
        finally:
            lock.remove_if_unused()  # a run refused before it wrote anything leaves no directory
    return RunResult(
        run_dir,
        n_trials,
        n_new,
        time.perf_counter() - started,
        n_new == 0,
        session.retried,
        regraded,
        run.mismatches,
    )


@dataclass(frozen=True)
class _Callbacks:
    progress: ProgressFn | None
    on_total: Callable[[int, int], None] | None
    on_batch: Callable[[BatchOutcome], None] | None


def _existing_manifest(run_dir: Path, specs: Sequence[Spec]) -> dict[str, Any] | None:
    if not (run_dir / "manifest.json").is_file():
        return None
    manifest = read_manifest(run_dir)
    if stored_spec_digests(manifest) != sorted(s.digest() for s in specs):
        raise StoreError(
            f"{run_dir} already holds a run of different specs "
            f"({', '.join(s.get('name', '?') for s in manifest.get('specs', []))}); "
            f"choose another --out."
        )
    return manifest


@dataclass
class _Run:
    """One run or resume: its identity, its checks, its plan and its batches."""

    specs: Sequence[Spec]
    run_dir: Path
    session: Session
    manifest: dict[str, Any] | None
    executor: Executor
    force: bool
    insecure_judge: bool
    mismatches: list[str] = field(default_factory=list)  # what a forced resume mixed

    def check(self, check: Callable[..., None], *args: Any) -> None:
        """Run a resume check (only on a resume); forced, keep its finding instead."""
        if self.manifest is None:
            return
        try:
            check(self.run_dir, self.manifest, *args)
        except StoreError as exc:
            if not self.force:
                raise
            self.mismatches.append(str(exc).split(f"; {FORCE_HINT}")[0])

    def batch_sizes(self) -> dict[str, int]:
        """Each spec's rows per batch. ``batch_size = "auto"`` is sized once by the session
        (core/batch_size.py) and recorded in the manifest; a resume takes the recorded
        number, so every batch keeps its composition whatever memory is free now."""
        recorded = dict((self.manifest or {}).get("batch_sizes") or {})
        auto = {}
        if any(s.batch_size == "auto" for s in self.specs):
            auto = self.session.fix_batch_sizes(
                {s.name: int(recorded[s.name]) for s in self.specs if s.name in recorded}
            )
        return {s.name: auto.get(s.name) or s.fixed_batch_size for s in self.specs}

    def execute(self, callbacks: _Callbacks) -> tuple[int, int, int]:
        """Plan, check and run; return (trials in the run, trials run now, trials regraded)."""
        specs, run_dir, session = self.specs, self.run_dir, self.session
        digest = stable_hash([s.digest() for s in specs])[:16]
        run_id = f"{'+'.join(s.name for s in specs)}-{digest}"
        if self.manifest is not None:
            # The same specs in another order (the battery's parts follow the registry): the
            # run keeps the identity it was started with.
            digest = str(self.manifest.get("spec_digest") or digest)
            run_id = str(self.manifest.get("run_id") or run_id)
        session.check_layers()  # a bad layer fails now, not after building vectors into run_dir
        sizes = self.batch_sizes()
        info, env = session.info, session.environment
        vec_path = run_dir / VECTORS_NAME
        self.check(check_model_and_versions, info, env.versions)
        self.check(check_vectors_file, vec_path)
        need_norms = any(s.grid.strength_unit != "multiplier" for s in specs)
        session.use_vectors(
            run_vectors(session, session.words_needed(), run_dir, need_norms=need_norms), run_dir
        )
        plans = session.build_trials()
        ids = [t.trial_id for s in specs for t in plans[s.name]]
        if len(set(ids)) != len(ids):
            raise StoreError("The specs expand to duplicate trials; check the grids for repeats.")
        if len(ids) > MAX_TRIALS:
            raise StoreError(
                f"The specs expand to {len(ids):,} trials, more than the {MAX_TRIALS:,} one run "
                "may hold; split them over several runs."
            )
        with RunStore(run_dir) as store:
            self.check(check_prompts, plans, store)
            record = _ManifestRecord(
                specs,
                sizes,
                digest,
                info,
                env,
                run_id,
                len(ids),
                self,
                vec_path,
                plans,
                run_protocols(self.manifest, specs),
            )
            done = store.completed_ids()
            jobs = [
                BatchJob(spec.name, k // sizes[spec.name], batch)
                for spec in specs
                for k in range(0, len(plans[spec.name]), sizes[spec.name])
                if (
                    batch := [
                        t
                        for t in plans[spec.name][k : k + sizes[spec.name]]
                        if t.trial_id not in done
                    ]
                )
            ]
            n_todo = sum(len(j.trials) for j in jobs)
            with_work = {j.spec_name for j in jobs}
            check_protocols(run_dir, [s for s in specs if s.name in with_work], record.protocols)
            if callbacks.on_total is not None:
                callbacks.on_total(len(ids) - n_todo, len(ids))
            regraded = (
                regrade_errors(specs, plans, run_dir, store, self.insecure_judge) if done else 0
            )
            if not jobs:
                previous = self.manifest or {}
                if previous.get("status") != "complete" or regraded or self.mismatches:
                    record.write()
                    mark_complete(run_dir)
                return len(ids), 0, regraded
            record.write()
            self.store_batches(jobs, plans, store, run_id, callbacks, len(ids))
        mark_complete(run_dir)
        return len(ids), n_todo, regraded

    def store_batches(
        self,
        jobs: Sequence[BatchJob],
        plans: dict[str, list[Trial]],
        store: RunStore,
        run_id: str,
        callbacks: _Callbacks,
        total: int,
    ) -> None:
        """Run the jobs on the session and write each finished batch in one transaction (the
        judge, if any, grades it first)."""
        spec_by_name = {s.name: s for s in self.specs}
        trial_by_id = {t.trial_id: t for ts in plans.values() for t in ts}
        judges = JudgePool(self.run_dir, self.insecure_judge)
        try:
            for outcome in self.session.run(jobs):
                spec = spec_by_name[outcome.job.spec_name]
                trials = [trial_by_id[t.trial_id] for t in outcome.job.trials]
                results = list(outcome.results)
                if uses_judge(spec):
                    judges.grade_batch(spec, trials, results)
                per_trial = outcome.seconds / len(trials)
                stamp, index = outcome.started_at, outcome.job.index
                # Arrays first: a row in the store always has its arrays beside the run.
                write_batch_arrays(
                    self.run_dir,
                    spec.name,
                    index,
                    {
                        t.trial_id: r.arrays
                        for t, r in zip(trials, results, strict=True)
                        if r.arrays
                    },
                )
                store.write_batch(
                    [
                        trial_record(spec, run_id, t, r, index, stamp, per_trial, n)
                        for t, r, n in zip(trials, results, outcome.n_prompt_tokens, strict=True)
                    ]
                )
                if callbacks.progress is not None:
                    callbacks.progress(len(trials), total)
                if callbacks.on_batch is not None:
                    callbacks.on_batch(outcome)
        finally:
            judges.close()


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
    injection = t.injection.describe() if t.injection is not None else None
    if injection is not None and "strength_unit" in c:
        # The multiplier actually applied is injection["strength"]; the spec's value is here.
        injection = {
            **injection,
            "relative_strength": c.get("strength"),
            "strength_unit": c["strength_unit"],
        }
    return TrialRecord(
        trial_id=t.trial_id,
        run_id=run_id,
        experiment=spec.experiment,
        cell_id=t.cell_id,
        condition=c,
        prompt=t.prompt,
        measure=spec.measure,
        seed=t.seed,
        injection=injection,
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


@dataclass
class _ManifestRecord:
    specs: Sequence[Spec]
    batch_sizes: dict[str, int]
    digest: str
    info: ModelInfo
    env: WorkerEnvironment
    run_id: str
    n_trials: int
    run: _Run
    vectors: Path
    plans: dict[str, list[Trial]]
    protocols: dict[str, int]

    def write(self) -> None:
        previous = self.run.manifest or {}
        now = datetime.now(UTC).isoformat()
        forced = list(previous.get("forced_resumes") or [])
        if self.run.mismatches:
            forced.append({"at": now, "mismatches": self.run.mismatches})
        write_manifest(
            self.vectors.parent,
            {
                "run_id": self.run_id,
                "status": "running",
                "specs": [s.model_dump(mode="json") for s in self.specs],
                "spec_digest": self.digest,
                "protocols": self.protocols,
                "model": self.info.to_dict(),
                "engine_mode": "fast" if any(s.fast for s in self.specs) else "exact",
                "batch_sizes": self.batch_sizes,  # rows per batch, "auto" resolved
                "versions": dict(self.env.versions),
                "torch_threads": self.env.torch_threads,
                "executor": self.run.executor.describe(),
                "vectors_sha256": file_sha256(self.vectors) if self.vectors.is_file() else None,
                "prompt_templates": prompt_digests(self.plans),
                "forced_resumes": forced,
                "git_commit": _git_commit(),
                "host": platform.node(),
                "n_trials": self.n_trials,
                "start_time": previous.get("start_time") or now,
                "resumed_at": now if self.run.manifest else None,
            },
        )
