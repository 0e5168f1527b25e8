"""The Ray executor: batches run on Ray actors, each owning one loaded model.

The driver (the ``introscope`` process) keeps everything that makes a run reproducible: it
reads the specs, decides which batches remain, ships each batch's trials (built once, by
the first actor, from the run's saved vectors) and writes every finished batch to the store
in one transaction. Actors only compute; they never touch the run directory, so a cluster
need not share a file system with the driver.

Faults: an actor that dies mid-batch (killed, out of memory, its node lost) is replaced and
its batches go back to the queue; a batch is written once, when its result arrives, so no
trial is lost or written twice. A batch whose actor dies :attr:`RayOptions.max_attempts`
times fails the run with its trial ids named. An error raised by the computation itself (a
bad injection, say) fails the run at once, as it would locally.

Exactness: every actor runs the same :class:`~introscope.execution.worker.Worker` code on
the same vectors as the local executor, so on CPUs with equal intra-op thread counts
(``cpus_per_worker`` here, torch's default locally; both are recorded in the manifest as
``torch_threads``) the stored numbers are bit-identical.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from introscope.core.models import ModelInfo
from introscope.core.vectors import VectorSet
from introscope.errors import ExecutorError, IntroscopeError
from introscope.execution.base import BatchJob, BatchOutcome, ModelRequest, WorkerEnvironment
from introscope.experiments.base import Trial
from introscope.spec import Spec

RAY_MISSING = "The ray executor needs Ray, which is not installed: pip install 'introscope[ray]'."


def import_ray() -> Any:
    """The ``ray`` module, or :class:`ExecutorError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ExecutorError(RAY_MISSING) from None
    return ray


@dataclass(frozen=True)
class RayOptions:
    """``address``: None starts a Ray instance on this machine, ``"auto"`` joins the running
    cluster, ``"ray://host:10001"`` connects as a client. ``workers``: actors to start
    (default: as many as the cluster's GPUs, or CPUs, allow). ``gpus_per_worker``: None
    means 1 when the cluster has GPUs, else 0 (CPU actors); more than 1 loads the model with
    ``device_map="auto"`` over the actor's GPUs. ``cpus_per_worker`` is also each actor's
    torch thread count."""

    address: str | None = None
    workers: int | None = None
    gpus_per_worker: float | None = None
    cpus_per_worker: int = 1
    max_attempts: int = 3
    in_flight: int = 2  # batches queued on each actor, so it never waits for the driver
    env: dict[str, str] = field(default_factory=dict)  # extra environment for the actors


class WorkerActor:
    """The actor: a :class:`Worker` on a model loaded in its own process.

    A failure to load is kept and raised by :meth:`ready` (as the original one-sentence
    error) instead of killing the actor, whose death would only say "init failed".
    """

    def __init__(self, request: ModelRequest, specs: list[Spec], name: str, threads: int) -> None:
        import torch

        from introscope.core.models import load_model
        from introscope.execution.worker import Worker

        torch.set_num_threads(threads)
        self.worker: Worker | None = None
        self.error: Exception | None = None
        try:
            lm = load_model(
                request.model,
                device=request.device,
                dtype=request.dtype,
                device_map=request.device_map,
            )
            self.worker = Worker(lm, specs, name)
        except Exception as exc:
            self.error = exc

    def ready(self) -> int:
        if self.error is not None:
            raise self.error
        return os.getpid()

    def call(self, method: str, *args: Any) -> Any:
        assert self.worker is not None, "ready() raises before any call"
        return getattr(self.worker, method)(*args)

    def info(self) -> ModelInfo:
        assert self.worker is not None
        return self.worker.info


@dataclass
class Slot:
    """One actor position: its current actor and how many times it has been replaced."""

    index: int
    actor: Any
    generation: int = 0
    busy: int = 0

    @property
    def name(self) -> str:
        return f"w{self.index}" + (f"r{self.generation}" if self.generation else "")


class RaySession:
    def __init__(self, ray: Any, request: ModelRequest, specs: Sequence[Spec], opts: RayOptions):
        self.ray = ray
        self.request = request
        self.specs = list(specs)
        self.opts = opts
        resources = ray.cluster_resources()
        gpus = opts.gpus_per_worker
        if gpus is None:
            gpus = 1.0 if resources.get("GPU", 0) >= 1 else 0.0
        if gpus > 1 and request.device_map is None:
            self.request = replace(request, device_map="auto")
        self.gpus = gpus
        n = opts.workers
        if n is None:
            pool = resources.get("GPU", 0) / gpus if gpus else resources.get("CPU", 1)
            n = max(1, int(pool // (1 if gpus else opts.cpus_per_worker)))
        # Actors that do not fit would wait for resources forever: say so instead.
        for kind, each in (("GPU", gpus), ("CPU", float(opts.cpus_per_worker))):
            have = float(resources.get(kind, 0))
            if n * each > have:
                raise ExecutorError(
                    f"{n} Ray workers with {each:g} {kind}s each need {n * each:g} {kind}s, and "
                    f"the cluster has {have:g}; lower --workers or the {kind}s per worker."
                )
        env = {"OMP_NUM_THREADS": str(opts.cpus_per_worker), **opts.env}
        self.remote_cls = ray.remote(WorkerActor).options(
            num_cpus=opts.cpus_per_worker,
            num_gpus=gpus,
            max_restarts=0,
            max_task_retries=0,
            runtime_env={"env_vars": env},
        )
        self.slots = [Slot(i, self._start(f"w{i}")) for i in range(n)]
        self.vectors_ref: Any = None
        self.run_dir: Path | None = None
        self.replacements = 0
        self._retried: list[str] = []
        self._pids: dict[str, int] = {}

    # -- actors
    def _start(self, name: str) -> Any:
        return self.remote_cls.remote(self.request, self.specs, name, self.opts.cpus_per_worker)

    def _get(self, ref: Any) -> Any:
        """``ray.get``, with a computation's own error raised as itself (one sentence)."""
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as exc:
            cause = exc.cause
            if isinstance(cause, IntroscopeError):
                raise cause from None
            raise ExecutorError(f"A Ray worker failed: {type(cause).__name__}: {cause}") from None
        except self.ray.exceptions.RayActorError as exc:
            first = (str(exc).strip().splitlines() or ["(no message)"])[0]
            raise ExecutorError(f"A Ray worker died before it answered: {first}") from None

    def _planner(self) -> Any:
        return self.slots[0].actor

    def _plan(self, method: str, *args: Any) -> Any:
        self._get(self._planner().ready.remote())
        return self._get(self._planner().call.remote(method, *args))

    @property
    def info(self) -> ModelInfo:
        self._get(self._planner().ready.remote())
        info: ModelInfo = self._get(self._planner().info.remote())
        return info

    @property
    def environment(self) -> WorkerEnvironment:
        env: WorkerEnvironment = self._plan("environment")
        return env

    @property
    def workers(self) -> int:
        return len(self.slots)

    @property
    def retried(self) -> list[str]:
        """A line per batch sent again after its actor died."""
        return list(self._retried)

    def worker_pids(self) -> dict[str, int]:
        """Actor name -> process id, for the actors that answered ``ready``."""
        return dict(self._pids)

    def check_layers(self) -> None:
        self._plan("check_layers")

    def fix_batch_sizes(self, recorded: Mapping[str, int]) -> dict[str, int]:
        # The planner actor applies the rule once; every other actor, and any actor started
        # later to replace a dead one, takes its numbers.
        sizes: dict[str, int] = self._plan("fix_batch_sizes", dict(recorded))
        self.specs = [
            s.model_copy(update={"batch_size": sizes[s.name]}) if s.name in sizes else s
            for s in self.specs
        ]
        for slot in self.slots[1:]:
            self._get(slot.actor.ready.remote())
            self._get(slot.actor.call.remote("fix_batch_sizes", sizes))
        return sizes

    def words_needed(self) -> list[str]:
        words: list[str] = self._plan("words_needed")
        return words

    def compute_vectors(self, words: Sequence[str]) -> VectorSet:
        vs: VectorSet = self._plan("compute_vectors", list(words))
        return vs

    def use_vectors(self, vectors: VectorSet, run_dir: Path | None = None) -> None:
        self.vectors_ref = self.ray.put(vectors)
        self.run_dir = run_dir
        for slot in self.slots:
            self._pids[slot.name] = self._get(slot.actor.ready.remote())
            self._get(slot.actor.call.remote("use_vectors", self.vectors_ref, run_dir))

    def build_trials(self) -> dict[str, list[Trial]]:
        trials: dict[str, list[Trial]] = self._plan("build_trials")
        return trials

    # -- batches
    def _replace(self, slot: Slot) -> None:
        self.ray.kill(slot.actor, no_restart=True)
        slot.generation += 1
        slot.busy = 0
        self.replacements += 1
        slot.actor = self._start(slot.name)
        # Actor calls run in submission order: the vectors arrive before any batch.
        slot.actor.call.remote("use_vectors", self.vectors_ref, self.run_dir)

    def run(self, jobs: Sequence[BatchJob]) -> Iterator[BatchOutcome]:
        exc_types = self.ray.exceptions
        # The actor died (killed, out of memory), or its node did and took the result along.
        lost = tuple(
            getattr(exc_types, name)
            for name in ("RayActorError", "ObjectLostError", "WorkerCrashedError")
            if hasattr(exc_types, name)
        )
        queue = deque(jobs)
        attempts: dict[tuple[str, int], int] = {}
        pending: dict[Any, tuple[Slot, int, BatchJob]] = {}

        def fill() -> None:
            for slot in self.slots:
                while queue and slot.busy < self.opts.in_flight:
                    job = queue.popleft()
                    ref = slot.actor.call.remote("run_batch", job)
                    pending[ref] = (slot, slot.generation, job)
                    slot.busy += 1

        fill()
        while pending:
            [ref], _ = self.ray.wait(list(pending), num_returns=1)
            slot, generation, job = pending.pop(ref)
            try:
                outcome: BatchOutcome = self.ray.get(ref)
            except lost as exc:
                key = (job.spec_name, job.index)
                attempts[key] = attempts.get(key, 0) + 1
                first = (str(exc).strip().splitlines() or ["(no message)"])[0]
                if attempts[key] >= self.opts.max_attempts:
                    raise ExecutorError(
                        f"{job.describe()} failed {attempts[key]} times, each time because its "
                        f"Ray worker died (last: {first}); the batches written so far are "
                        "kept, and the same command resumes from there."
                    ) from None
                self._retried.append(f"{job.describe()}: worker {slot.name} died ({first})")
                if slot.generation == generation:
                    self._replace(slot)
                queue.appendleft(job)
            except exc_types.RayTaskError as exc:
                cause = exc.cause
                if isinstance(cause, IntroscopeError):
                    raise cause from None
                raise ExecutorError(
                    f"{job.describe()} failed: {type(cause).__name__}: {cause}"
                ) from None
            else:
                if slot.generation == generation:
                    slot.busy -= 1
                self._pids[outcome.worker] = outcome.worker_pid
                fill()  # before yielding, so the actors keep working while the driver writes
                yield outcome
                continue
            fill()

    def close(self) -> None:
        for slot in self.slots:
            self.ray.kill(slot.actor, no_restart=True)


class RayExecutor:
    """Opens :class:`RaySession`s on a Ray cluster (started here, joined, or already
    initialised by the caller). Use as a context manager, or call :meth:`close`: a Ray
    instance this executor started is shut down there."""

    name = "ray"

    def __init__(self, options: RayOptions | None = None) -> None:
        self.options = options or RayOptions()
        self.ray = import_ray()
        self.started = False

    def _connect(self) -> None:
        if self.ray.is_initialized():
            return
        try:
            self.ray.init(
                address=self.options.address,
                include_dashboard=False,
                logging_level="warning",
                log_to_driver=False,
            )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            where = self.options.address or "a new local instance"
            raise ExecutorError(f"Could not start or reach Ray at {where}: {first}") from None
        self.started = True

    def open(self, request: ModelRequest, specs: Sequence[Spec]) -> RaySession:
        self._connect()
        return RaySession(self.ray, request, specs, self.options)

    def describe(self) -> dict[str, Any]:
        o = self.options
        return {
            "name": self.name,
            "address": o.address,
            "workers": o.workers,
            "gpus_per_worker": o.gpus_per_worker,
            "cpus_per_worker": o.cpus_per_worker,
        }

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()
            self.started = False

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
