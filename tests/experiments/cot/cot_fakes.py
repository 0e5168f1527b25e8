"""Fakes for the chain-of-thought procedures: a language model whose chains, answers and
activations follow rules the test writes, so every table has a known answer.

Tokens are whitespace-led words (``" Step"``, ``" 1:"``, ``"\\n"`` folded into the next
word), so truncation points and statement positions are easy to count by hand.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from introscope.experiments.base import Trial, TrialResult
from introscope.experiments.cot.format import label_option, labels
from introscope.experiments.cot.prompts import CUE, OPENER
from introscope.items import Item
from introscope.store import write_batch_arrays

TOKEN = re.compile(r"\s*\S+|\s+$")

Writer = Callable[[str], str]  # prompt -> continuation
Answerer = Callable[[str, Sequence[str]], str]  # readout prompt, labels -> label
Activation = Callable[[str], np.ndarray]  # prompt -> [d]


class FakeLM:
    """What the prompt builders use of a LoadedModel."""

    def chat_prompt(self, user: Any, *, system: str | None = None, prefill: str = "") -> str:
        turns = [("user", user)] if isinstance(user, str) else list(user)
        return "".join(f"<{r}>{c}</{r}>" for r, c in turns) + "<assistant>" + prefill


class FakeReasoner:
    def __init__(
        self,
        writer: Writer,
        answerer: Answerer,
        activation: Activation | None = None,
        d: int = 8,
    ) -> None:
        self.writer = writer
        self.answerer = answerer
        self.activation = activation or (lambda _p: np.zeros(d))
        self.generated: list[str] = []
        self.vocab: dict[int, str] = {}

    def generate(
        self, prompts: Sequence[str], seeds: Sequence[int], injections: Any = None
    ) -> list[str]:
        self.generated += list(prompts)
        return [self.writer(p) for p in prompts]

    def label_probs(
        self, prompts: Sequence[str], label_sets: Sequence[Sequence[str]], injections: Any = None
    ) -> list[dict[str, float]]:
        out = []
        for p, labs in zip(prompts, label_sets, strict=True):
            pick = self.answerer(p, labs)
            rest = (1.0 - 0.9) / max(1, len(labs) - 1)
            out.append({lab: 0.9 if lab == pick else rest for lab in labs})
        return out

    def short_answers(self, prompts: Sequence[str]) -> list[str]:
        return [self.answerer(p, ()) for p in prompts]

    def encode(self, text: str) -> list[int]:
        ids = []
        for m in TOKEN.finditer(text):
            tid = hash(m.group(0))
            self.vocab[tid] = m.group(0)
            ids.append(tid)
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.vocab[i] for i in ids)

    def offsets(self, text: str) -> list[tuple[int, int]]:
        return [(m.start(), m.end()) for m in TOKEN.finditer(text)]

    def capture_last(self, prompts: Sequence[str], layers: Sequence[int]) -> np.ndarray:
        return np.stack([np.stack([self.activation(p)] * len(layers)) for p in prompts])

    def capture_tokens(
        self, texts: Sequence[str], spans: Sequence[tuple[int, int]], layer: int
    ) -> list[np.ndarray]:
        out = []
        for text, (a, b) in zip(texts, spans, strict=True):
            offs = self.offsets(text)
            out.append(np.stack([self.activation(text[: offs[i][1]]) for i in range(a, b)]))
        return out


def chain_of(prompt: str) -> str:
    """The chain part of a readout prompt (after the opener, before the cue)."""
    body = prompt.split(OPENER, 1)[-1]
    return body[: -len(CUE)] if body.endswith(CUE) else body


def option_label(item: Item, value: str) -> str | None:
    for lab in labels(item):
        if label_option(item, lab) == value:
            return lab
    return None


def records_from(
    trial_records: Any,
    experiment: str,
    trials: Sequence[Trial],
    results: Sequence[TrialResult],
    run_dir: Any = None,
    spec_name: str = "s",
) -> Any:
    """A TrialRecords of the trials' conditions and results (arrays written beside
    ``run_dir`` when given); returns the builder."""
    recs = trial_records()
    arrays = {}
    for t, r in zip(trials, results, strict=True):
        rec = recs.add(
            experiment,
            dict(t.condition),
            response=r.response,
            grades=r.grades,
            logits=r.readout,
            prompt=t.prompt,
        )
        if r.arrays:
            arrays[rec.trial_id] = r.arrays
    if run_dir is not None:
        recs.write(run_dir)
        write_batch_arrays(run_dir, spec_name, 0, arrays)
    return recs
