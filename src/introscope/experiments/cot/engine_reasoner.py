"""The :class:`~introscope.experiments.cot.reasoner.Reasoner` of a run: the engine, with the
spec's sampling settings, per-row seeds and injections, in chunks of the spec's batch size
(so a readout over every truncation of a batch's chains never holds more rows at once than
one batch)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import torch

from introscope.core.steering import Window
from introscope.experiments.base import Context
from introscope.experiments.cot.reasoner import RowInjection
from introscope.experiments.readouts import NO_SPELLINGS, YES_SPELLINGS, first_token_ids

T = TypeVar("T")

#: Tokens of an open answer read after the cue.
SHORT_ANSWER_TOKENS = 12


def label_spellings(label: str) -> tuple[str, ...]:
    if label == "Yes":
        return YES_SPELLINGS
    if label == "No":
        return NO_SPELLINGS
    return (f" {label}", label)


class EngineReasoner:
    def __init__(self, ctx: Context[Any]) -> None:
        self.ctx = ctx
        self.lm = ctx.lm
        self.engine = ctx.engine
        self.size = ctx.spec.fixed_batch_size
        self._label_ids: dict[str, list[int]] = {}

    def _chunks(self, n: int, run: Callable[[slice], list[T]]) -> list[T]:
        out: list[T] = []
        for k in range(0, n, self.size):
            out += run(slice(k, k + self.size))
        return out

    @staticmethod
    def _rows(injections: Sequence[RowInjection] | None, n: int) -> list[RowInjection]:
        return list(injections) if injections is not None else [None] * n

    def generate(
        self,
        prompts: Sequence[str],
        seeds: Sequence[int],
        injections: Sequence[RowInjection] | None = None,
    ) -> list[str]:
        s = self.ctx.spec.sampling
        inj = self._rows(injections, len(prompts))

        def run(sl: slice) -> list[str]:
            gens = self.engine.generate(
                list(prompts[sl]),
                inj[sl],
                max_new_tokens=s.max_new_tokens,
                temperature=s.temperature,
                top_p=s.top_p,
                seeds=list(seeds[sl]),
            )
            return [g.text for g in gens]

        return self._chunks(len(prompts), run)

    def ids_of(self, label: str) -> list[int]:
        if label not in self._label_ids:
            self._label_ids[label] = first_token_ids(self.lm, label_spellings(label))
        return self._label_ids[label]

    def label_probs(
        self,
        prompts: Sequence[str],
        label_sets: Sequence[Sequence[str]],
        injections: Sequence[RowInjection] | None = None,
    ) -> list[dict[str, float]]:
        inj = self._rows(injections, len(prompts))

        def run(sl: slice) -> list[dict[str, float]]:
            lp = self.engine.next_token_logprobs(list(prompts[sl]), inj[sl])
            out = []
            for row, labs in zip(lp.exp(), label_sets[sl], strict=True):
                mass = {lab: float(row[self.ids_of(lab)].sum()) for lab in labs}
                total = sum(mass.values())
                out.append(
                    {k: (v / total if total > 0 else 1.0 / len(mass)) for k, v in mass.items()}
                )
            return out

        return self._chunks(len(prompts), run)

    def short_answers(self, prompts: Sequence[str]) -> list[str]:
        def run(sl: slice) -> list[str]:
            gens = self.engine.generate(
                list(prompts[sl]), max_new_tokens=SHORT_ANSWER_TOKENS, temperature=0.0
            )
            return [g.text for g in gens]

        return self._chunks(len(prompts), run)

    def encode(self, text: str) -> list[int]:
        return self.lm.encode(text)

    def decode(self, ids: Sequence[int]) -> str:
        text: str = self.lm.tokenizer.decode(list(ids), skip_special_tokens=True)
        return text

    def offsets(self, text: str) -> list[tuple[int, int]]:
        return self.engine.encode(text).offsets

    def capture_last(self, prompts: Sequence[str], layers: Sequence[int]) -> np.ndarray:
        def run(sl: slice) -> list[np.ndarray]:
            acts = self.engine.capture_last(list(prompts[sl]), list(layers))
            return list(acts.float().cpu().numpy())

        rows = self._chunks(len(prompts), run)
        if not rows:
            return np.zeros((0, len(layers), self.lm.hidden_size), dtype=np.float32)
        return np.stack(rows).astype(np.float32)

    def capture_tokens(
        self, texts: Sequence[str], spans: Sequence[tuple[int, int]], layer: int
    ) -> list[np.ndarray]:
        def run(sl: slice) -> list[np.ndarray]:
            wins = [Window.span(a, b) for a, b in spans[sl]]
            with torch.inference_mode():
                acts = self.engine.capture(list(texts[sl]), [layer], positions=wins)
            return [a[:, 0, :].float().cpu().numpy().astype(np.float32) for a in acts]

        return self._chunks(len(texts), run)
