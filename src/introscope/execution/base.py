"""What the runner asks of an executor: a :class:`Session` on a loaded model that computes
concept vectors, builds trials, and runs batches.

The runner plans (which batches remain), writes (each batch atomically, as it arrives) and
keeps the run's identity; a session only computes. A session yields finished batches in any
order: the store is ordered by trial id and each row keeps its batch index, so the order of
arrival changes nothing that is stored except timing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from introscope.core.models import ModelInfo
    from introscope.core.vectors import VectorSet
    from introscope.experiments.base import Trial, TrialResult
    from introscope.spec import Spec


@dataclass(frozen=True)
class ModelRequest:
    """How every worker loads the model (one spec's model, device and dtype).
    ``device_map="auto"`` spreads a model over all GPUs of its worker."""

    model: str
    device: str = "auto"
    dtype: str = "auto"
    device_map: str | None = None


@dataclass(frozen=True)
class BatchJob:
    """One batch of one spec: batch ``index`` of the spec's fixed batching (trials
    ``index*B .. index*B+B-1``), less the trials a resumed run already stored."""

    spec_name: str
    index: int
    trials: Sequence[Trial]

    def describe(self) -> str:
        ids = ", ".join(t.trial_id for t in self.trials)
        return f"batch {self.index} of spec {self.spec_name!r} (trial ids: {ids})"


@dataclass(frozen=True)
class BatchOutcome:
    """A finished batch: one result and one prompt-token count per trial, and where and when
    it ran."""

    job: BatchJob
    results: Sequence[TrialResult]
    n_prompt_tokens: Sequence[int]
    started_at: datetime
    seconds: float
    worker: str
    worker_pid: int


@dataclass(frozen=True)
class WorkerEnvironment:
    """What decides a worker's numbers besides the model: library versions and torch's
    intra-op thread count (CPU results are bit-identical only at equal thread counts)."""

    versions: Mapping[str, str]
    torch_threads: int


class Session(Protocol):
    """A model loaded where the work happens (in this process or on actors)."""

    @property
    def info(self) -> ModelInfo: ...

    @property
    def environment(self) -> WorkerEnvironment: ...

    @property
    def workers(self) -> int: ...

    @property
    def retried(self) -> list[str]:
        """A line per batch sent again because its worker died (empty locally)."""

    def check_layers(self) -> None:
        """Resolve every spec's layers and declared ``primary`` layer (a bad layer fails before
        anything is written)."""

    def fix_batch_sizes(self, recorded: Mapping[str, int]) -> dict[str, int]:
        """Give every ``batch_size = "auto"`` spec a number, the same on every worker: the
        ``recorded`` one where given (a resume), else the rule's (core/batch_size.py) where
        the model runs. Returns spec name -> rows for those specs."""

    def words_needed(self) -> list[str]:
        """The concept words every spec needs vectors for, in first-use order."""

    def compute_vectors(self, words: Sequence[str]) -> VectorSet:
        """Concept vectors for ``words`` (on CPU)."""

    def use_vectors(self, vectors: VectorSet, run_dir: Path | None = None) -> None:
        """The run's vectors, for every worker (as saved in and read back from the run), and
        the run directory (where a solver may keep what it computes while planning)."""

    def build_trials(self) -> dict[str, list[Trial]]:
        """Every spec's trials, in the spec's order: spec name -> trials."""

    def run(self, jobs: Sequence[BatchJob]) -> Iterator[BatchOutcome]:
        """Run every job once, yielding each as it finishes."""

    def close(self) -> None: ...


class Executor(Protocol):
    """Opens sessions: ``local`` (this process) or ``ray`` (actors)."""

    name: str

    def open(self, request: ModelRequest, specs: Sequence[Spec]) -> Session: ...

    def describe(self) -> dict[str, Any]:
        """What the manifest records about the executor."""
