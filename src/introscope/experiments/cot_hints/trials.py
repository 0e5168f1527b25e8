"""The hints solver (the torch side; ``docs/protocols.md`` §6c): per item an unhinted chain,
a chain under each hint kind, and (by default) under each kind's null version; the
activations before every chain at the probe layers (``pre``, ``[L, d]``); the rule grade
``mentions_hint`` on hinted and null chains. The judge, when configured, grades
``mentions_hint`` with the hint's text (kept in the trial's concept key)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from introscope.experiments.base import Context, Trial, TrialResult, make_trial
from introscope.experiments.cot.chains import run_chains
from introscope.experiments.cot.engine_reasoner import EngineReasoner
from introscope.experiments.cot.format import answer_label, labels
from introscope.experiments.cot.params import item_condition
from introscope.experiments.cot_hints.hinting import (
    hint_prompt,
    hint_target,
    hint_text,
    mentions_hint,
)
from introscope.experiments.cot_hints.params import CotHintParams
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
        reasoner = EngineReasoner(ctx)
        by_id = {it.id: it for it in ctx.params.items}
        items = [by_id[t.condition["item"]] for t in trials]
        prompts = [t.prompt for t in trials]
        chains = run_chains(reasoner, items, prompts, [t.seed for t in trials])
        layers = sorted(set(layer_indices(ctx, ctx.params.layers)))
        pre = reasoner.capture_last(prompts, layers)
        out = []
        for k, (t, it, ch) in enumerate(zip(trials, items, chains, strict=True)):
            kind = t.condition["hint"]
            readout = {
                "labels": list(labels(it)),
                "correct": answer_label(it),
                "final": ch.answer,
                "final_probs": ch.probs,
                "target": t.condition["target"],
                "probe_layers": layers,
            }
            grades = (
                {} if kind == "none" else {"rules": {"mentions_hint": mentions_hint(ch.cot, kind)}}
            )
            out.append(TrialResult(ch.raw, None, readout, grades, {"pre": pre[k]}))
        return out
