"""The yes-bias solver: trials and batches (the torch side of the slice).

Every question is asked once without injection (the per-question baseline); then each
concept's injections (layer x strength x control) are applied while the model answers a few
of the questions, rotating through the list. Logit readout: P(yes) of the normalised yes/no
pair. Generation: the answer, graded by whether it opens with yes or no.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from introscope.core.steering import Window
from introscope.experiments import prompts as P
from introscope.experiments.base import Context, Trial, TrialResult, make_trial
from introscope.experiments.readouts import yes_probability
from introscope.experiments.solving import generate_batch, grid_trials
from introscope.experiments.yes_bias.params import YesBiasParams
from introscope.experiments.yes_bias.questions import questions
from introscope.grading import rules


class YesBiasSolver:
    def words_needed(self, params: YesBiasParams) -> list[str]:
        return list(params.concepts)

    def build_trials(self, ctx: Context[YesBiasParams]) -> list[Trial]:
        spec, lm, p = ctx.spec, ctx.lm, ctx.params
        qs = questions()
        n_q = p.questions_per_concept
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
            trials.append(make_trial(spec, cond, prompt, None, {"question": text}, control="none"))
        for ci, concept in enumerate(p.concepts):
            for j in range(n_q):
                qid, kind, text = qs[(ci * n_q + j) % len(qs)]
                prompt = lm.chat_prompt(text + P.YES_NO_SUFFIX)
                window = Window.from_marker(text)
                trials += grid_trials(
                    ctx,
                    concept,
                    prompt,
                    window,
                    {"question_id": qid, "question_kind": kind, "rep": 0},
                    {"question": text},
                )
        return trials

    def run_batch(self, ctx: Context[YesBiasParams], trials: Sequence[Trial]) -> list[TrialResult]:
        if ctx.spec.measure == "generation":
            gens = generate_batch(ctx, trials)
            return [
                TrialResult(
                    g.text,
                    len(g.token_ids),
                    None,
                    {"rules": {"answered_yes": rules.answered_yes(g.text)}},
                )
                for g in gens
            ]
        lp = ctx.engine.next_token_logprobs(
            [t.prompt for t in trials], [t.injection for t in trials]
        )
        return [TrialResult(None, None, {"p_yes": p}) for p in yes_probability(ctx.lm, lp)]
