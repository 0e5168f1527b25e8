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

from introscope.experiments.base import Context, Trial, TrialResult, make_trial
from introscope.experiments.cot.chains import run_chains
from introscope.experiments.cot.engine_reasoner import EngineReasoner
from introscope.experiments.cot.params import item_condition
from introscope.experiments.cot.prompts import direct_prompt, reasoning_prompt
from introscope.experiments.cot_probe.params import CotProbeParams
from introscope.experiments.cot_probe.procedure import item_readout, probe_readouts
from introscope.experiments.cot_probe.steering import steering_trials
from introscope.experiments.solving import layer_indices


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
                ctx.params.lead_positions,
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
                readout = item_readout(it, ch, (None, {}))
                readout.update(
                    {k: trials[i].data[k] for k in ("source", "target", "layer", "scale")}
                )
                out[i] = TrialResult(ch.raw, None, readout)
        assert all(r is not None for r in out)
        return [r for r in out if r is not None]
