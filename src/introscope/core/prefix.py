"""The prompt pass, with shared-prefix reuse (docs/engine.md §3).

The longest token prefix common to all rows (less each row's last prompt token, unless
every row is the same prompt) is run once, at batch 1 and without hooks, and its KV cache
is copied to every row with room reserved for what follows. Prefixes are kept in a small
LRU, so a sweep over one preamble computes it once. Rows injected inside the prefix
recompute it from their first injected position, with their hooks, through the blocks from
their lowest injected layer up (the blocks below would compute exactly the hook-free
values), and their keys/values are spliced in. The suffixes then run in one pass, left-padded
between the prefix and the suffix (:func:`introscope.core.batch.padded_inputs`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from introscope.core.batch import PreparedBatch, padded_inputs
from introscope.core.forward import ModelForward, output_cache
from introscope.core.kv_cache import expanded, reserve
from introscope.core.models import LoadedModel
from introscope.core.steering import Positions, SteeringHooks

# Families whose decoder loop hands each block only the previous block's hidden state (no
# cross-block cache sharing), so blocks below an injection may be stood in for by their
# stored hook-free outputs. Only families checked against the full recomputation in
# tests/core/test_prefix_shortcuts.py are listed; any other architecture runs every block.
SEQUENTIAL_BLOCK_FAMILIES = frozenset(
    {"llama", "mistral", "qwen2", "qwen3", "gemma2", "gemma3_text", "phi3", "gpt2", "gpt_neox"}
)


@dataclass
class PromptPass:
    """What the prompt pass hands to generation or scoring."""

    logits: torch.Tensor  # [B, T, vocab]; T == 1 when only the last position was kept
    cache: Any
    mask: torch.Tensor  # [B, columns] attention mask over everything cached so far
    positions: Positions  # true positions / validity of the columns just run


@dataclass
class _PrefixEntry:
    """A shared prefix run once, hook-free, at batch 1."""

    cache: Any  # its KV cache
    logits: torch.Tensor  # [1, vocab]: next-token logits after its last token
    residual: dict[int, torch.Tensor]  # block -> [n, d] output, for the blocks asked for


def _cache_layers(cache: Any) -> list[Any]:
    """Per-layer cache objects with ``keys``/``values`` tensors (transformers >= 4.56)."""
    layers = getattr(cache, "layers", None)
    if not layers or not all(hasattr(x, "keys") and hasattr(x, "values") for x in layers):
        raise TypeError("This transformers cache does not expose per-layer keys/values.")
    return list(layers)


def supports_splicing(config: Any) -> bool:
    """Whether this transformers version's cache exposes the per-layer keys/values that
    splicing per-row prefix caches needs."""
    try:
        from transformers import DynamicCache

        _cache_layers(DynamicCache(config=config))
    except Exception:
        return False
    return True


def common_prefix_len(seqs: Sequence[Sequence[int]]) -> int:
    first = seqs[0]
    n = min(len(s) for s in seqs)
    for i in range(n):
        t = first[i]
        if any(s[i] != t for s in seqs):
            return i
    return n


def shared_prefix_len(prep: PreparedBatch, *, whole: bool) -> int:
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


@contextmanager
def skipping_blocks(
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


class PromptRunner:
    """Runs the prompt pass of a batch, reusing shared prefixes kept in an LRU."""

    def __init__(
        self, lm: LoadedModel, forward: ModelForward, pad_id: int, *, cache_size: int = 4
    ) -> None:
        self.lm = lm
        self.forward = forward
        self.pad_id = pad_id
        self.cache_size = cache_size
        self.entries: OrderedDict[tuple[int, ...], _PrefixEntry] = OrderedDict()
        # Splicing per-row prefix caches needs the per-layer cache API; without it the
        # shared prefix stops before the earliest injected position instead.
        self.can_splice = supports_splicing(lm.model.config)
        model_type = str(getattr(lm.model.config, "model_type", ""))
        self.can_skip_blocks = self.can_splice and model_type in SEQUENTIAL_BLOCK_FAMILIES
        self.stats = {
            "prefix_hits": 0,
            "prefix_misses": 0,
            "prefix_tokens_reused": 0,
            "block_tokens_skipped": 0,  # (row, block, token) triples stood in for
            "prompts_whole_in_prefix": 0,  # batches that needed no pass after the prefix
        }

    def run(
        self,
        prep: PreparedBatch,
        hooks: SteeringHooks | None,
        *,
        reuse_prefix: bool,
        use_cache: bool,
        last_only: bool,
        reserve_tokens: int = 0,
        logits_only: bool = False,
        keep: int = 0,
    ) -> PromptPass:
        """Forward the whole prompt batch (with ``hooks`` already active).

        ``reserve_tokens``: decoding steps to follow; the KV cache gets room for them (and
        for the suffix) up front, so no step copies it. ``logits_only``: the caller needs
        the last logits and the cache but no forward pass over the last tokens (forward
        hooks of its own), so a batch of one repeated prompt may take everything from the
        shared prefix. ``keep`` (> 0, without ``last_only``): the logits of the last ``keep``
        columns are enough (:meth:`ModelForward.__call__`).
        """
        seqs = [r.ids for r in prep.rows]
        dev = self.lm.device
        may_take_all = logits_only and last_only
        prefix = shared_prefix_len(prep, whole=may_take_all) if (reuse_prefix and use_cache) else 0
        if prefix > 0 and hooks is not None and not self.can_splice:
            prefix = min(prefix, hooks.earliest_start())  # older caches: stop at injections
        if prefix == 0:
            ids, mask, pos = padded_inputs(seqs, 0, self.pad_id, dev)
            if hooks is not None:
                hooks.positions = pos
            out = self.forward(
                ids, mask, pos.position, None, use_cache=use_cache, last_only=last_only, keep=keep
            )
            cache = output_cache(out) if use_cache else None
            if cache is not None and reserve_tokens > 0:
                reserve(cache, reserve_tokens)
            return PromptPass(out.logits, cache, mask, pos)
        key = tuple(seqs[0][:prefix])
        whole = all(len(s) == prefix for s in seqs)  # nothing after the prefix
        ids, mask, pos = padded_inputs(seqs, prefix, self.pad_id, dev)
        groups = self._injected_groups(hooks, prefix) if hooks is not None else {}
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
            return PromptPass(logits[:, None, :], cache, mask, pos)
        if hooks is not None:
            hooks.positions = pos
        out = self.forward(
            ids, mask, pos.position, cache, use_cache=True, last_only=last_only, keep=keep
        )
        return PromptPass(out.logits, output_cache(out), mask, pos)

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
        entry = self.entries.get(key)
        missing = [j for j in residual_layers if entry is None or j not in entry.residual]
        if entry is None:
            self.stats["prefix_misses"] += 1
            entry = self._prefix_pass(key, missing)
            self.entries[key] = entry
            while len(self.entries) > self.cache_size:
                self.entries.popitem(last=False)
        else:
            self.stats["prefix_hits"] += 1
            self.entries.move_to_end(key)
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
                # for by a stored one (see skipping_blocks).
                if isinstance(output, torch.Tensor):
                    residual[layer] = output[0].detach().clone()

            return hook

        try:
            for j in residual_layers:
                handles.append(self.lm.layers[j].register_forward_hook(keep(j)))
            out = self.forward(
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
        return _PrefixEntry(output_cache(out), out.logits[:, -1, :], residual)

    def _injected_groups(self, hooks: SteeringHooks, n: int) -> dict[tuple[int, int], list[int]]:
        """Rows injected inside a prefix of ``n`` tokens, grouped by (first injected
        position, layers to skip). A row's blocks below its lowest injected layer compute
        exactly what the hook-free prefix pass did, so they are skipped where the
        architecture allows it."""
        skip_ok = self.can_skip_blocks
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
            with skipping_blocks(self.lm.layers, skip, stand_in):
                out = self.forward(
                    ids,
                    torch.ones(k, n, dtype=torch.long, device=dev),
                    position,
                    base,
                    use_cache=True,
                    last_only=True,
                )
            index = torch.tensor(rows, device=dev)
            layers = zip(_cache_layers(cache), _cache_layers(output_cache(out)), strict=True)
            for j, (mine, theirs) in enumerate(layers):
                if j >= skip:
                    mine.keys[index] = theirs.keys
                    mine.values[index] = theirs.values
            for i, r in enumerate(rows):
                logits[r] = out.logits[i, -1, :]
        return logits
