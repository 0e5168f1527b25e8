"""Batched generation, logit readout and activation capture with per-row injections.

One :class:`Engine` wraps a :class:`~introscope.core.models.LoadedModel`. Every call takes a list
of prompts (already chat-templated text) and, per row, zero or more
:class:`~introscope.core.steering.Injection`s, and runs them as one batch.

How a batch runs (docs/engine.md explains each step and its exactness guarantees):

1. :mod:`introscope.core.batch`: each prompt is tokenized on its own and each row's windows
   are resolved to token ranges.
2. :mod:`introscope.core.prefix`: the prompt pass. The token prefix shared by all rows is
   run once (batch 1, no hooks, LRU-kept) and its KV cache copied to every row; rows
   injected inside it recompute it from their own injected position and layer up and are
   spliced in; the suffixes run in one pass, left-padded between prefix and suffix, with
   explicit positions keeping every real token at its true position.
3. :mod:`introscope.core.decode`: the decoding loop, greedy or sampled with a per-row
   ``torch.Generator``, telling the hooks the true position of each new column.
4. Here: the readouts, :meth:`Engine.generate`, :meth:`Engine.next_token_logprobs`,
   :meth:`Engine.continuation_logprobs`, :meth:`Engine.capture_last` and
   :meth:`Engine.capture`. Steering hooks are active only inside a readout and removed in
   ``finally``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

from introscope.core.batch import (
    EncodedPrompt,
    PreparedBatch,
    RowInjections,
    encode_prompt,
    padded_inputs,
    prepare_batch,
)
from introscope.core.decode import Sampler, decode_steps
from introscope.core.fast import compiled_model, fast_model
from introscope.core.forward import ModelForward
from introscope.core.layers import LayerSpec, block_output, resolve_layers
from introscope.core.models import LoadedModel
from introscope.core.prefix import PromptRunner
from introscope.core.steering import Positions, SteeringHooks, Window


@dataclass(frozen=True)
class Generation:
    """One row's completion."""

    text: str
    token_ids: tuple[int, ...]
    n_prompt_tokens: int
    finished: bool  # ended on an end-of-sequence token rather than the length limit


class Engine:
    """Runs batches with per-row injections on one model."""

    def __init__(
        self,
        lm: LoadedModel,
        *,
        prefix_cache_size: int = 4,
        fast: bool = False,
        compile: bool = False,
    ) -> None:
        """``fast=True``: fast mode (:mod:`introscope.core.fast`), the model in bfloat16
        where the hardware is fast at it (a converted copy if ``lm`` is float32) and no
        exactness kept when finished rows leave a batch. Exact mode is the default.
        ``compile=True`` (fast mode only: compiled code changes the last bits) also runs
        every decoder block through ``torch.compile``, uncompiled with a warning where
        compiling fails."""
        if compile and not fast:
            raise ValueError(
                "compile=True changes the results' last bits, so it is a fast-mode option: "
                "pass fast=True as well."
            )
        self.fast = fast
        self.mode = "fast" if fast else "exact"
        if fast:
            converted = fast_model(lm)
            lm = compiled_model(converted, owned=converted is not lm) if compile else converted
        self.lm = lm
        self.model = lm.model
        tok = lm.tokenizer
        eos: set[int] = set()
        for t in (tok.eos_token_id, getattr(self.model.generation_config, "eos_token_id", None)):
            if isinstance(t, int):
                eos.add(t)
            elif isinstance(t, list | tuple):
                eos.update(int(x) for x in t)
        self.eos_ids = eos
        self.pad_id = int(tok.pad_token_id if tok.pad_token_id is not None else min(eos, default=0))
        self._forward = ModelForward(self.model)
        self._prompts = PromptRunner(lm, self._forward, self.pad_id, cache_size=prefix_cache_size)
        self.stats = self._prompts.stats  # prefix reuse counters, updated in place
        self.decode_stats = {"row_compactions": 0}  # times finished rows left a batch
        # Finished rows leave the decoding batch (tests switch it off to compare).
        self.compact_rows = True

    @property
    def _can_skip_blocks(self) -> bool:
        """Whether rows injected inside a shared prefix skip the blocks below their lowest
        injected layer (tests switch it off to compare with the full recomputation)."""
        return self._prompts.can_skip_blocks

    @_can_skip_blocks.setter
    def _can_skip_blocks(self, value: bool) -> None:
        self._prompts.can_skip_blocks = value

    def clear_prefix_cache(self) -> None:
        """Forget every kept shared prefix (its KV cache and logits): needed whenever the
        weights change (:mod:`introscope.core.weight_noise`), since a kept prefix was computed
        with the old ones."""
        self._prompts.entries.clear()

    # ----------------------------------------------------------------- preparation
    def encode(self, text: str) -> EncodedPrompt:
        return encode_prompt(self.lm.tokenizer, text)

    def prepare(
        self,
        prompts: Sequence[str],
        injections: Sequence[RowInjections] | None,
        suffixes: Sequence[Sequence[int]] | None = None,
    ) -> PreparedBatch:
        """Tokenize and resolve (validating every injection) without running anything."""
        return prepare_batch(self.lm, prompts, injections, suffixes)

    def _batch_inputs(
        self, seqs: Sequence[Sequence[int]], prefix: int
    ) -> tuple[torch.Tensor, torch.Tensor, Positions]:
        """The padded inputs the engine builds for ``seqs`` after a ``prefix``-token prefix."""
        return padded_inputs(seqs, prefix, self.pad_id, self.lm.device)

    def _hooks(self, prep: PreparedBatch) -> SteeringHooks | None:
        if not any(prep.resolved):
            return None
        return SteeringHooks(self.lm.layers, prep.resolved, self.lm.device, self.lm.dtype)

    @contextmanager
    def _maybe_active(self, hooks: SteeringHooks | None) -> Iterator[None]:
        if hooks is None:
            yield
        else:
            with hooks.active():
                yield

    # ----------------------------------------------------------------- readouts
    @torch.inference_mode()
    def generate(
        self,
        prompts: Sequence[str],
        injections: Sequence[RowInjections] | None = None,
        *,
        max_new_tokens: int = 48,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seeds: Sequence[int] | None = None,
        use_cache: bool = True,
        reuse_prefix: bool = True,
        ignore_eos: bool = False,
    ) -> list[Generation]:
        """Generate for every prompt in one batch; row ``i`` gets ``injections[i]``.

        ``ignore_eos=True`` (for benchmarks) sets the end-of-sequence logits to ``-inf`` at
        every step, as Hugging Face's ``min_new_tokens`` does, so every row produces exactly
        ``max_new_tokens`` tokens.
        """
        if temperature < 0 or not 0 < top_p <= 1:
            raise ValueError("temperature must be >= 0 and top_p in (0, 1].")
        prep = self.prepare(prompts, injections)
        sampler = Sampler.seeded(temperature, top_p, seeds, len(prompts), self.lm.device)
        hooks = self._hooks(prep)
        seqs = [r.ids for r in prep.rows]
        with self._maybe_active(hooks):
            first = self._prompts.run(
                prep,
                hooks,
                reuse_prefix=reuse_prefix,
                use_cache=use_cache,
                last_only=True,
                reserve_tokens=max_new_tokens - 1,
                logits_only=True,
            )
            decoded = decode_steps(
                self._forward,
                first,
                hooks,
                sampler,
                prompt_lengths=[len(s) for s in seqs],
                max_new_tokens=max_new_tokens,
                stop_ids=self.eos_ids,
                ignore_eos=ignore_eos,
                rerun_ids=None if use_cache else self._batch_inputs(seqs, 0)[0],
                compact=self.compact_rows,
                exact_rows=not self.fast,
            )
        self.decode_stats["row_compactions"] += decoded.compactions
        tok = self.lm.tokenizer
        return [
            Generation(
                text=tok.decode(ts, skip_special_tokens=True),
                token_ids=tuple(ts),
                n_prompt_tokens=len(seqs[r]),
                finished=decoded.finished[r],
            )
            for r, ts in enumerate(decoded.tokens)
        ]

    @torch.inference_mode()
    def next_token_logprobs(
        self,
        prompts: Sequence[str],
        injections: Sequence[RowInjections] | None = None,
        *,
        reuse_prefix: bool = True,
    ) -> torch.Tensor:
        """Log-probabilities ``[B, vocab]`` of the token after each prompt (one forward)."""
        prep = self.prepare(prompts, injections)
        hooks = self._hooks(prep)
        with self._maybe_active(hooks):
            first = self._prompts.run(
                prep,
                hooks,
                reuse_prefix=reuse_prefix,
                use_cache=True,
                last_only=True,
                logits_only=True,
            )
        return torch.log_softmax(first.logits[:, -1, :].float(), dim=-1)

    @torch.inference_mode()
    def continuation_logprobs(
        self,
        prompts: Sequence[str],
        continuations: Sequence[str],
        injections: Sequence[RowInjections] | None = None,
        *,
        reuse_prefix: bool = True,
    ) -> list[float]:
        """Total log-probability of each continuation text after its prompt.

        Continuation tokens sit after the prompt, so an open-ended window (``from``/``all``)
        covers them as it would generated tokens.
        """
        if len(continuations) != len(prompts):
            raise ValueError("Give one continuation per prompt.")
        cont_ids = [
            self.lm.tokenizer(c, add_special_tokens=False)["input_ids"] for c in continuations
        ]
        if any(len(c) == 0 for c in cont_ids):
            raise ValueError("A continuation is empty.")
        prep = self.prepare(prompts, injections, suffixes=cont_ids)
        hooks = self._hooks(prep)
        # Only the last n+1 columns predict a continuation token: the output head and the
        # log-softmax run on those (the rows are right-aligned, whatever their padding).
        keep = max(len(c) for c in cont_ids) + 1
        with self._maybe_active(hooks):
            scored = self._prompts.run(
                prep, hooks, reuse_prefix=reuse_prefix, use_cache=True, last_only=False, keep=keep
            )
        logp = torch.log_softmax(scored.logits[:, -keep:, :].float(), dim=-1)
        width = logp.shape[1]
        totals = []
        for r, c in enumerate(cont_ids):
            n = len(c)
            # Column j predicts the token at column j+1; the continuation occupies the last n
            # columns, so its tokens are predicted by columns width-n-1 .. width-2.
            cols = torch.arange(width - n - 1, width - 1, device=logp.device)
            tgt = torch.tensor(c, device=logp.device)
            totals.append(float(logp[r, cols, tgt].sum()))
        return totals

    @torch.inference_mode()
    def capture_last(
        self,
        prompts: Sequence[str],
        layers: LayerSpec | Sequence[LayerSpec],
        *,
        injections: Sequence[RowInjections] | None = None,
        reuse_prefix: bool = False,
    ) -> torch.Tensor:
        """Residual-stream activations (decoder-block outputs) at ``layers`` at each prompt's
        last token: ``[B, n_layers, d]``. With injections, activations are read after the
        injection at the same layer."""
        idx = resolve_layers(layers, self.lm.n_layers)
        prep = self.prepare(prompts, injections)
        spans = [(len(row.ids) - 1, len(row.ids)) for row in prep.rows]
        return torch.stack([x[0] for x in self._capture(prep, idx, spans, reuse_prefix)])

    @torch.inference_mode()
    def capture(
        self,
        prompts: Sequence[str],
        layers: LayerSpec | Sequence[LayerSpec],
        *,
        positions: str | Window | Sequence[Window] = "all",
        injections: Sequence[RowInjections] | None = None,
        reuse_prefix: bool = False,
    ) -> list[torch.Tensor]:
        """Residual-stream activations (decoder-block outputs) at ``layers``, one tensor
        ``[n_tok_i, n_layers, d]`` per row.

        ``positions``: ``"all"`` (every prompt token); any other string is a substring of
        the prompt whose tokens are returned, as is a :class:`Window` (``span`` kind) or one
        Window per row. The last token alone is :meth:`capture_last`. With injections,
        activations are read after the injection at the same layer. Left padding is handled
        by true positions, so each row matches its unpadded run.
        """
        if positions == "last":
            raise ValueError("positions='last' is capture_last(), which returns [B, n_layers, d].")
        idx = resolve_layers(layers, self.lm.n_layers)
        prep = self.prepare(prompts, injections)
        spans: list[tuple[int, int]] = []
        for r, row in enumerate(prep.rows):
            if positions == "all":
                spans.append((0, len(row.ids)))
                continue
            if isinstance(positions, str):
                win = Window.span_marker(positions)
            elif isinstance(positions, Window):
                win = positions
            else:
                win = positions[r]
            spans.append(win.resolve(len(row.ids), row.offsets, row.text))
        return self._capture(prep, idx, spans, reuse_prefix)

    @torch.inference_mode()
    def capture_mean(
        self,
        prompts: Sequence[str],
        layers: LayerSpec | Sequence[LayerSpec],
        *,
        positions: str | Window | Sequence[Window],
        injections: Sequence[RowInjections] | None = None,
        reuse_prefix: bool = False,
    ) -> torch.Tensor:
        """Mean-pooled residual-stream activations over a span of each prompt:
        ``[B, n_layers, d]``, the mean over the tokens :meth:`capture` returns for
        ``positions`` (a substring, a Window, or one Window per row)."""
        rows = self.capture(
            prompts, layers, positions=positions, injections=injections, reuse_prefix=reuse_prefix
        )
        return torch.stack([r.mean(dim=0) for r in rows])

    def _capture(
        self,
        prep: PreparedBatch,
        layers: Sequence[int],
        spans: Sequence[tuple[int, int]],
        reuse_prefix: bool,
    ) -> list[torch.Tensor]:
        """Block outputs ``[n_tok, len(layers), d]`` of each row's tokens ``[start, end)``."""
        hooks = self._hooks(prep)
        grabbed: dict[int, torch.Tensor] = {}
        handles = []

        def grab(layer: int) -> Any:
            def hook(_m: Any, _a: Any, output: Any) -> None:
                grabbed[layer] = block_output(output).detach()

            return hook

        with self._maybe_active(hooks):
            try:
                for layer in layers:
                    handles.append(self.lm.layers[layer].register_forward_hook(grab(layer)))
                pos = self._prompts.run(
                    prep, hooks, reuse_prefix=reuse_prefix, use_cache=reuse_prefix, last_only=True
                ).positions
            finally:
                for h in handles:
                    h.remove()
        stacked = torch.stack([grabbed[layer] for layer in layers], dim=2)  # [B, S, L, d]
        results = []
        for r, (s, e) in enumerate(spans):
            cols = ((pos.position[r] >= s) & (pos.position[r] < e) & pos.valid[r]).nonzero()
            results.append(stacked[r, cols[:, 0]].float())
        return results
