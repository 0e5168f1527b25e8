"""The local executor: the model in this process, batches run one after the other in the
runner's order. Torch uses its default intra-op thread count here (the physical cores, or
``OMP_NUM_THREADS``); the run's manifest records it as ``torch_threads``."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from introscope.core.models import LoadedModel, ModelInfo
from introscope.core.vectors import VectorSet
from introscope.execution.base import BatchJob, BatchOutcome, ModelRequest, WorkerEnvironment
from introscope.execution.worker import Worker
from introscope.experiments.base import Trial
from introscope.spec import Spec

Loader = Callable[[ModelRequest], LoadedModel]


class LocalSession:
    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    @property
    def info(self) -> ModelInfo:
        return self.worker.info

    @property
    def environment(self) -> WorkerEnvironment:
        return self.worker.environment()

    @property
    def workers(self) -> int:
        return 1

    @property
    def retried(self) -> list[str]:
        return []  # a local batch that fails fails the run

    def check_layers(self) -> None:
        self.worker.check_layers()

    def fix_batch_sizes(self, recorded: Mapping[str, int]) -> dict[str, int]:
        return self.worker.fix_batch_sizes(recorded)

    def words_needed(self) -> list[str]:
        return self.worker.words_needed()

    def compute_vectors(self, words: Sequence[str]) -> VectorSet:
        return self.worker.compute_vectors(words)

    def use_vectors(self, vectors: VectorSet, run_dir: Path | None = None) -> None:
        self.worker.use_vectors(vectors, run_dir)

    def build_trials(self) -> dict[str, list[Trial]]:
        return self.worker.build_trials()

    def run(self, jobs: Sequence[BatchJob]) -> Iterator[BatchOutcome]:
        for job in jobs:
            yield self.worker.run_batch(job)

    def close(self) -> None:
        pass


class LocalExecutor:
    """Runs in this process, on ``lm`` when given (tests, notebooks) or a model ``load``
    loads."""

    name = "local"

    def __init__(self, load: Loader, lm: LoadedModel | None = None) -> None:
        self.load = load
        self.lm = lm

    def open(self, request: ModelRequest, specs: Sequence[Spec]) -> LocalSession:
        lm = self.lm if self.lm is not None else self.load(request)
        return LocalSession(Worker(lm, specs))

    def describe(self) -> dict[str, Any]:
        return {"name": self.name}
