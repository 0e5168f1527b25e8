"""The yes-bias solver: trials and batches (the torch side of the slice).

Every question is a trial of the detection conversation: the detection preamble, the
model's acknowledgement, then "Trial 1: <question> Answer with a single word: yes or no.",
with the injection over the same span as detection's (from "Trial 1:" on). So the control
questions and the detection question differ only in the question.

Without injection: logits, every question of the bank once (the readout is deterministic);
generation, the asked questions ``baseline_answers`` times each. Under injection: every
concept x every asked question x layer x strength x control (fully crossed). Logit readout:
P(yes) of the normalised yes/no pair, its log-odds and the yes+no mass. Generation: the
answer, graded by whether it opens with yes or no.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from introscope.core.steering import Window
from introscope.experiments import prompts as P
from introscope.experiments.base import Context, Trial, TrialResult, make_trial
from introscope.experiments.readouts import yes_no_readout
from introscope.experiments.solving import generate_batch, grid_trials
from introscope.experiments.yes_bias.params import YesBiasParams
from introscope.experiments.yes_bias.questions import Question, bank, selected
from introscope.grading import rules


def question_turns(q: Question) -> list[tuple[str, str]]:
    """The detection conversation with ``q`` as its trial question."""
    return P.detection_turns(P.trial_question(q.text) + P.YES_NO_SUFFIX)


class YesBiasSolver:
    def words_needed(self, params: YesBiasParams) -> list[str]:
        return list(params.concepts)

    def build_trials(self, ctx: Context[YesBiasParams]) -> list[Trial]:
        spec, lm, p = ctx.spec, ctx.lm, ctx.params
        asked = selected(p.questions_per_kind)
        window = Window.from_marker(P.TRIAL_MARKER)
        prompts = {q.question_id: lm.chat_prompt(question_turns(q)) for q in bank()}

        def about(q: Question) -> dict[str, Any]:
            return {
                "question_id": q.question_id,
                "answer": q.answer,
                "topic": q.topic,
                "protocol": p.protocol,
            }

        trials = []
        for q in bank() if spec.measure == "logits" else asked:
            for rep in range(p.baseline_answers):
                cond: dict[str, Any] = {
                    **about(q),
                    "concept": None,
                    "layer": None,
                    "strength": None,
                    "control": "none",
                    "rep": rep,
                }
                trials.append(
                    make_trial(
                        spec,
                        cond,
                        prompts[q.question_id],
                        None,
                        {"question": q.text},
                        control="none",
                    )
                )
        for concept in p.concepts:
            for q in asked:
                trials += grid_trials(
                    ctx,
                    concept,
                    prompts[q.question_id],
                    window,
                    {**about(q), "rep": 0},
                    {"question": q.text},
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
        return [
            TrialResult(
                None, None, {"p_yes": r.p_yes, "yes_log_odds": r.log_odds, "yes_no_mass": r.mass}
            )
            for r in yes_no_readout(ctx.lm, lp)
        ]
