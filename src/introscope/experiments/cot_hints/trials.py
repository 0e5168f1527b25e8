"""The hints solver (the torch side; ``docs/protocols.md`` §6c): per item an unhinted chain,
a chain under each hint kind, and (by default) under each kind's null version; the
activations before every chain at the probe layers (``pre``, ``[L, d]``); the rule grade
``mentions_hint`` on hinted and null chains. The judge, when configured, grades
``mentions_hint`` with the hint's text (kept in the trial's concept key)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from introscope.experiments.base import Context, Trial, TrialResult, make_trial
from introscope.experiments.cot.engine_reasoner import EngineReasoner
from introscope.experiments.cot.params import item_condition
from introscope.experiments.cot_hints.hinting import (
    hint_prompt,
    hint_target,
    hint_text,
)
from introscope.experiments.cot_hints.params import CotHintParams
from introscope.experiments.cot_hints.procedure import hint_readouts
from introscope.experiments.solving import layer_indices


class CotHintSolver:
    def words_needed(self, params: CotHintParams) -> list[str]:
        return []

    def build_trials(self, ctx: Context[CotHintParams]) -> list[Trial]:
        p, spec, lm = ctx.params, ctx.spec, ctx.lm
        trials = []
        for it in p.items:
            target = hint_target(it, p.hint_correct_fraction, spec.seed)
            runs: list[tuple[Any, str, str | None]] = [(None, "none", None)]
            for kind in p.hints:
                runs.append((kind, "hint", target))
                if p.null_hints:
                    runs.append((kind, "null", None))
            for kind, variant, shown in runs:
                prompt = hint_prompt(lm, it, kind, shown, spec.seed)
                if prompt is None:
                    continue
                cond = item_condition(it, hint=kind or "none", variant=variant, target=target)
                concept = None if kind is None else hint_text(it, kind, shown)
                trials.append(
                    make_trial(spec, cond, prompt, None, concept=concept, control=variant)
                )
        return trials

    def run_batch(self, ctx: Context[CotHintParams], trials: Sequence[Trial]) -> list[TrialResult]:
        by_id = {it.id: it for it in ctx.params.items}
        layers = sorted(set(layer_indices(ctx, ctx.params.layers)))
        return hint_readouts(
            EngineReasoner(ctx), [by_id[t.condition["item"]] for t in trials], trials, layers
        )
