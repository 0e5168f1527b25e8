"""The chain-of-thought probe solver (the torch side; ``docs/protocols.md`` §6a).

Probe trials, one per item: the chain and its final answer, the direct answer without a
chain, the activations at the last token before the chain at every probe layer (``pre``,
``[L, d]``) and at the lead layer along the chain's tokens (``cot``, ``[P, d]``), and where
the chain first states its final answer (in chain tokens). Steering trials: the same prompt
with a direction added over the opener's tokens, before the chain is written
(:mod:`introscope.experiments.cot_probe.steering`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from introscope.experiments.base import Context, Trial, TrialResult, make_trial
from introscope.experiments.cot.chains import Chain, forced_answers, run_chains
from introscope.experiments.cot.engine_reasoner import EngineReasoner
from introscope.experiments.cot.format import answer_label, labels, stated_at
from introscope.experiments.cot.params import item_condition
from introscope.experiments.cot.prompts import direct_prompt, reasoning_prompt
from introscope.experiments.cot.reasoner import Reasoner
from introscope.experiments.cot_probe.params import CotProbeParams
from introscope.experiments.cot_probe.steering import steering_trials
from introscope.experiments.solving import layer_indices
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
    params: CotProbeParams,
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
        kept.append(positions_to_keep(n, params.lead_positions))
        char = stated_at(ch.cot, it, ch.answer) if ch.answer is not None else None
        stated.append((n, stated_token(offs, last_pre, len(ch.prompt), char)))
    along = reasoner.capture_tokens([c.prompt + c.cot for c in chains], spans, lead_layer)
    out = []
    for k, (it, ch) in enumerate(zip(items, chains, strict=True)):
        n, at = stated[k]
        readout = _readout(it, ch, direct[k])
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


def _readout(item: Item, ch: Chain, direct: tuple[str | None, dict[str, float]]) -> dict[str, Any]:
    return {
        "labels": list(labels(item)),
        "correct": answer_label(item),
        "final": ch.answer,
        "final_probs": ch.probs,
        "direct": direct[0],
        "direct_probs": direct[1],
        "pair": pair_id(item),
    }


class CotProbeSolver:
    def words_needed(self, params: CotProbeParams) -> list[str]:
        return []

    def build_trials(self, ctx: Context[CotProbeParams]) -> list[Trial]:
        trials = []
        for it in ctx.params.items:
            t = make_trial(
                ctx.spec,
                item_condition(it, kind="probe"),
                reasoning_prompt(ctx.lm, it),
                None,
                {"direct_prompt": direct_prompt(ctx.lm, it)},
                control="none",
            )
            trials.append(t)
        if ctx.params.steer_strengths:
            trials += steering_trials(ctx, trials)
        return trials

    def run_batch(self, ctx: Context[CotProbeParams], trials: Sequence[Trial]) -> list[TrialResult]:
        reasoner = EngineReasoner(ctx)
        by_id = {it.id: it for it in ctx.params.items}
        out: list[TrialResult | None] = [None] * len(trials)
        probe = [i for i, t in enumerate(trials) if t.condition["kind"] == "probe"]
        if probe:
            layers = sorted(set(layer_indices(ctx, ctx.params.layers)))
            lead = layer_indices(ctx, [ctx.params.lead_layer])[0]
            got = probe_readouts(
                reasoner,
                [by_id[trials[i].condition["item"]] for i in probe],
                [trials[i] for i in probe],
                ctx.params,
                layers,
                lead,
            )
            for i, r in zip(probe, got, strict=True):
                out[i] = r
        steer = [i for i, t in enumerate(trials) if t.condition["kind"] == "steer"]
        if steer:
            items = [by_id[trials[i].condition["item"]] for i in steer]
            chains = run_chains(
                reasoner,
                items,
                [trials[i].prompt for i in steer],
                [trials[i].seed for i in steer],
                [trials[i].injection for i in steer],
            )
            for i, it, ch in zip(steer, items, chains, strict=True):
                readout = _readout(it, ch, (None, {}))
                readout.update(
                    {k: trials[i].data[k] for k in ("source", "target", "layer", "scale")}
                )
                out[i] = TrialResult(ch.raw, None, readout)
        assert all(r is not None for r in out)
        return [r for r in out if r is not None]
