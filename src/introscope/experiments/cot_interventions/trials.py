"""The interventions solver (the torch side; ``docs/protocols.md`` §6b): one trial per item,
whose readout holds the answers under every intervention (:mod:`.procedure`), so each item's
chain is generated once whatever the number of interventions."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from introscope.experiments.base import Context, Trial, TrialResult, make_trial
from introscope.experiments.cot.engine_reasoner import EngineReasoner
from introscope.experiments.cot.params import item_condition
from introscope.experiments.cot.prompts import reasoning_prompt
from introscope.experiments.cot_interventions.params import CotInterventionParams
from introscope.experiments.cot_interventions.procedure import Paraphrase, intervene
from introscope.grading.paraphrase import paraphrase_chains, paraphraser


class CotInterventionSolver:
    def words_needed(self, params: CotInterventionParams) -> list[str]:
        return []

    def build_trials(self, ctx: Context[CotInterventionParams]) -> list[Trial]:
        return [
            make_trial(
                ctx.spec,
                item_condition(it, kind="chain"),
                reasoning_prompt(ctx.lm, it),
                None,
                control="none",
            )
            for it in ctx.params.items
        ]

    def run_batch(
        self, ctx: Context[CotInterventionParams], trials: Sequence[Trial]
    ) -> list[TrialResult]:
        by_id = {it.id: it for it in ctx.params.items}
        items = [by_id[t.condition["item"]] for t in trials]
        para: Paraphrase | None = None
        judge = None
        if ctx.params.paraphrase and ctx.spec.judge is not None:
            judge = paraphraser(ctx.spec.judge)
            # A paraphrase may be somewhat longer than its chain.
            para = partial(
                paraphrase_chains, judge, max_tokens=2 * ctx.spec.sampling.max_new_tokens + 64
            )
        try:
            chains, readouts = intervene(
                EngineReasoner(ctx),
                items,
                [t.prompt for t in trials],
                [t.seed for t in trials],
                ctx.params.interventions,
                ctx.params.fractions,
                para,
            )
        finally:
            if judge is not None:
                judge.close()
        return [TrialResult(c.raw, None, r) for c, r in zip(chains, readouts, strict=True)]
