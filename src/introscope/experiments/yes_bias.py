"""Yes-bias control (DESIGN §3.3): the detection experiment's injections, applied while the
model answers yes/no questions whose true answer is "no" (about the world and about itself).

If an injection raises P(yes) on these questions as much as on the detection question, the
"detection" is a push toward "yes", not a report about the injected content.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from introscope.core.steering import Window
from introscope.experiments import prompts as P
from introscope.experiments.base import (
    Context,
    Trial,
    TrialResult,
    generate_batch,
    layer_conditions,
    make_trial,
    spec_concepts,
    vector_injection,
    yes_probability,
)
from introscope.spec import Spec


def answered_yes(response: str) -> bool | None:
    """True / False when the answer opens with yes / no; None when it opens with neither
    (counted as missing, never as "no")."""
    words = re.findall(r"[a-z']+", response.lower())
    if not words:
        return None
    if words[0] in ("yes", "yeah", "yep", "correct", "true"):
        return True
    if words[0] in ("no", "nope", "not", "false", "incorrect"):
        return False
    return None


def questions() -> list[tuple[str, str, str]]:
    """(question_id, kind, text) for every no-answer question."""
    out = [(f"world-{i:02d}", "world", q) for i, q in enumerate(P.NO_QUESTIONS_WORLD)]
    out += [(f"self-{i:02d}", "self", q) for i, q in enumerate(P.NO_QUESTIONS_SELF)]
    return out


class YesBias:
    kind = "yes_bias"

    def words_needed(self, spec: Spec) -> list[str]:
        return spec_concepts(spec)

    def build_trials(self, ctx: Context) -> list[Trial]:
        spec, lm = ctx.spec, ctx.lm
        qs = questions()
        n_q = spec.trials_per_cell  # questions per cell (rotating through the list)
        trials = []
        for qid, kind, text in qs:
            prompt = lm.chat_prompt(text + P.YES_NO_SUFFIX)
            cond: dict[str, Any] = {
                "question_id": qid,
                "question_kind": kind,
                "concept": None,
                "layer": None,
                "strength": None,
                "control": "none",
                "rep": 0,
            }
            trials.append(make_trial(spec, cond, prompt, None, {"question": text}))
        concepts = spec_concepts(spec)
        for ci, concept in enumerate(concepts):
            for j in range(n_q):
                qid, kind, text = qs[(ci * n_q + j) % len(qs)]
                prompt = lm.chat_prompt(text + P.YES_NO_SUFFIX)
                window = Window.from_marker(text)
                for layer in layer_conditions(ctx):
                    for strength in spec.grid.strengths:
                        for control in spec.grid.controls:
                            if control == "none":
                                continue
                            cond = {
                                "question_id": qid,
                                "question_kind": kind,
                                "concept": concept,
                                "layer": layer,
                                "strength": strength,
                                "control": control,
                                "rep": 0,
                            }
                            t = make_trial(spec, cond, prompt, None, {"question": text})
                            t.injection = vector_injection(
                                ctx, concept, control, layer, strength, window, t.seed
                            )
                            trials.append(t)
        return trials

    def run_batch(self, ctx: Context, trials: Sequence[Trial]) -> list[TrialResult]:
        if ctx.spec.measure == "generation":
            gens = generate_batch(ctx, trials)
            return [
                TrialResult(
                    g.text,
                    len(g.token_ids),
                    None,
                    {"rules": {"answered_yes": answered_yes(g.text)}},
                )
                for g in gens
            ]
        lp = ctx.engine.next_token_logprobs(
            [t.prompt for t in trials], [t.injection for t in trials]
        )
        return [TrialResult(None, None, {"p_yes": p}) for p in yes_probability(ctx.lm, lp)]
