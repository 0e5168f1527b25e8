"""The Ray executor's fault handling, on a scripted stand-in for Ray (no cluster, no model):
a batch whose actor dies is retried on a fresh actor and arrives exactly once; a batch whose
actor dies on every try fails the run naming its trial ids; an error of the computation
itself fails at once as its own sentence. Plus the CLI's per-actor throughput and the
one-sentence error when Ray is not installed."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from introscope.cli import app
from introscope.cli_common import Throughput
from introscope.errors import ExecutorError, InjectionError
from introscope.execution.base import BatchJob, BatchOutcome, ModelRequest
from introscope.execution.ray_cluster import RayOptions, RaySession
from introscope.experiments.base import Trial


class ActorDied(Exception):
    pass


class TaskFailed(Exception):
    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


class Ref:
    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn


class FakeActor:
    """An actor whose batches succeed or die as ``fate(actor_name, job)`` says."""

    def __init__(self, ray: FakeRay, name: str) -> None:
        self.ray, self.name, self.dead = ray, name, False
        outer = self

        class Method:
            def __init__(self, fn: Callable[..., Any]) -> None:
                self.fn = fn

            def remote(self, *args: Any) -> Ref:
                return Ref(lambda: self.fn(*args))

        self.ready = Method(lambda: 1000 + len(ray.actors))
        self.call = Method(outer.run)

    def run(self, method: str, *args: Any) -> Any:
        if self.dead:
            raise ActorDied(f"actor {self.name} is dead")
        if method != "run_batch":
            return None
        job: BatchJob = args[0]
        verdict = self.ray.fate(self.name, job)
        self.ray.log.append((self.name, job.index, verdict))
        if verdict == "die":
            self.dead = True
            raise ActorDied(f"actor {self.name} was killed")
        if verdict == "error":
            raise TaskFailed(InjectionError("Injection vector contains NaN values."))
        return BatchOutcome(
            job,
            [None] * len(job.trials),
            [1] * len(job.trials),
            datetime.now(UTC),
            0.5,
            self.name,
            1,
        )


class FakeRay:
    def __init__(self, fate: Callable[[str, BatchJob], str]) -> None:
        self.fate = fate
        self.actors: list[FakeActor] = []
        self.log: list[tuple[str, int, str]] = []
        self.exceptions = SimpleNamespace(RayActorError=ActorDied, RayTaskError=TaskFailed)

    def cluster_resources(self) -> dict[str, float]:
        return {"CPU": 2.0}

    def remote(self, _cls: Any) -> Any:
        ray = self

        class Options:
            def options(self, **_kw: Any) -> Options:
                return self

            def remote(self, _request: Any, _specs: Any, name: str, _threads: int) -> FakeActor:
                actor = FakeActor(ray, name)
                ray.actors.append(actor)
                return actor

        return Options()

    def wait(self, refs: list[Ref], num_returns: int = 1) -> tuple[list[Ref], list[Ref]]:
        return refs[:num_returns], refs[num_returns:]

    def get(self, ref: Ref) -> Any:
        return ref.fn()

    def kill(self, actor: FakeActor, no_restart: bool = True) -> None:
        actor.dead = True

    def put(self, value: Any) -> Any:
        return value


def jobs(n: int) -> list[BatchJob]:
    def trial(i: int) -> Trial:
        return Trial(f"t{i}", "c", {}, "p", None, i)

    return [BatchJob("det", k, [trial(2 * k), trial(2 * k + 1)]) for k in range(n)]


def session(fate: Callable[[str, BatchJob], str], **opts: Any) -> tuple[RaySession, FakeRay]:
    ray = FakeRay(fate)
    s = RaySession(ray, ModelRequest("bundled"), [], RayOptions(workers=2, **opts))
    s.vectors_ref = "vectors"
    return s, ray


def test_a_dead_actors_batch_is_retried_and_arrives_once() -> None:
    first_try = {2}

    def fate(actor: str, job: BatchJob) -> str:
        if job.index in first_try:
            first_try.remove(job.index)
            return "die"
        return "ok"

    s, ray = session(fate)
    done = [o.job.index for o in s.run(jobs(6))]
    assert sorted(done) == list(range(6))  # every batch exactly once
    # Batch 2 died with its actor (w1, which held batches 2 and 3); both went back.
    assert [r.split(": worker")[0] for r in s.retried] == [
        "batch 2 of spec 'det' (trial ids: t4, t5)",
        "batch 3 of spec 'det' (trial ids: t6, t7)",
    ]
    assert s.replacements == 1 and s.slots[1].name == "w1r1"
    assert [(a, i) for a, i, v in ray.log if i == 2] == [("w1", 2), ("w1r1", 2)]


def test_a_batch_that_kills_every_actor_fails_the_run_naming_its_trials() -> None:
    s, ray = session(lambda actor, job: "die" if job.index == 1 else "ok", max_attempts=3)
    with pytest.raises(ExecutorError) as exc:
        list(s.run(jobs(3)))
    msg = str(exc.value)
    assert "batch 1 of spec 'det'" in msg and "t2, t3" in msg and "3 times" in msg
    assert sum(1 for _, index, verdict in ray.log if index == 1 and verdict == "die") == 3


def test_an_error_of_the_computation_fails_at_once_as_itself() -> None:
    s, ray = session(lambda actor, job: "error" if job.index == 0 else "ok")
    with pytest.raises(InjectionError, match="NaN"):
        list(s.run(jobs(2)))
    assert [v for _, index, v in ray.log if index == 0] == ["error"]  # not retried


def test_throughput_per_worker_in_the_progress_description() -> None:
    speed = Throughput()
    for worker, n, seconds in (("w0", 4, 1.0), ("w1", 2, 1.0), ("w0", 4, 1.0)):
        trials = [Trial(f"{worker}{i}", "c", {}, "p", None, i) for i in range(n)]
        speed.add(
            BatchOutcome(BatchJob("d", 0, trials), [], [], datetime.now(UTC), seconds, worker, 1)
        )
    assert speed.describe() == "trials · w0 4.0/s · w1 2.0/s"


def test_executor_ray_without_ray_is_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["run", "detection", "--out", str(out), "--executor", "ray"])
    assert res.exit_code == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "pip install 'introscope[ray]'" in lines[0], res.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--executor", "dask"], "--executor"),
        (["--workers", "2"], "--workers applies to --executor ray"),
        (["--address", "auto"], "--address applies to --executor ray"),
    ],
)
def test_executor_option_mistakes(tmp_path: Path, args: list[str], words: str) -> None:
    res = CliRunner().invoke(app, ["run", "detection", "--out", str(tmp_path / "o"), *args])
    assert res.exit_code == 2 and words in res.stderr and "Traceback" not in res.output


def test_workers_that_cannot_fit_are_refused() -> None:
    ray = FakeRay(lambda actor, job: "ok")
    with pytest.raises(ExecutorError, match="need 3 CPUs, and the cluster has 2"):
        RaySession(ray, ModelRequest("bundled"), [], RayOptions(workers=3))
    with pytest.raises(ExecutorError, match="need 1 GPUs, and the cluster has 0"):
        RaySession(ray, ModelRequest("bundled"), [], RayOptions(workers=1, gpus_per_worker=1))
    assert ray.actors == []  # nothing was started
