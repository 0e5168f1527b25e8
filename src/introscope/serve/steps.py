"""Per-step control of an :meth:`Engine.generate` batch: early ends, streaming, log-probs.

``Engine.generate`` runs its own decoding loop and returns once every row has ended. The
server needs more from each step: end a row when its stop string appears, its budget is
spent, its client has gone or its time is up; stream its new text; record log-probs; and
notice a row whose values went non-finite before that row's NaN reaches the sampler. A
forward hook on the model sees every decoding step: its input holds the tokens chosen at
the previous step and its output holds the logits the next choice is made from. Forcing an
end-of-sequence token in one row of those logits ends that row exactly as if the model had
chosen it (the engine ends a row at EOS and the batch once every row has ended); the other
rows' logits are not touched, so batchmates decode as they would have.

A decoding step is recognised by its shape and positions: input ids ``[B, 1]`` at or past
every row's prompt length (the prompt passes only cover earlier positions). A call that
does not look like one is left alone; were the engine ever to call the model differently,
rows would simply run to their budget and the worker would cut them afterwards (slower,
same text).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import torch

from introscope.core.models import LoadedModel
from introscope.serve.jobs import Job, TokenLogprob

Ending = Literal["eos", "stop", "length", "cancelled", "timeout", "non_finite"]


def eos_token_ids(lm: LoadedModel) -> set[int]:
    """The token ids that end a row (the tokenizer's and the generation config's)."""
    eos: set[int] = set()
    config = getattr(lm.model, "generation_config", None)
    for t in (lm.tokenizer.eos_token_id, getattr(config, "eos_token_id", None)):
        if isinstance(t, int):
            eos.add(t)
        elif isinstance(t, list | tuple):
            eos.update(int(x) for x in t)
    return eos


def first_stop(text: str, stops: tuple[str, ...]) -> int | None:
    """Index where the earliest stop string starts in ``text`` (None: none occurs)."""
    found = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(found) if found else None


class RowControl:
    """One row of a batch being decoded: its tokens so far and why it ended."""

    def __init__(self, job: Job, tokenizer: Any, eos_ids: set[int]) -> None:
        self.job = job
        self.tokenizer = tokenizer
        self.eos_ids = eos_ids
        self.tokens: list[int] = []
        self.ending: Ending | None = None
        self.forced = False  # an end-of-sequence token was forced into this row's logits
        self.logprobs: list[TokenLogprob] = []
        self.pending: torch.Tensor | None = None  # log-probs of the row's next choice
        self.text = ""
        # Text that may still turn into the start of a stop string is held back from the
        # stream, as is a trailing partial UTF-8 character.
        self.hold = max((len(s) for s in job.stop), default=1) - 1

    def remember(self, logits: torch.Tensor) -> None:
        if self.job.top_logprobs is not None:
            self.pending = torch.log_softmax(logits.float(), dim=-1)

    def accept(self, token: int) -> None:
        """The token chosen for this row at the previous step."""
        if token in self.eos_ids:
            self.ending = "eos"
            return
        offset = len(self.text)
        self.tokens.append(token)
        if not self.job.wants_text:
            return
        self.text = self.tokenizer.decode(self.tokens, skip_special_tokens=True)
        if self.pending is not None:
            self.logprobs.append(logprob_entry(self.pending, token, self.job.top_logprobs, offset))
            self.pending = None
        cut = first_stop(self.text, self.job.stop)
        if cut is not None:
            self.ending = "stop"
            self.job.offer(self.text[:cut])
            return
        safe = len(self.text) - self.hold
        while safe > 0 and self.text[safe - 1] == "\ufffd":
            safe -= 1
        self.job.offer(self.text[:safe])

    def check(self, finite: bool, now: float) -> None:
        """End the row if its values went non-finite or it has no reason to go on."""
        if not finite:
            self.ending = "non_finite"
        elif len(self.tokens) >= self.job.max_tokens:
            self.ending = "length"
        elif self.job.cancelled.is_set():
            self.ending = "cancelled"
        elif now > self.job.deadline:
            self.ending = "timeout"


def logprob_entry(logprobs: torch.Tensor, token: int, top: int | None, offset: int) -> TokenLogprob:
    k = min(top or 0, logprobs.shape[-1])
    best = torch.topk(logprobs, k) if k else None
    pairs = tuple(zip(best.indices.tolist(), best.values.tolist(), strict=True)) if best else ()
    return TokenLogprob(token, float(logprobs[token]), pairs, offset)


class StepController:
    """A forward hook that steers the rows of one ``generate`` call (see the module doc)."""

    def __init__(self, rows: list[RowControl], eos_ids: set[int]) -> None:
        self.rows = rows
        self.force_id = min(eos_ids) if eos_ids else None
        self.steps = 0

    @contextmanager
    def attached(self, model: torch.nn.Module) -> Iterator[StepController]:
        handle = model.register_forward_hook(self._hook, with_kwargs=True)
        try:
            yield self
        finally:
            handle.remove()

    def _is_step(self, ids: Any, positions: Any, logits: Any) -> bool:
        b = len(self.rows)
        if not all(isinstance(t, torch.Tensor) for t in (ids, positions, logits)):
            return False
        if tuple(ids.shape) != (b, 1) or positions.shape[0] != b or logits.shape[0] != b:
            return False
        pos = positions[:, -1].tolist()
        return all(p >= row.job.n_prompt_tokens for p, row in zip(pos, self.rows, strict=True))

    def _hook(self, _module: Any, _args: Any, kwargs: dict[str, Any], output: Any) -> None:
        ids, logits = kwargs.get("input_ids"), getattr(output, "logits", None)
        if not self._is_step(ids, kwargs.get("position_ids"), logits):
            return
        assert isinstance(ids, torch.Tensor) and isinstance(logits, torch.Tensor)
        self.steps += 1
        chosen = ids[:, 0].tolist()
        last = logits[:, -1, :]
        finite = torch.isfinite(last).all(dim=-1).tolist()
        now = time.monotonic()
        for r, row in enumerate(self.rows):
            if row.ending is None:
                row.accept(chosen[r])
            if row.ending is None:
                row.check(finite[r], now)
            if row.ending is None:
                row.remember(last[r])
            elif row.ending != "eos" and not row.forced and self.force_id is not None:
                # In place: the engine reads these logits after the hook returns.
                last[r].fill_(float("-inf"))
                last[r, self.force_id] = 0.0
                row.forced = True
