"""The lead-sensitivity solver: every item under every lead, answered and self-reported
(the torch side of the slice)."""

from __future__ import annotations

from collections.abc import Sequence

from introscope.experiments.base import Context, Trial, TrialResult, make_trial
from introscope.experiments.lead_sensitivity.params import LeadParams
from introscope.experiments.selfreport.params import item_condition
from introscope.experiments.selfreport.probe import Request, answer_prompt, probe
from introscope.store import stable_hash


def sample_seed(spec_seed: int, item_id: str) -> int:
    """One seed per item for the answer P(True) evaluates, shared by every lead, so the
    leads are compared on the same sampled answer."""
    return int(stable_hash([spec_seed, "sampled-answer", item_id])[:8], 16)


class LeadSolver:
    def words_needed(self, params: LeadParams) -> list[str]:
        return []

    def build_trials(self, ctx: Context[LeadParams]) -> list[Trial]:
        return [
            make_trial(
                ctx.spec,
                item_condition(it, lead=lead),
                answer_prompt(ctx, it, lead),
                None,
                {"item": it},
                concept=it.id,
                control=lead,
            )
            for it in ctx.params.items
            for lead in ctx.params.leads
        ]

    def run_batch(self, ctx: Context[LeadParams], trials: Sequence[Trial]) -> list[TrialResult]:
        reqs = [
            Request(
                t.data["item"], t.condition["lead"], sample_seed(ctx.spec.seed, t.data["item"].id)
            )
            for t in trials
        ]
        return [TrialResult(f["answer"], None, f) for f in probe(ctx, reqs)]
