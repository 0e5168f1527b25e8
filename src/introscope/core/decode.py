"""The decoding loop: one new token per row per step, greedy or sampled (docs/engine.md §4).

The engine runs its own loop rather than ``model.generate``: the steering hooks must be told
the true position of every new column before each step, and each row samples with its own
``torch.Generator`` seeded with the row's seed, so a row draws the same random numbers
whatever its batchmates are. The KV cache the prompt pass hands over already has room for
every step (:mod:`introscope.core.kv_cache`), so a step writes one column.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import torch

from introscope.core.compact import can_select_rows, kept_rows, row_floor, select_rows
from introscope.core.forward import ModelForward, output_cache
from introscope.core.prefix import PromptPass
from introscope.core.steering import Positions, SteeringHooks


@dataclass(frozen=True)
class Sampler:
    """Greedy (``argmax``) at temperature 0; otherwise temperature / top-p sampling, row
    ``r`` drawing from ``generators[r]`` only."""

    temperature: float = 0.0
    top_p: float = 1.0
    generators: Sequence[torch.Generator] = ()

    @staticmethod
    def seeded(
        temperature: float,
        top_p: float,
        seeds: Sequence[int] | None,
        batch: int,
        device: torch.device,
    ) -> Sampler:
        """A sampler with one generator per row seeded with the row's seed (sampling needs
        one seed per row; greedy decoding needs none)."""
        generators: list[torch.Generator] = []
        if temperature > 0:
            if seeds is None or len(seeds) != batch:
                raise ValueError("Sampling needs one seed per row (seeds=...).")
            for s in seeds:
                g = torch.Generator(device=device)
                g.manual_seed(int(s))
                generators.append(g)
        return Sampler(temperature, top_p, generators)

    def choose(self, logits: torch.Tensor, rows: Sequence[int] | None = None) -> torch.Tensor:
        """The next token of every row ``[B]`` from its logits ``[B, vocab]``; ``rows``: the
        batch row (generator) of each logits row, when rows have left the batch."""
        if self.temperature == 0:
            return logits.argmax(dim=-1)
        probs = torch.softmax(logits.float() / self.temperature, dim=-1)
        if self.top_p < 1:
            sorted_p, idx = probs.sort(dim=-1, descending=True)
            keep = sorted_p.cumsum(-1) - sorted_p < self.top_p
            sorted_p = sorted_p * keep
            probs = torch.zeros_like(probs).scatter(-1, idx, sorted_p)
        gens = self.generators if rows is None else [self.generators[r] for r in rows]
        picks = [torch.multinomial(probs[i], 1, generator=g) for i, g in enumerate(gens)]
        return torch.cat(picks)


@dataclass(frozen=True)
class Decoded:
    """Per row: the new tokens (end-of-sequence excluded) and whether it ended on one."""

    tokens: list[list[int]]
    finished: list[bool]
    compactions: int = 0  # times finished rows left the batch


def decode_steps(
    forward: ModelForward,
    first: PromptPass,
    hooks: SteeringHooks | None,
    sampler: Sampler,
    *,
    prompt_lengths: Sequence[int],
    max_new_tokens: int,
    stop_ids: Collection[int],
    ignore_eos: bool = False,
    rerun_ids: torch.Tensor | None = None,
    compact: bool = True,
    exact_rows: bool = True,
) -> Decoded:
    """Decode from the prompt pass ``first`` (with ``hooks`` already active).

    Steps extend ``first.cache`` one column at a time, or, given ``rerun_ids`` (the padded
    prompt batch of a pass run without a cache), rerun the whole sequence every step.
    ``ignore_eos`` sets the end-of-sequence logits to ``-inf`` at every step, as Hugging
    Face's ``min_new_tokens`` does, so every row produces exactly ``max_new_tokens`` tokens.

    The bookkeeping is batched (one host sync per step, for "is every row done?"). With
    ``compact``, once a quarter of the batch has finished, finished rows leave it
    (:mod:`introscope.core.compact`): the cache, mask, positions, hooks and generators
    follow the remaining rows, and every row's tokens are the ones it gets in the full batch
    (``exact_rows=False``, fast mode: the batch shrinks to its live rows whatever that does
    to their last bits).
    """
    b = len(prompt_lengths)
    device = first.mask.device
    lengths = torch.tensor(list(prompt_lengths), device=device)
    # tokens[r, s]: row r's token at step s; -1 once the row has stopped (or never wrote).
    tokens = torch.full((b, max(max_new_tokens, 1)), -1, dtype=torch.long, device=device)
    finished = torch.zeros(b, dtype=torch.bool, device=device)
    stops = torch.tensor(sorted(stop_ids), dtype=torch.long, device=device)
    rows = torch.arange(b, device=device)  # batch row of each row still in the batch
    done = torch.zeros(b, dtype=torch.bool, device=device)  # per row still in the batch
    subset = False  # whether rows left the batch (hooks then need ``rows``)
    gens = list(range(b))
    cache = first.cache
    cols = first.mask.shape[1]
    # The whole attention mask up front; each step uses a view one column wider.
    full_mask = first.mask.new_ones(b, cols + max_new_tokens)
    full_mask[:, :cols] = first.mask
    all_ids, all_pos = rerun_ids, first.positions
    logits = first.logits[:, -1, :]
    eos_cols = stops if ignore_eos and stop_ids else None
    can_compact = compact and all_ids is None and b > 1 and can_select_rows(cache)
    floor: int | None = None  # measured when rows first finish
    compactions = 0
    for step in range(max_new_tokens):
        if eos_cols is not None:  # in place: nothing else reads these logits
            logits[:, eos_cols] = float("-inf")
        nxt = sampler.choose(logits, gens)
        stop = torch.isin(nxt, stops) if stops.numel() else torch.zeros_like(done)
        write = ~(done | stop)
        tokens[rows[write], step] = nxt[write]
        finished[rows[stop & ~done]] = True
        done = done | stop
        n_live = int((~done).sum())
        if n_live == 0 or step == max_new_tokens - 1:
            break
        n = int(rows.numel())
        if can_compact and n_live <= n - max(1, n // 4):
            if floor is None:
                floor = row_floor(forward.model, b) if exact_rows else 1
            if floor < n:
                keep = kept_rows(~done, floor)
                select_rows(cache, keep)
                rows, done, nxt, lengths = rows[keep], done[keep], nxt[keep], lengths[keep]
                full_mask = full_mask[keep]
                gens = [gens[i] for i in keep.tolist()]
                subset, compactions = True, compactions + 1
        mask = full_mask[:, : cols + step + 1]
        new_pos = (lengths + step)[:, None]
        if all_ids is None:
            step_pos = Positions(
                new_pos, torch.ones_like(new_pos, dtype=torch.bool), rows if subset else None
            )
            if hooks is not None:
                hooks.positions = step_pos
            out = forward(nxt[:, None], mask, new_pos, cache, use_cache=True, last_only=True)
            cache = output_cache(out)
        else:
            all_ids = torch.cat([all_ids, nxt[:, None]], dim=1)
            all_pos = Positions(
                torch.cat([all_pos.position, new_pos], dim=1),
                torch.cat([all_pos.valid, torch.ones_like(new_pos, dtype=torch.bool)], dim=1),
            )
            if hooks is not None:
                hooks.positions = all_pos
            out = forward(all_ids, mask, all_pos.position, None, use_cache=False, last_only=True)
        logits = out.logits[:, -1, :]
    out_tokens = [[t for t in row if t >= 0] for row in tokens.tolist()]
    return Decoded(out_tokens, finished.tolist(), compactions)
