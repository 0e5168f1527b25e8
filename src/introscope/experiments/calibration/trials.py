"""The calibration solver: one trial per item, answered and self-reported without a lead
(the torch side of the slice)."""

from __future__ import annotations

from collections.abc import Sequence

from introscope.experiments.base import Context, Trial, TrialResult, make_trial
from introscope.experiments.calibration.params import CalibrationParams
from introscope.experiments.selfreport.params import item_condition
from introscope.experiments.selfreport.probe import Request, answer_prompt, probe


class CalibrationSolver:
    def words_needed(self, params: CalibrationParams) -> list[str]:
        return []

    def build_trials(self, ctx: Context[CalibrationParams]) -> list[Trial]:
        return [
            make_trial(
                ctx.spec,
                item_condition(it),
                answer_prompt(ctx, it, "none"),
                None,
                {"item": it},
                concept=it.id,
                control="none",
            )
            for it in ctx.params.items
        ]

    def run_batch(
        self, ctx: Context[CalibrationParams], trials: Sequence[Trial]
    ) -> list[TrialResult]:
        found = probe(ctx, [Request(t.data["item"], "none", t.seed) for t in trials])
        return [TrialResult(f["answer"], None, f) for f in found]
