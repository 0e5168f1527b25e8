"""Every bound a client of the server cannot exceed, with its default, and a rate limiter.

The defaults suit one user on a laptop sharing the server with a few colleagues; each has a
CLI flag (named next to it) and ``create_app(limits=ServeLimits(...))`` sets them in code.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, fields

from introscope.core.models import LoadedModel
from introscope.errors import IntroscopeError

#: Context length assumed when neither the model config nor the tokenizer states one.
FALLBACK_CONTEXT = 2048


@dataclass(frozen=True)
class ServeLimits:
    """Server-side limits (see the ``introscope.serve`` module docstring for the responses)."""

    max_tokens: int = 1024  # --max-tokens: ceiling on a request's max_tokens
    default_max_tokens: int = 128  # when a request gives no max_tokens
    max_body_bytes: int = 1 << 20  # --max-body-bytes: request body size (413 beyond)
    max_prompts: int = 16  # --max-prompts: prompt list length on /v1/completions
    max_messages: int = 256  # chat messages per request
    max_batch: int = 8  # --max-batch: rows decoded together
    max_queue: int = 64  # --max-queue: requests waiting for the model (429 beyond)
    timeout_s: float = 120.0  # --timeout: per request, waiting in the queue included (504)
    max_strength: float = 100.0  # --max-strength: bound on |introscope.strength|
    max_stop: int = 4  # stop sequences per request
    max_stop_chars: int = 64  # characters per stop sequence
    max_top_logprobs: int = 20  # chat top_logprobs (completions: logprobs <= 5)
    max_concept_chars: int = 40  # characters of an on-the-fly concept word
    concept_builds_per_minute: float = 6.0  # --concept-rate: new concept vectors (429 beyond)
    max_pending_concepts: int = 4  # concept vectors waiting to be built (429 beyond)
    max_vector_file_chars: int = 255  # characters of a vector_file name

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not (math.isfinite(value) and value > 0):
                raise IntroscopeError(f"The server limit {f.name} must be positive, not {value}.")
        if self.default_max_tokens > self.max_tokens:  # a lower ceiling lowers the default
            object.__setattr__(self, "default_max_tokens", self.max_tokens)


def model_context(lm: LoadedModel) -> int:
    """The most tokens (prompt plus completion) the model was built to attend over."""
    cfg = lm.model.config
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(cfg, name, None)
        if isinstance(value, int) and value > 0:
            return value
    stated = getattr(lm.tokenizer, "model_max_length", None)
    # Tokenizers without a stated length report a huge sentinel (about 1e30).
    if isinstance(stated, int) and 0 < stated < 10**7:
        return stated
    return FALLBACK_CONTEXT


class RateLimiter:
    """A token bucket: ``per_minute`` events, bursts of up to ``per_minute`` (at least 1)."""

    def __init__(self, per_minute: float) -> None:
        self.capacity = max(1.0, per_minute)
        self.rate = per_minute / 60.0
        self._tokens = self.capacity
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> float:
        """Take one event: 0.0 if allowed, else the seconds until one is allowed."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return 0.0
            return (1.0 - self._tokens) / self.rate
