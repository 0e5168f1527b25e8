"""The prefill solver: trials and batches (the torch side of the slice).

The assistant's reply is prefilled with a word unrelated to the sentence; the user asks
whether it was meant. Conditions (:data:`~introscope.experiments.prefill.params.CONDITIONS`):
no injection, the prefilled word's own vector injected on the sentence tokens of the earlier
turn ("match"), or another word's vector rescaled to the prefilled word's vector norm at that
layer ("other", protocol 2: concept vectors differ in norm, so an unscaled "other" would
differ from "match" in push as well as in content). The rules grader marks apologies and
coherence.

A trial's ``concept`` is the prefilled word and its ``control`` the condition (none / match
/ other), as the pre-slice runner stored them (see the params module).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from introscope.core.steering import Injection, Window
from introscope.experiments import prompts as P
from introscope.experiments.base import Context, Trial, TrialResult, make_trial
from introscope.experiments.prefill.params import PrefillParams
from introscope.experiments.solving import generate_batch, layer_indices
from introscope.grading import rules


def injected_vector(
    ctx: Context[PrefillParams], word: str, concept: str, layer: int
) -> torch.Tensor:
    """``concept``'s vector at ``layer``; for another word than the prefilled one, rescaled to
    the prefilled word's vector norm there, so match and other push equally hard."""
    vec = ctx.vectors.get(concept, layer)
    if concept == word:
        return vec
    target = ctx.vectors.get(word, layer).float().norm()
    return vec * (target / vec.float().norm()).to(vec.dtype)


def prefill_prompt(ctx: Context[PrefillParams], sentence: str, word: str) -> str:
    return ctx.lm.chat_prompt(
        [
            ("user", P.WORD_QUESTION.format(sentence=sentence)),
            ("assistant", word),
            ("user", P.PREFILL_FOLLOWUP),
        ]
    )


class PrefillSolver:
    def words_needed(self, params: PrefillParams) -> list[str]:
        return list(params.concepts)

    def build_trials(self, ctx: Context[PrefillParams]) -> list[Trial]:
        spec, p = ctx.spec, ctx.params
        words = p.concepts
        trials = []
        for rep in range(p.repeats):
            for wi, word in enumerate(words):
                sid = (wi + rep) % len(P.SENTENCES)
                sentence = P.SENTENCES[sid]
                prompt = prefill_prompt(ctx, sentence, word)
                other = words[(wi + 1 + rep) % len(words)] if len(words) > 1 else None
                base: dict[str, Any] = {"sentence_id": sid, "word": word, "rep": rep}
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
                        concept=word,
                        control="none",
                    )
                )
                window = Window.span_marker(sentence)
                for layer in layer_indices(ctx, p.layers):
                    for strength in p.strengths:
                        for kind, concept in (("match", word), ("other", other)):
                            if concept is None:  # a one-word run has no "other" vector
                                continue
                            cond = {
                                **base,
                                "injected": kind,
                                "inject_concept": concept,
                                "layer": layer,
                                "strength": strength,
                            }
                            inj = Injection(
                                injected_vector(ctx, word, concept, layer),
                                (layer,),
                                strength,
                                window,
                                label=f"{kind}:{concept}@L{layer}",
                            )
                            trials.append(
                                make_trial(spec, cond, prompt, inj, concept=word, control=kind)
                            )
        return trials

    def run_batch(self, ctx: Context[PrefillParams], trials: Sequence[Trial]) -> list[TrialResult]:
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
