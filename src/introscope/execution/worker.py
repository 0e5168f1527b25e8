"""The computing side of a run, the same in this process and inside a Ray actor: one loaded
model, the run's specs and vectors, and a method per thing the runner asks for."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from introscope import __version__
from introscope.core.batch_size import PROMPT_TOKENS, auto_batch_size
from introscope.core.engine import Engine
from introscope.core.models import LoadedModel, ModelInfo
from introscope.core.vectors import VectorSet, concept_vectors
from introscope.errors import StoreError
from introscope.execution.base import BatchJob, BatchOutcome, WorkerEnvironment
from introscope.experiments import get_experiment
from introscope.experiments.base import Context, Trial
from introscope.spec import Spec, spec_params


def library_versions() -> dict[str, str]:
    """The versions a run records (and refuses to resume under different ones)."""
    import transformers

    return {
        "introscope": __version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
    }


class Worker:
    """Holds one loaded model and runs the run's specs on it."""

    def __init__(self, lm: LoadedModel, specs: Sequence[Spec], name: str = "local") -> None:
        self.name = name
        self.engine = Engine(lm, fast=any(s.fast for s in specs))
        self.lm = self.engine.lm  # fast mode: the reduced-precision model everything uses
        self.specs = {s.name: s for s in specs}
        self.params = {s.name: spec_params(s) for s in specs}
        self.solvers = {s.name: get_experiment(s.experiment).solver() for s in specs}
        self.contexts: dict[str, Context[Any]] = {}
        self.n_prompt: dict[str, int] = {}

    @property
    def info(self) -> ModelInfo:
        return self.lm.info

    def environment(self) -> WorkerEnvironment:
        return WorkerEnvironment(library_versions(), torch.get_num_threads())

    def check_layers(self) -> None:
        for spec in self.specs.values():
            self.lm.layer_indices(spec.grid.layers)
            if spec.primary is not None:  # a declared configuration's layer, likewise
                self.lm.layer_indices([spec.primary.layer])

    def fix_batch_sizes(self, recorded: Mapping[str, int]) -> dict[str, int]:
        """Give every ``batch_size = "auto"`` spec a number: the ``recorded`` one (a resume,
        or the number another worker chose) or the rule's for this model and the memory free
        now (core/batch_size.py). Returns the numbers, spec name -> rows."""
        sizes: dict[str, int] = {}
        for name, spec in self.specs.items():
            if spec.batch_size != "auto":
                continue
            n = recorded.get(name) or auto_batch_size(
                self.lm.model,
                self.lm.device,
                self.lm.dtype,
                PROMPT_TOKENS + spec.sampling.max_new_tokens,
            )
            sizes[name] = int(n)
            self.specs[name] = spec.model_copy(update={"batch_size": int(n)})
        return sizes

    def words_needed(self) -> list[str]:
        words = (
            w
            for name, solver in self.solvers.items()
            for w in solver.words_needed(self.params[name])
        )
        return list(dict.fromkeys(words))

    def compute_vectors(self, words: Sequence[str]) -> VectorSet:
        # The baseline-word activations ride along: the covariance-matched random control
        # is drawn from them.
        vs = concept_vectors(self.engine, list(words), keep_baseline=True)
        vs.vectors = {k: v.detach().cpu() for k, v in vs.vectors.items()}
        if vs.baseline is not None:
            vs.baseline = vs.baseline.detach().cpu()
        return vs

    def use_vectors(self, vectors: VectorSet, run_dir: Path | None = None) -> None:
        vectors.check_model(self.lm)
        self.contexts = {
            name: Context(spec, self.params[name], self.lm, self.engine, vectors, run_dir)
            for name, spec in self.specs.items()
        }

    def build_trials(self) -> dict[str, list[Trial]]:
        return {name: self.solvers[name].build_trials(self._context(name)) for name in self.specs}

    def run_batch(self, job: BatchJob) -> BatchOutcome:
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        results = self.solvers[job.spec_name].run_batch(self._context(job.spec_name), job.trials)
        seconds = time.perf_counter() - t0
        counts = []
        for t in job.trials:
            if t.prompt not in self.n_prompt:
                self.n_prompt[t.prompt] = len(self.lm.encode(t.prompt))
            counts.append(self.n_prompt[t.prompt])
        return BatchOutcome(job, results, counts, started, seconds, self.name, os.getpid())

    def _context(self, name: str) -> Context[Any]:
        if name not in self.contexts:
            raise StoreError("The worker was given no vectors before its first trial.")
        return self.contexts[name]
