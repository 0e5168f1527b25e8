"""What a probe trial reads (torch-free: the model's part goes through a
:class:`~introscope.experiments.cot.reasoner.Reasoner`): the chain and its final answer, the
direct answer, the activations before the chain at every probe layer (``pre``, ``[L, d]``)
and at the lead layer along the chain (``cot``, ``[P, d]``, the positions kept listed in the
readout), and the chain token at which the text first states the final answer.

Chain positions count chain tokens read: 0 is the last token before the chain, k the k-th
chain token, in the tokenization of prompt + chain (a token straddling the boundary counts
as the chain's).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from introscope.experiments.base import Trial, TrialResult
from introscope.experiments.cot.chains import Chain, forced_answers, run_chains
from introscope.experiments.cot.format import answer_label, labels, stated_at
from introscope.experiments.cot.reasoner import Reasoner
from introscope.items import Item
from introscope.items.comparison_pairs import pair_id


def positions_to_keep(n_tokens: int, at_most: int) -> list[int]:
    """Chain positions 0 (before the chain) .. n_tokens, at most ``at_most`` of them, evenly
    spaced, both ends kept."""
    if n_tokens + 1 <= at_most:
        return list(range(n_tokens + 1))
    return sorted({round(float(x)) for x in np.linspace(0, n_tokens, at_most)})


def chain_tokens(
    reasoner: Reasoner, prompt: str, cot: str
) -> tuple[int, int, list[tuple[int, int]]]:
    """(index of the last token before the chain, chain tokens, token offsets) in the
    tokenization of ``prompt + cot``; a token that straddles the boundary counts as the
    chain's."""
    offs = reasoner.offsets(prompt + cot)
    first = next((i for i, (_, end) in enumerate(offs) if end > len(prompt)), len(offs))
    return first - 1, len(offs) - first, offs


def stated_token(
    offs: list[tuple[int, int]], pre: int, prompt_len: int, char: int | None
) -> int | None:
    """The chain position (tokens read) at which the text through ``char`` is complete."""
    if char is None:
        return None
    end = prompt_len + char
    for k in range(1, len(offs) - pre):
        if offs[pre + k][1] >= end:
            return k
    return len(offs) - 1 - pre


def probe_readouts(
    reasoner: Reasoner,
    items: Sequence[Item],
    trials: Sequence[Trial],
    lead_positions: int,
    probe_layers: Sequence[int],
    lead_layer: int,
) -> list[TrialResult]:
    """Chains, final and direct answers, activations and statement positions of a batch."""
    prompts = [t.prompt for t in trials]
    chains = run_chains(reasoner, items, prompts, [t.seed for t in trials])
    direct = forced_answers(reasoner, items, [t.data["direct_prompt"] for t in trials])
    pre = reasoner.capture_last(prompts, probe_layers)
    spans, kept, stated = [], [], []
    for it, ch in zip(items, chains, strict=True):
        last_pre, n, offs = chain_tokens(reasoner, ch.prompt, ch.cot)
        spans.append((last_pre, last_pre + n + 1))
        kept.append(positions_to_keep(n, lead_positions))
        char = stated_at(ch.cot, it, ch.answer) if ch.answer is not None else None
        stated.append((n, stated_token(offs, last_pre, len(ch.prompt), char)))
    along = reasoner.capture_tokens([c.prompt + c.cot for c in chains], spans, lead_layer)
    out = []
    for k, (it, ch) in enumerate(zip(items, chains, strict=True)):
        n, at = stated[k]
        readout = item_readout(it, ch, direct[k])
        readout.update(
            n_cot_tokens=n,
            stated_at=at,
            cot_positions=kept[k],
            probe_layers=list(probe_layers),
            lead_layer=lead_layer,
        )
        arrays = {"pre": pre[k], "cot": along[k][kept[k]]}
        out.append(TrialResult(ch.raw, None, readout, {}, arrays))
    return out


def item_readout(
    item: Item, ch: Chain, direct: tuple[str | None, dict[str, float]]
) -> dict[str, Any]:
    return {
        "labels": list(labels(item)),
        "correct": answer_label(item),
        "final": ch.answer,
        "final_probs": ch.probs,
        "direct": direct[0],
        "direct_probs": direct[1],
        "pair": pair_id(item),
    }
