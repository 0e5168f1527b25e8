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

    def choose(self, logits: torch.Tensor) -> torch.Tensor:
        """The next token of every row ``[B]`` from its logits ``[B, vocab]``."""
        if self.temperature == 0:
            return logits.argmax(dim=-1)
        probs = torch.softmax(logits.float() / self.temperature, dim=-1)
        if self.top_p < 1:
            sorted_p, idx = probs.sort(dim=-1, descending=True)
            keep = sorted_p.cumsum(-1) - sorted_p < self.top_p
            sorted_p = sorted_p * keep
            probs = torch.zeros_like(probs).scatter(-1, idx, sorted_p)
        picks = [torch.multinomial(probs[r], 1, generator=g) for r, g in enumerate(self.generators)]
        return torch.cat(picks)


@dataclass(frozen=True)
class Decoded:
    """Per row: the new tokens (end-of-sequence excluded) and whether it ended on one."""

    tokens: list[list[int]]
    finished: list[bool]


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
) -> Decoded:
    """Decode from the prompt pass ``first`` (with ``hooks`` already active).

    Steps extend ``first.cache`` one column at a time, or, given ``rerun_ids`` (the padded
    prompt batch of a pass run without a cache), rerun the whole sequence every step.
    ``ignore_eos`` sets the end-of-sequence logits to ``-inf`` at every step, as Hugging
    Face's ``min_new_tokens`` does, so every row produces exactly ``max_new_tokens`` tokens.
    """
    b = len(prompt_lengths)
    device = first.mask.device
    lengths = torch.tensor(list(prompt_lengths), device=device)
    out_tokens: list[list[int]] = [[] for _ in range(b)]
    done = [False] * b
    cache, mask = first.cache, first.mask
    all_ids, all_pos = rerun_ids, first.positions
    logits = first.logits[:, -1, :]
    eos_cols = (
        torch.tensor(sorted(stop_ids), device=logits.device) if ignore_eos and stop_ids else None
    )
    for step in range(max_new_tokens):
        if eos_cols is not None:  # in place: nothing else reads these logits
            logits[:, eos_cols] = float("-inf")
        nxt = sampler.choose(logits)
        for r in range(b):
            if not done[r]:
                t = int(nxt[r])
                if t in stop_ids:
                    done[r] = True
                else:
                    out_tokens[r].append(t)
        if all(done) or step == max_new_tokens - 1:
            break
        new_pos = (lengths + step)[:, None]
        ones = torch.ones(b, 1, dtype=torch.long, device=mask.device)
        mask = torch.cat([mask, ones], dim=1)
        if all_ids is None:
            step_pos = Positions(new_pos, torch.ones_like(new_pos, dtype=torch.bool))
            if hooks is not None:
                hooks.positions = step_pos
            out = forward(nxt[:, None], mask, new_pos, cache, use_cache=True, last_only=True)
            cache = output_cache(out)
        else:
            all_ids = torch.cat([all_ids, nxt[:, None]], dim=1)
            all_pos = Positions(
                torch.cat([all_pos.position, new_pos], dim=1),
                torch.cat([all_pos.valid, ones.bool()], dim=1),
            )
            if hooks is not None:
                hooks.positions = all_pos
            out = forward(all_ids, mask, all_pos.position, None, use_cache=False, last_only=True)
        logits = out.logits[:, -1, :]
    return Decoded(out_tokens, done)
