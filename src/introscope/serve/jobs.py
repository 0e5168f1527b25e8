"""One row of work for the model (a :class:`Job`) and what it produces (a :class:`Completion`)."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal

from introscope.core.steering import Injection

FinishReason = Literal["stop", "length"]


@dataclass(frozen=True)
class TokenLogprob:
    """A generated token, its log-probability and the most likely alternatives at its step.

    Log-probabilities are the model's own (temperature 1, before top_p), as OpenAI reports.
    """

    token_id: int
    logprob: float
    top: tuple[tuple[int, float], ...]
    text_offset: int  # characters of completion text before this token


@dataclass(frozen=True)
class Completion:
    text: str
    token_ids: tuple[int, ...]
    n_prompt_tokens: int
    finish_reason: FinishReason
    logprobs: tuple[TokenLogprob, ...] | None


@dataclass(eq=False)
class Job:
    """A prompt to complete, with everything already validated and resolved."""

    prompt: str
    n_prompt_tokens: int
    injection: Injection | None
    max_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    stop: tuple[str, ...] = ()
    top_logprobs: int | None = None  # None: no log-probs; 0: the chosen token's only
    deadline: float = math.inf  # time.monotonic() after which the job is abandoned
    on_delta: Callable[[str], None] | None = None  # streaming: called with new text
    cancelled: threading.Event = field(default_factory=threading.Event)
    future: Future[Completion] = field(default_factory=Future)
    streamed: str = ""  # text handed to on_delta so far

    @property
    def sampling_key(self) -> tuple[float, float]:
        """Jobs with equal keys can share a batch (the engine samples a batch one way)."""
        return (0.0, 1.0) if self.temperature == 0 else (self.temperature, self.top_p)

    @property
    def wants_text(self) -> bool:
        """Whether decoding must follow the text (stop strings, streaming, log-probs)."""
        return bool(self.stop) or self.on_delta is not None or self.top_logprobs is not None

    def cancel(self) -> None:
        """Give up on the job: dropped if still queued, ended at the next step if running."""
        self.cancelled.set()
        self.future.cancel()

    def offer(self, safe_text: str) -> None:
        """Stream what ``safe_text`` adds to the text already streamed (never retracts)."""
        if self.on_delta is None or len(safe_text) <= len(self.streamed):
            return
        if not safe_text.startswith(self.streamed):
            return  # a rerun that decoded differently: stream nothing that contradicts
        delta, self.streamed = safe_text[len(self.streamed) :], safe_text
        self.on_delta(delta)

    def describe_injection(self) -> dict[str, Any] | None:
        return self.injection.describe() if self.injection is not None else None
