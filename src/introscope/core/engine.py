"""Batched generation, logit readout and activation capture with per-row injections.

One :class:`Engine` wraps a :class:`~introscope.core.models.LoadedModel`. Every call takes a list
of prompts (already chat-templated text) and, per row, zero or more
:class:`~introscope.core.steering.Injection`s, and runs them as one batch.

How a batch runs:

1. Each prompt is tokenized on its own; windows are resolved to token ranges per row.
2. **Shared-prefix reuse.** The longest token prefix common to all rows (less each row's
   last prompt token, unless every row is the same prompt) is run once (batch 1, no hooks)
   and its KV cache is copied to every row, with room reserved for what follows. Prefixes
   are kept in a small LRU, so a sweep over one preamble computes it once. Rows injected
   inside the prefix recompute it from their first injected position, with their hooks,
   through the blocks from their lowest injected layer up (the blocks below would compute
   exactly the hook-free values), and their keys/values are spliced in. Rows then differ
   only in their suffixes, which are left-padded *between* the prefix and the suffix;
   explicit ``position_ids`` keep every real token at its true position.
3. The suffix pass and every decoding step run with the steering hooks active; the engine
   tells the hooks the true position of each column before each forward call. The KV cache
   is given room for all decoding steps up front (:mod:`introscope.core.kv_cache`), so a step
   writes one column instead of copying the cache.
4. Greedy decoding, or sampling with a per-row ``torch.Generator`` so a row's draws never
   depend on its batchmates.
"""

from __future__ import annotations

import inspect
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from introscope.core.kv_cache import expanded, reserve
from introscope.core.layers import LayerSpec, block_output, resolve_layers
from introscope.core.models import LoadedModel
from introscope.core.steering import (
    Injection,
    Positions,
    ResolvedInjection,
    SteeringHooks,
    Window,
    resolve_injection,
)

RowInjections = Injection | Sequence[Injection] | None


@dataclass(frozen=True)
class Generation:
    """One row's completion."""

    text: str
    token_ids: tuple[int, ...]
    n_prompt_tokens: int
    finished: bool  # ended on an end-of-sequence token rather than the length limit


@dataclass
class _Encoded:
    ids: list[int]
    offsets: list[tuple[int, int]]
    text: str


@dataclass
class _Prepared:
    """A batch after tokenization and window resolution."""

    rows: list[_Encoded]
    resolved: list[list[ResolvedInjection]]
    prompt_lens: list[int]  # before any appended continuation tokens


def _as_list(inj: RowInjections) -> list[Injection]:
    if inj is None:
        return []
    if isinstance(inj, Injection):
        return [inj]
    return list(inj)


def _cache_layers(cache: Any) -> list[Any]:
    """Per-layer cache objects with ``keys``/``values`` tensors (transformers >= 4.56)."""
    layers = getattr(cache, "layers", None)
    if not layers or not all(hasattr(x, "keys") and hasattr(x, "values") for x in layers):
        raise TypeError("This transformers cache does not expose per-layer keys/values.")
    return list(layers)


def common_prefix_len(seqs: Sequence[Sequence[int]]) -> int:
    first = seqs[0]
    n = min(len(s) for s in seqs)
    for i in range(n):
        t = first[i]
        if any(s[i] != t for s in seqs):
            return i
    return n


@dataclass
class _PrefixEntry:
    """A shared prefix run once, hook-free, at batch 1."""

    cache: Any  # its KV cache
    logits: torch.Tensor  # [1, vocab]: next-token logits after its last token
    residual: dict[int, torch.Tensor]  # block -> [n, d] output, for the blocks asked for


@dataclass
class _PromptPass:
    """What the prompt pass hands to generation or scoring."""

    logits: torch.Tensor  # [B, T, vocab]; T == 1 when only the last position was kept
    cache: Any
    mask: torch.Tensor  # [B, columns] attention mask over everything cached so far
    positions: Positions  # true positions / validity of the columns just run


# Families whose decoder loop hands each block only the previous block's hidden state (no
# cross-block cache sharing), so blocks below an injection may be stood in for by their
# stored hook-free outputs. Only families checked against the full recomputation in
# tests/test_prefix_shortcuts.py are listed; any other architecture runs every block.
SEQUENTIAL_BLOCK_FAMILIES = frozenset(
    {"llama", "mistral", "qwen2", "qwen3", "gemma2", "gemma3_text", "phi3", "gpt2", "gpt_neox"}
)


@contextmanager
def _skipping_blocks(
    layers: nn.ModuleList, below: int, hidden: torch.Tensor | None
) -> Iterator[None]:
    """Blocks ``0..below-1`` return ``hidden`` without computing (or touching the cache).

    Only the last of them matters: its output is the next block's input. An instance-level
    ``forward`` (accelerate installs one for offloading) is put back afterwards.
    """
    if below == 0:
        yield
        return
    assert hidden is not None

    def stand_in(*_args: Any, **_kwargs: Any) -> torch.Tensor:
        return hidden

    saved = [layers[j].__dict__.get("forward") for j in range(below)]
    try:
        for j in range(below):
            layers[j].forward = stand_in
        yield
    finally:
        for j, old in enumerate(saved):
            if old is None:
                layers[j].__dict__.pop("forward", None)
            else:
                layers[j].forward = old


class Engine:
    """Runs batches with per-row injections on one model."""

    def __init__(self, lm: LoadedModel, *, prefix_cache_size: int = 4) -> None:
        self.lm = lm
        self.model = lm.model
        params = inspect.signature(self.model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        self._has_logits_to_keep = "logits_to_keep" in params
        self._prefix_cache: OrderedDict[tuple[int, ...], Any] = OrderedDict()
        self._prefix_cache_size = prefix_cache_size
        # Splicing per-row prefix caches needs the per-layer cache API; without it the
        # shared prefix stops before the earliest injected position instead.
        try:
            from transformers import DynamicCache

            _cache_layers(DynamicCache(config=self.model.config))
            self._can_splice = True
        except Exception:
            self._can_splice = False
        model_type = str(getattr(self.model.config, "model_type", ""))
        self._can_skip_blocks = self._can_splice and model_type in SEQUENTIAL_BLOCK_FAMILIES
        self.stats = {
            "prefix_hits": 0,
            "prefix_misses": 0,
            "prefix_tokens_reused": 0,
            "block_tokens_skipped": 0,  # (row, block, token) triples stood in for
            "prompts_whole_in_prefix": 0,  # batches that needed no pass after the prefix
        }
        tok = lm.tokenizer
        eos: set[int] = set()
        for t in (tok.eos_token_id, getattr(self.model.generation_config, "eos_token_id", None)):
            if isinstance(t, int):
                eos.add(t)
            elif isinstance(t, list | tuple):
                eos.update(int(x) for x in t)
        self.eos_ids = eos
        self.pad_id = int(tok.pad_token_id if tok.pad_token_id is not None else min(eos, default=0))

    # ----------------------------------------------------------------- preparation
    def encode(self, text: str) -> _Encoded:
        enc = self.lm.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        offsets = [(int(a), int(b)) for a, b in enc["offset_mapping"]]
        return _Encoded(list(enc["input_ids"]), offsets, text)

    def prepare(
        self,
        prompts: Sequence[str],
        injections: Sequence[RowInjections] | None,
        suffixes: Sequence[Sequence[int]] | None = None,
    ) -> _Prepared:
        if injections is None:
            injections = [None] * len(prompts)
        if len(injections) != len(prompts):
            raise ValueError("Give one injection entry (or None) per prompt.")
        rows = [self.encode(p) for p in prompts]
        plens = [len(r.ids) for r in rows]
        resolved = []
        for i, (row, inj) in enumerate(zip(rows, injections, strict=True)):
            # Windows are resolved against the prompt; appended continuation tokens (for
            # scoring) count as "generated" positions.
            plen = len(row.ids)
            checked = [
                (
                    x,
                    resolve_injection(
                        x, self.lm.n_layers, self.lm.hidden_size, plen, row.offsets, row.text
                    ),
                )
                for x in _as_list(inj)
            ]
            # A zero-strength injection is exactly no injection: drop it (after validating
            # it), so the row runs the unhooked computation bit for bit.
            resolved.append([r for x, r in checked if x.strength != 0])
            if suffixes is not None:
                row.ids = row.ids + list(suffixes[i])
        return _Prepared(rows, resolved, plens)

    # ----------------------------------------------------------------- forward plumbing
    def _forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        position_ids: torch.Tensor,
        cache: Any,
        *,
        use_cache: bool,
        last_only: bool,
    ) -> Any:
        kwargs: dict[str, Any] = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "position_ids": position_ids,
            "use_cache": use_cache,
            self._cache_kw: cache,
        }
        if last_only and self._has_logits_to_keep:
            kwargs["logits_to_keep"] = 1
        return self.model(**kwargs)

    def _out_cache(self, out: Any) -> Any:
        return getattr(out, "cache", None) or getattr(out, "past_key_values", None)

    def _prefix(
        self,
        key: tuple[int, ...],
        batch: int,
        room: int,
        residual_layers: Sequence[int] = (),
    ) -> tuple[Any, _PrefixEntry]:
        """The hook-free pass over ``key`` (computed once, LRU-kept) and a copy of its KV
        cache for ``batch`` rows with ``room`` more tokens reserved. ``residual_layers``:
        block outputs to keep as well."""
        entry = self._prefix_cache.get(key)
        missing = [j for j in residual_layers if entry is None or j not in entry.residual]
        if entry is None:
            self.stats["prefix_misses"] += 1
            entry = self._prefix_pass(key, missing)
            self._prefix_cache[key] = entry
            while len(self._prefix_cache) > self._prefix_cache_size:
                self._prefix_cache.popitem(last=False)
        else:
            self.stats["prefix_hits"] += 1
            self._prefix_cache.move_to_end(key)
            if missing:  # kept from a call that needed other layers: one more batch-1 pass
                entry.residual.update(self._prefix_pass(key, missing).residual)
        self.stats["prefix_tokens_reused"] += len(key) * batch
        return expanded(entry.cache, batch, room), entry

    def _prefix_pass(self, key: tuple[int, ...], residual_layers: Sequence[int]) -> _PrefixEntry:
        dev = self.lm.device
        n = len(key)
        residual: dict[int, torch.Tensor] = {}
        handles = []

        def keep(layer: int) -> Any:
            def hook(_m: Any, _a: Any, output: Any) -> None:
                # Only a block that hands on nothing but its hidden state can be stood in
                # for by a stored one (see _skipping_blocks).
                if isinstance(output, torch.Tensor):
                    residual[layer] = output[0].detach().clone()

            return hook

        try:
            for j in residual_layers:
                handles.append(self.lm.layers[j].register_forward_hook(keep(j)))
            out = self._forward(
                torch.tensor([list(key)], device=dev),
                torch.ones(1, n, dtype=torch.long, device=dev),
                torch.arange(n, device=dev)[None],
                None,
                use_cache=True,
                last_only=True,
            )
        finally:
            for h in handles:
                h.remove()
        return _PrefixEntry(self._out_cache(out), out.logits[:, -1, :], residual)

    def _prefix_len(self, prep: _Prepared, *, whole: bool) -> int:
        """Shared prefix length: depends on the tokens only, never on the injections, so a
        row's computation does not depend on what its batchmates inject.

        Rows keep their last prompt token out of the prefix (its logits are needed), unless
        ``whole`` and every row is the same prompt: then the prefix pass's own last logits
        serve every row and no suffix pass is needed.
        """
        ids = [r.ids for r in prep.rows]
        p = common_prefix_len(ids)
        if whole and all(len(s) == p for s in ids) and prep.prompt_lens == [p] * len(ids):
            return p
        p = min(p, min(prep.prompt_lens) - 1)
        return max(p, 0)

    def _prefix_groups(self, hooks: SteeringHooks, n: int) -> dict[tuple[int, int], list[int]]:
        """Rows injected inside a prefix of ``n`` tokens, grouped by (first injected
        position, layers to skip). A row's blocks below its lowest injected layer compute
        exactly what the hook-free prefix pass did, so they are skipped where the
        architecture allows it."""
        skip_ok = self._can_skip_blocks
        groups: dict[tuple[int, int], list[int]] = {}
        for r, (start, low) in enumerate(
            zip(hooks.row_starts(), hooks.row_lowest_layers(), strict=True)
        ):
            if start < n:
                groups.setdefault((start, low if skip_ok else 0), []).append(r)
        return groups

    def _injected_prefix(
        self,
        cache: Any,
        entry: _PrefixEntry,
        key: tuple[int, ...],
        hooks: SteeringHooks,
        groups: dict[tuple[int, int], list[int]],
    ) -> dict[int, torch.Tensor]:
        """Recompute, with hooks, the part of the shared prefix that rows injected inside it
        see differently, and splice their keys/values into the batch cache.

        A group (first injected position ``s``, skipped blocks ``m``) reuses the hook-free
        cache up to ``s``, feeds block ``m`` the stored hook-free output of block ``m-1``
        for tokens ``s..P-1``, and runs blocks ``m..`` with its injections; blocks below
        ``m`` keep the hook-free cache, which is what they would recompute. Rows without an
        injection inside the prefix keep the hook-free cache untouched. Returns each
        recomputed row's logits after the prefix's last token.
        """
        n = len(key)
        dev = self.lm.device
        logits: dict[int, torch.Tensor] = {}
        for (start, skip), rows in sorted(groups.items()):
            k = len(rows)
            if skip and (skip - 1) not in entry.residual:
                skip = 0  # the block's output was not a plain tensor: run every block
            base = None
            if start > 0:
                hooks.paused = True
                try:
                    base, _ = self._prefix(key[:start], k, n - start)
                finally:
                    hooks.paused = False
            ids = torch.tensor([list(key[start:])] * k, device=dev)
            position = torch.arange(start, n, device=dev)[None].expand(k, n - start)
            hooks.positions = Positions(
                position,
                torch.ones_like(position, dtype=torch.bool),
                torch.tensor(rows, device=dev),
            )
            stand_in = None
            if skip:
                self.stats["block_tokens_skipped"] += skip * k * (n - start)
                stand_in = entry.residual[skip - 1][start:n].expand(k, -1, -1).contiguous()
            with _skipping_blocks(self.lm.layers, skip, stand_in):
                out = self._forward(
                    ids,
                    torch.ones(k, n, dtype=torch.long, device=dev),
                    position,
                    base,
                    use_cache=True,
                    last_only=True,
                )
            index = torch.tensor(rows, device=dev)
            layers = zip(_cache_layers(cache), _cache_layers(self._out_cache(out)), strict=True)
            for j, (mine, theirs) in enumerate(layers):
                if j >= skip:
                    mine.keys[index] = theirs.keys
                    mine.values[index] = theirs.values
            for i, r in enumerate(rows):
                logits[r] = out.logits[i, -1, :]
        return logits

    def _batch_inputs(
        self, seqs: Sequence[Sequence[int]], prefix: int
    ) -> tuple[torch.Tensor, torch.Tensor, Positions]:
        """Left-pad the suffixes after a shared prefix of length ``prefix``.

        Returns input ids ``[B, S]``, the 2-D attention mask over ``prefix + S`` columns,
        and the true positions / validity of the ``S`` suffix columns.
        """
        dev = self.lm.device
        suffixes = [list(s[prefix:]) for s in seqs]
        width = max(len(s) for s in suffixes)
        b = len(seqs)
        ids = torch.full((b, width), self.pad_id, dtype=torch.long)
        valid = torch.zeros(b, width, dtype=torch.bool)
        position = torch.zeros(b, width, dtype=torch.long)
        for r, s in enumerate(suffixes):
            n = len(s)
            if n:
                ids[r, width - n :] = torch.tensor(s)
                valid[r, width - n :] = True
                position[r, width - n :] = torch.arange(prefix, prefix + n)
        mask = torch.cat([torch.ones(b, prefix, dtype=torch.long), valid.long()], dim=1)
        return ids.to(dev), mask.to(dev), Positions(position.to(dev), valid.to(dev))

    def _hooks(self, prep: _Prepared) -> SteeringHooks | None:
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

    def _run_prompt(
        self,
        prep: _Prepared,
        hooks: SteeringHooks | None,
        *,
        reuse_prefix: bool,
        use_cache: bool,
        last_only: bool,
        reserve_tokens: int = 0,
        logits_only: bool = False,
    ) -> _PromptPass:
        """Forward the whole prompt batch.

        ``reserve_tokens``: decoding steps to follow; the KV cache gets room for them (and
        for the suffix) up front, so no step copies it. ``logits_only``: the caller needs
        the last logits and the cache but no forward pass over the last tokens (forward
        hooks of its own), so a batch of one repeated prompt may take everything from the
        shared prefix.
        """
        seqs = [r.ids for r in prep.rows]
        may_take_all = logits_only and last_only
        prefix = self._prefix_len(prep, whole=may_take_all) if (reuse_prefix and use_cache) else 0
        if prefix > 0 and hooks is not None and not self._can_splice:
            prefix = min(prefix, hooks.earliest_start())  # older caches: stop at injections
        if prefix == 0:
            ids, mask, pos = self._batch_inputs(seqs, 0)
            if hooks is not None:
                hooks.positions = pos
            out = self._forward(
                ids, mask, pos.position, None, use_cache=use_cache, last_only=last_only
            )
            cache = self._out_cache(out) if use_cache else None
            if cache is not None and reserve_tokens > 0:
                reserve(cache, reserve_tokens)
            return _PromptPass(out.logits, cache, mask, pos)
        key = tuple(seqs[0][:prefix])
        whole = all(len(s) == prefix for s in seqs)  # nothing after the prefix
        ids, mask, pos = self._batch_inputs(seqs, prefix)
        groups = self._prefix_groups(hooks, prefix) if hooks is not None else {}
        wanted = sorted({skip - 1 for _start, skip in groups if skip > 0})
        room = (0 if whole else ids.shape[1]) + reserve_tokens
        if hooks is not None:
            hooks.paused = True
        try:
            cache, entry = self._prefix(key, len(seqs), room, wanted)
        finally:
            if hooks is not None:
                hooks.paused = False
        recomputed = (
            self._injected_prefix(cache, entry, key, hooks, groups) if hooks is not None else {}
        )
        if whole:
            self.stats["prompts_whole_in_prefix"] += 1
            logits = entry.logits.expand(len(seqs), -1).clone()
            for r, row_logits in recomputed.items():
                logits[r] = row_logits
            return _PromptPass(logits[:, None, :], cache, mask, pos)
        if hooks is not None:
            hooks.positions = pos
        out = self._forward(ids, mask, pos.position, cache, use_cache=True, last_only=last_only)
        return _PromptPass(out.logits, self._out_cache(out), mask, pos)

    # ----------------------------------------------------------------- public API
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
        b = len(prompts)
        gens: list[torch.Generator] = []
        if temperature > 0:
            if seeds is None or len(seeds) != b:
                raise ValueError("Sampling needs one seed per row (seeds=...).")
            for s in seeds:
                g = torch.Generator(device=self.lm.device)
                g.manual_seed(int(s))
                gens.append(g)
        hooks = self._hooks(prep)
        lengths = torch.tensor([len(r.ids) for r in prep.rows], device=self.lm.device)
        out_tokens: list[list[int]] = [[] for _ in range(b)]
        done = [False] * b
        with self._maybe_active(hooks):
            first = self._run_prompt(
                prep,
                hooks,
                reuse_prefix=reuse_prefix,
                use_cache=use_cache,
                last_only=True,
                reserve_tokens=max_new_tokens - 1,
                logits_only=True,
            )
            cache, mask = first.cache, first.mask
            all_ids, all_pos = None, first.positions
            if not use_cache:
                all_ids, _, all_pos = self._batch_inputs([r.ids for r in prep.rows], 0)
            logits = first.logits[:, -1, :]
            eos_cols = (
                torch.tensor(sorted(self.eos_ids), device=logits.device)
                if ignore_eos and self.eos_ids
                else None
            )
            for step in range(max_new_tokens):
                if eos_cols is not None:  # in place: nothing else reads these logits
                    logits[:, eos_cols] = float("-inf")
                nxt = self._choose(logits, temperature, top_p, gens)
                for r in range(b):
                    if not done[r]:
                        t = int(nxt[r])
                        if t in self.eos_ids:
                            done[r] = True
                        else:
                            out_tokens[r].append(t)
                if all(done) or step == max_new_tokens - 1:
                    break
                new_pos = (lengths + step)[:, None]
                ones = torch.ones(b, 1, dtype=torch.long, device=mask.device)
                mask = torch.cat([mask, ones], dim=1)
                if use_cache:
                    step_pos = Positions(new_pos, torch.ones_like(new_pos, dtype=torch.bool))
                    if hooks is not None:
                        hooks.positions = step_pos
                    out = self._forward(
                        nxt[:, None], mask, new_pos, cache, use_cache=True, last_only=True
                    )
                    cache = self._out_cache(out)
                else:
                    assert all_ids is not None
                    all_ids = torch.cat([all_ids, nxt[:, None]], dim=1)
                    all_pos = Positions(
                        torch.cat([all_pos.position, new_pos], dim=1),
                        torch.cat([all_pos.valid, ones.bool()], dim=1),
                    )
                    if hooks is not None:
                        hooks.positions = all_pos
                    out = self._forward(
                        all_ids, mask, all_pos.position, None, use_cache=False, last_only=True
                    )
                logits = out.logits[:, -1, :]
        tok = self.lm.tokenizer
        return [
            Generation(
                text=tok.decode(ts, skip_special_tokens=True),
                token_ids=tuple(ts),
                n_prompt_tokens=len(prep.rows[r].ids),
                finished=done[r],
            )
            for r, ts in enumerate(out_tokens)
        ]

    def _choose(
        self,
        logits: torch.Tensor,
        temperature: float,
        top_p: float,
        gens: Sequence[torch.Generator],
    ) -> torch.Tensor:
        if temperature == 0:
            return logits.argmax(dim=-1)
        probs = torch.softmax(logits.float() / temperature, dim=-1)
        if top_p < 1:
            sorted_p, idx = probs.sort(dim=-1, descending=True)
            keep = sorted_p.cumsum(-1) - sorted_p < top_p
            sorted_p = sorted_p * keep
            probs = torch.zeros_like(probs).scatter(-1, idx, sorted_p)
        picks = [torch.multinomial(probs[r], 1, generator=g) for r, g in enumerate(gens)]
        return torch.cat(picks)

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
            first = self._run_prompt(
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
        with self._maybe_active(hooks):
            scored = self._run_prompt(
                prep, hooks, reuse_prefix=reuse_prefix, use_cache=True, last_only=False
            )
        logp = torch.log_softmax(scored.logits.float(), dim=-1)
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
    def capture(
        self,
        prompts: Sequence[str],
        layers: LayerSpec | Sequence[LayerSpec],
        *,
        positions: str | Window | Sequence[Window] = "last",
        injections: Sequence[RowInjections] | None = None,
        reuse_prefix: bool = False,
    ) -> torch.Tensor | list[torch.Tensor]:
        """Residual-stream activations (decoder-block outputs) at ``layers``.

        ``positions``: ``"last"`` -> tensor ``[B, n_layers, d]``; ``"all"`` -> list of
        ``[len_i, n_layers, d]``; any other string is a substring of the prompt whose tokens
        are returned (list of ``[n_tok_i, n_layers, d]``), as is a :class:`Window` (``span``
        kind) or one Window per row. With injections, activations are
        read after the injection at the same layer. Left padding is handled by true
        positions, so each row matches its unpadded run.
        """
        idx = resolve_layers(layers, self.lm.n_layers)
        prep = self.prepare(prompts, injections)
        spans: list[tuple[int, int]] = []
        for r, row in enumerate(prep.rows):
            if positions == "last":
                spans.append((len(row.ids) - 1, len(row.ids)))
            elif positions == "all":
                spans.append((0, len(row.ids)))
            else:
                if isinstance(positions, str):
                    win = Window.span_marker(positions)
                elif isinstance(positions, Window):
                    win = positions
                else:
                    win = positions[r]
                spans.append(win.resolve(len(row.ids), row.offsets, row.text))
        hooks = self._hooks(prep)
        grabbed: dict[int, torch.Tensor] = {}
        handles = []

        def grab(layer: int) -> Any:
            def hook(_m: Any, _a: Any, output: Any) -> None:
                grabbed[layer] = block_output(output).detach()

            return hook

        with self._maybe_active(hooks):
            try:
                for layer in idx:
                    handles.append(self.lm.layers[layer].register_forward_hook(grab(layer)))
                pos = self._run_prompt(
                    prep, hooks, reuse_prefix=reuse_prefix, use_cache=reuse_prefix, last_only=True
                ).positions
            finally:
                for h in handles:
                    h.remove()
        stacked = torch.stack([grabbed[layer] for layer in idx], dim=2)  # [B, S, L, d]
        results = []
        for r, (s, e) in enumerate(spans):
            cols = ((pos.position[r] >= s) & (pos.position[r] < e) & pos.valid[r]).nonzero()
            results.append(stacked[r, cols[:, 0]].float())
        if positions == "last":
            return torch.stack([x[0] for x in results])
        return results
