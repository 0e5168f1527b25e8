"""(c) Prefill / retroactive intention (DESIGN §3.2c).

The assistant's reply is prefilled with a word unrelated to the sentence; the user asks
whether it was meant. Conditions: no injection, the prefilled word's own vector injected on
the sentence tokens of the earlier turn ("match"), or another word's vector ("other").
If injecting the matching vector lowers the apology rate, the model's judgement of its own
output consults its earlier activations, not only the text.
"""

from __future__ import annotations

from collections.abc import Sequence

from introscope.core.steering import Injection, Window
from introscope.experiments import prompts as P
from introscope.experiments.base import (
    Context,
    Trial,
    TrialResult,
    generate_batch,
    layer_conditions,
    make_trial,
    spec_concepts,
)
from introscope.grading import rules
from introscope.spec import Spec


def prefill_prompt(ctx: Context, sentence: str, word: str) -> str:
    return ctx.lm.chat_prompt(
        [
            ("user", P.WORD_QUESTION.format(sentence=sentence)),
            ("assistant", word),
            ("user", P.PREFILL_FOLLOWUP),
        ]
    )


class Prefill:
    kind = "prefill"

    def words_needed(self, spec: Spec) -> list[str]:
        return spec_concepts(spec)

    def build_trials(self, ctx: Context) -> list[Trial]:
        spec = ctx.spec
        words = spec_concepts(spec)
        trials = []
        for rep in range(spec.trials_per_cell):
            for wi, word in enumerate(words):
                sid = (wi + rep) % len(P.SENTENCES)
                sentence = P.SENTENCES[sid]
                prompt = prefill_prompt(ctx, sentence, word)
                other = words[(wi + 1 + rep) % len(words)] if len(words) > 1 else None
                base = {"sentence_id": sid, "word": word, "rep": rep}
                trials.append(
                    make_trial(
                        spec,
                        {
                            **base,
                            "injected": "none",
                            "inject_concept": None,
                            "layer": None,
                            "strength": None,
                        },
                        prompt,
                        None,
                    )
                )
                window = Window.span_marker(sentence)
                for layer in layer_conditions(ctx):
                    for strength in spec.grid.strengths:
                        for kind, concept in (("match", word), ("other", other)):
                            if concept is None:
                                continue
                            cond = {
                                **base,
                                "injected": kind,
                                "inject_concept": concept,
                                "layer": layer,
                                "strength": strength,
                            }
                            inj = Injection(
                                ctx.vectors.get(concept, layer),
                                (layer,),
                                strength,
                                window,
                                label=f"{kind}:{concept}@L{layer}",
                            )
                            trials.append(make_trial(spec, cond, prompt, inj))
        return trials

    def run_batch(self, ctx: Context, trials: Sequence[Trial]) -> list[TrialResult]:
        gens = generate_batch(ctx, trials)
        return [
            TrialResult(
                g.text,
                len(g.token_ids),
                None,
                {
                    "rules": {
                        "apology": rules.is_apology(g.text),
                        "coherent": rules.is_coherent(g.text),
                    }
                },
            )
            for g in gens
        ]
