"""The one thread that owns the model: a bounded queue, batches, isolation of failing rows.

Requests become :class:`~introscope.serve.jobs.Job` s in a bounded queue (``max_queue``;
a full queue answers 429). The worker takes the model lock, then gathers the oldest job and
every waiting job with the same sampling settings (up to ``max_batch``) into one
``Engine.generate`` call, steered step by step by a
:class:`~introscope.serve.steps.StepController`. Jobs whose client has gone or whose time
is up are dropped before they start and ended at the next step if running.

Isolation: a row whose values go non-finite after the first step is ended by the controller
and fails alone (422). If a batch raises instead (a row that is non-finite from its first
step breaks the sampler), every job of the batch is checked alone: a job whose first-step
log-probs are non-finite fails with 422, and each other job is decoded alone, so it gets
exactly what it would have got had it come alone.

Concept-vector builds are tasks of their own on this thread: run when no job waits, or
after ``BUILD_EVERY`` batches so that a steady stream of requests cannot starve them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import Future

import torch

from introscope.core.engine import Engine, Generation
from introscope.core.models import LoadedModel
from introscope.core.vectors import VectorSet, concept_vectors
from introscope.errors import IntroscopeError
from introscope.serve.errors import ApiError
from introscope.serve.jobs import Completion, FinishReason, Job
from introscope.serve.limits import ServeLimits
from introscope.serve.steps import RowControl, StepController, eos_token_ids, first_stop

log = logging.getLogger("introscope.serve")

BUILD_EVERY = 4  # generation batches after which a waiting concept build goes first


def client_gone() -> ApiError:
    return ApiError(499, "The client closed the connection.")


def as_api_error(exc: BaseException) -> ApiError:
    """What a client is told about an exception raised while serving it."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, IntroscopeError):
        return ApiError(400, str(exc))
    log.error("Generation failed", exc_info=exc)
    return ApiError(500, f"The server failed with {type(exc).__name__}.")


def non_finite(job: Job) -> ApiError:
    param = "introscope.strength" if job.injection is not None else None
    hint = "; lower introscope.strength" if job.injection is not None else ""
    return ApiError(
        422, f"The model's values became NaN or infinite during generation{hint}.", param=param
    )


class Worker:
    """Owns the model and an :class:`Engine`; runs queued jobs in batches on one thread."""

    def __init__(self, lm: LoadedModel, limits: ServeLimits) -> None:
        self.lm = lm
        self.engine = Engine(lm)
        self.limits = limits
        self.eos_ids = eos_token_ids(lm)
        # Held while the model runs; holding it from outside queues requests up (tests).
        self.lock = threading.Lock()
        self._cv = threading.Condition()
        self._jobs: deque[Job] = deque()
        self._builds: deque[tuple[str, Future[VectorSet]]] = deque()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._batches_since_build = 0
        self.stats = dict.fromkeys(
            (
                "submitted", "requests", "batches", "max_batch_seen", "steps", "isolated",
                "cancelled", "timed_out", "non_finite", "concept_builds", "ended_early",
            ),
            0,
        )  # fmt: skip

    # ------------------------------------------------------------------ submitting
    def submit(self, jobs: list[Job]) -> None:
        """Queue all of ``jobs`` or none (429 when the queue cannot take them all)."""
        with self._cv:
            if self._closing:
                raise ApiError(503, "The server is shutting down.")
            if len(self._jobs) + len(jobs) > self.limits.max_queue:
                raise ApiError(
                    429,
                    f"The server is busy ({len(self._jobs)} requests waiting); retry shortly.",
                    headers={"Retry-After": "1"},
                )
            self._jobs.extend(jobs)
            self.stats["submitted"] += len(jobs)
            self._start()
            self._cv.notify()

    def submit_build(self, word: str) -> Future[VectorSet]:
        """Queue a concept-vector build (429 when ``max_pending_concepts`` already wait)."""
        future: Future[VectorSet] = Future()
        with self._cv:
            if self._closing:
                raise ApiError(503, "The server is shutting down.")
            if len(self._builds) >= self.limits.max_pending_concepts:
                raise ApiError(
                    429,
                    "Too many concept vectors are waiting to be built; retry shortly.",
                    param="introscope.concept",
                    headers={"Retry-After": "5"},
                )
            self._builds.append((word, future))
            self._start()
            self._cv.notify()
        return future

    def queued(self) -> int:
        """Jobs waiting for the model."""
        with self._cv:
            return len(self._jobs)

    def pending_builds(self) -> int:
        """Concept-vector builds waiting for the model."""
        with self._cv:
            return len(self._builds)

    def close(self) -> None:
        with self._cv:
            self._closing = True
            self._cv.notify()
        if self._thread is not None:
            self._thread.join(timeout=60)
        with self._cv:
            for job in self._jobs:
                if job.future.set_running_or_notify_cancel():
                    job.future.set_exception(ApiError(503, "The server is shutting down."))
            for _word, future in self._builds:
                if future.set_running_or_notify_cancel():
                    future.set_exception(ApiError(503, "The server is shutting down."))
            self._jobs.clear()
            self._builds.clear()

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="introscope-serve", daemon=True)
            self._thread.start()

    # ------------------------------------------------------------------ the loop
    def _loop(self) -> None:
        while True:
            with self._cv:
                while not (self._jobs or self._builds or self._closing):
                    self._cv.wait()
                if self._closing:
                    return
            with self.lock:
                build, batch = self._take()
                try:
                    if build is not None:
                        self._build(*build)
                    elif batch:
                        self._run_batch(batch)
                except BaseException as exc:  # never leave a client waiting on a dead worker
                    for job in batch:
                        if not job.future.done():
                            job.future.set_exception(as_api_error(exc))
                    if build is not None and not build[1].done():
                        build[1].set_exception(as_api_error(exc))
                    if not isinstance(exc, Exception):
                        raise

    def _take(self) -> tuple[tuple[str, Future[VectorSet]] | None, list[Job]]:
        """The next work: a concept build, or a batch of compatible jobs (maybe empty)."""
        with self._cv:
            if self._builds and (not self._jobs or self._batches_since_build >= BUILD_EVERY):
                self._batches_since_build = 0
                return self._builds.popleft(), []
            if not self._jobs:
                return None, []
            key = self._jobs[0].sampling_key
            taken = [j for j in self._jobs if j.sampling_key == key][: self.limits.max_batch]
            self._jobs = deque(j for j in self._jobs if j not in taken)
            if self._builds:
                self._batches_since_build += 1
        now = time.monotonic()
        batch = []
        for job in taken:
            if not job.future.set_running_or_notify_cancel():
                self.stats["cancelled"] += 1
            elif job.cancelled.is_set():
                self.stats["cancelled"] += 1
                job.future.set_exception(client_gone())
            elif now > job.deadline:
                self.stats["timed_out"] += 1
                job.future.set_exception(self._timeout())
            else:
                batch.append(job)
        return None, batch

    def _timeout(self) -> ApiError:
        return ApiError(504, f"The request took longer than {self.limits.timeout_s:g} s.")

    def _build(self, word: str, future: Future[VectorSet]) -> None:
        if not future.set_running_or_notify_cancel():
            return
        log.info("Building the concept vector for %r.", word)
        try:
            vs = concept_vectors(self.engine, [word])
        except Exception as exc:
            future.set_exception(as_api_error(exc))
            return
        self.stats["concept_builds"] += 1
        future.set_result(vs)

    # ------------------------------------------------------------------ batches
    def _run_batch(self, jobs: list[Job]) -> None:
        try:
            self._decode(jobs)
        except Exception as exc:
            if len(jobs) == 1:
                jobs[0].future.set_exception(as_api_error(exc))
                return
            log.warning("A batch of %d failed (%s); running its jobs alone.", len(jobs), exc)
            self.stats["isolated"] += 1
            for job in jobs:
                self._run_alone(job)

    def _run_alone(self, job: Job) -> None:
        if job.future.done():
            return
        if job.cancelled.is_set():
            self.stats["cancelled"] += 1
            job.future.set_exception(client_gone())
            return
        try:
            if job.injection is not None:
                (logprobs,) = self.engine.next_token_logprobs([job.prompt], [job.injection])
                if not bool(torch.isfinite(logprobs).all()):
                    self.stats["non_finite"] += 1
                    job.future.set_exception(non_finite(job))
                    return
            self._decode([job])
        except Exception as exc:
            job.future.set_exception(as_api_error(exc))

    def _decode(self, jobs: list[Job]) -> None:
        tok = self.lm.tokenizer
        rows = [RowControl(job, tok, self.eos_ids) for job in jobs]
        wanting = [i for i, job in enumerate(jobs) if job.top_logprobs is not None]
        if wanting:  # the first choice's distribution: the controller sees the later ones
            first = self.engine.next_token_logprobs(
                [jobs[i].prompt for i in wanting], [jobs[i].injection for i in wanting]
            )
            for i, lp in zip(wanting, first, strict=True):
                rows[i].pending = lp
        lead = jobs[0]
        controller = StepController(rows, self.eos_ids)
        self.stats["max_batch_seen"] = max(self.stats["max_batch_seen"], len(jobs))
        with controller.attached(self.lm.model):
            gens = self.engine.generate(
                [j.prompt for j in jobs],
                [j.injection for j in jobs],
                # One step past the longest budget: the step after a row's last token is
                # where the controller checks it and ends it.
                max_new_tokens=max(j.max_tokens for j in jobs) + 1,
                temperature=lead.temperature,
                top_p=lead.top_p,
                seeds=[j.seed for j in jobs] if lead.temperature > 0 else None,
            )
        self.stats["requests"] += len(jobs)
        self.stats["batches"] += 1
        self.stats["steps"] += controller.steps
        for row, gen in zip(rows, gens, strict=True):
            self._settle(row, gen)

    def _settle(self, row: RowControl, gen: Generation) -> None:
        job = row.job
        if row.ending == "non_finite":
            self.stats["non_finite"] += 1
            job.future.set_exception(non_finite(job))
            return
        if row.ending == "cancelled":
            self.stats["cancelled"] += 1
            job.future.set_exception(client_gone())
            return
        if row.ending == "timeout":
            self.stats["timed_out"] += 1
            job.future.set_exception(self._timeout())
            return
        if row.ending == "stop":
            self.stats["ended_early"] += 1
        job.future.set_result(self.completion(job, gen, row))

    def completion(self, job: Job, gen: Generation, row: RowControl) -> Completion:
        """The job's answer from its row of the batch, cut to its budget and stop strings."""
        ids = gen.token_ids[: job.max_tokens]
        text = gen.text
        if len(ids) < len(gen.token_ids):  # the controller did not end the row in time
            text = self.lm.tokenizer.decode(list(ids), skip_special_tokens=True)
        cut = first_stop(text, job.stop)
        if cut is not None:
            text = text[:cut]
        if cut is not None:
            reason: FinishReason = "stop"
        elif row.ending == "length" or len(gen.token_ids) > job.max_tokens:
            reason = "length"
        else:
            reason = "stop" if gen.finished else "length"
        logprobs = None
        if job.top_logprobs is not None:
            kept = [e for e in row.logprobs[: len(ids)] if e.text_offset < len(text)]
            logprobs = tuple(kept)
        return Completion(text, tuple(ids), gen.n_prompt_tokens, reason, logprobs)
