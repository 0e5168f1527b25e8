"""What the chain-of-thought procedures need from a model, as a protocol (torch-free).

:class:`~introscope.experiments.cot.engine_reasoner.EngineReasoner` implements it on the
engine (batched, chunked by the spec's batch size, per-row seeds and injections); tests pass
small fakes, so the procedures (cutting, truncating, corrupting, hinting) are checked with
known answers without a model. Injections are opaque here (engine injections, or None).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

#: One row's injection (an engine Injection) or None; opaque to the procedures.
RowInjection = Any


class Reasoner(Protocol):
    def generate(
        self,
        prompts: Sequence[str],
        seeds: Sequence[int],
        injections: Sequence[RowInjection] | None = None,
    ) -> list[str]:
        """One continuation per prompt (the spec's length and temperature)."""

    def label_probs(
        self,
        prompts: Sequence[str],
        label_sets: Sequence[Sequence[str]],
        injections: Sequence[RowInjection] | None = None,
    ) -> list[dict[str, float]]:
        """Per prompt, the next token's probability of each of its labels, normalized over
        them (every spelling of a label counts for it)."""

    def short_answers(self, prompts: Sequence[str]) -> list[str]:
        """A few greedy tokens per prompt (open answers)."""

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...

    def offsets(self, text: str) -> list[tuple[int, int]]:
        """Each token's character range in ``text`` (the engine's own tokenization)."""

    def capture_last(self, prompts: Sequence[str], layers: Sequence[int]) -> np.ndarray:
        """Residual-stream activations at each prompt's last token: ``[B, len(layers), d]``."""

    def capture_tokens(
        self, texts: Sequence[str], spans: Sequence[tuple[int, int]], layer: int
    ) -> list[np.ndarray]:
        """Activations at one layer over each text's tokens ``[start, end)``: ``[n, d]``."""
