"""The steering-check solver: one forward per trial on the neutral prompt.

Row contract: every trial is ``{concept, layer, strength, control}`` with ``control`` one of
the injected controls (never 'none'); the injection runs from the neutral turn's first word
through the answer position. Readout: ``concept_logprob`` (log-probability that the answer
starts with the concept word, any spelling, under the injection), ``concept_logprob_clean``
(the same without injection), ``kl`` (KL of the injected next-token distribution from the
no-injection one, nats) and ``top_token`` (the injected distribution's most likely token).
The no-injection distribution is computed as one extra row of every batch: the prompt is
the same in every row, so it is the hook-free prefix pass's logits, bit for bit (a
zero-strength injection gives a KL of exactly 0).
"""

from __future__ import annotations

from collections.abc import Sequence

from introscope.core.steering import Window
from introscope.experiments import prompts as P
from introscope.experiments.base import Context, Trial, TrialResult
from introscope.experiments.readouts import kl_divergence, word_logprob
from introscope.experiments.solving import grid_trials
from introscope.experiments.steering_check.params import SteeringCheckParams


class SteeringCheckSolver:
    def words_needed(self, params: SteeringCheckParams) -> list[str]:
        return list(params.concepts)

    def build_trials(self, ctx: Context[SteeringCheckParams]) -> list[Trial]:
        prompt = ctx.lm.chat_prompt(P.NEUTRAL_TURN)
        window = Window.from_marker(P.NEUTRAL_TURN)
        trials: list[Trial] = []
        for concept in ctx.params.concepts:
            trials += grid_trials(ctx, concept, prompt, window, {})
        return trials

    def run_batch(
        self, ctx: Context[SteeringCheckParams], trials: Sequence[Trial]
    ) -> list[TrialResult]:
        lm = ctx.lm
        prompt = ctx.lm.chat_prompt(P.NEUTRAL_TURN)
        if any(t.prompt != prompt for t in trials):
            raise ValueError("Every steering-check trial asks the same neutral prompt.")
        lp = ctx.engine.next_token_logprobs(
            [prompt] * (len(trials) + 1), [None, *(t.injection for t in trials)]
        )
        clean, injected = lp[0], lp[1:]
        kls = kl_divergence(injected, clean)
        out = []
        for r, (t, kl) in enumerate(zip(trials, kls, strict=True)):
            concept = t.condition["concept"]
            rows = lp[[r + 1, 0]]
            lp_injected, lp_clean = word_logprob(lm, rows, concept)
            out.append(
                TrialResult(
                    None,
                    None,
                    {
                        "concept_logprob": lp_injected,
                        "concept_logprob_clean": lp_clean,
                        "kl": kl,
                        "top_token": lm.tokenizer.decode([int(injected[r].argmax())]),
                    },
                )
            )
        return out
