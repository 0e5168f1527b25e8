"""The calibration solver: one trial per item, answered and self-reported without a lead
(the torch side of the slice)."""

from __future__ import annotations

from collections.abc import Sequence

from introscope.experiments.base import Context, Trial, TrialResult
from introscope.experiments.calibration.params import CalibrationParams
from introscope.experiments.selfreport.probe import Request, probe, unled_item_trials


class CalibrationSolver:
    def words_needed(self, params: CalibrationParams) -> list[str]:
        return []

    def build_trials(self, ctx: Context[CalibrationParams]) -> list[Trial]:
        return unled_item_trials(ctx)

    def run_batch(
        self, ctx: Context[CalibrationParams], trials: Sequence[Trial]
    ) -> list[TrialResult]:
        found = probe(ctx, [Request(t.data["item"], "none", t.seed) for t in trials])
        return [TrialResult(f["answer"], None, f) for f in found]
