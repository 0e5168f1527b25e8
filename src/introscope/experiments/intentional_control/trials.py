"""The intentional-control solver: trials and batches (the torch side of the slice).

The model is told to write a sentence while thinking (or not thinking) about a word; the
sentence is prefilled as its reply. Readout: cosine between the mean activation over the
reply's sentence tokens and the word's concept vector, at every layer, against the mean
cosine with other words' vectors (the baseline); the same per token, so the time course
over the sentence can be compared between instructions. No injection is involved.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from introscope.core.steering import Window
from introscope.experiments import prompts as P
from introscope.experiments.base import Context, Trial, TrialResult, make_trial
from introscope.experiments.intentional_control.params import IntentionalControlParams

#: Other words whose vectors make the baseline (the first ones of the run's vector set).
N_BASELINE = 8


class IntentionalControlSolver:
    def words_needed(self, params: IntentionalControlParams) -> list[str]:
        return list(params.words)

    def build_trials(self, ctx: Context[IntentionalControlParams]) -> list[Trial]:
        spec, p = ctx.spec, ctx.params
        trials = []
        for rep in range(p.repeats):
            for wi, word in enumerate(p.words):
                sid = (wi + rep) % len(P.SENTENCES)
                sentence = P.SENTENCES[sid]
                for instruction in p.instructions:
                    text = P.INTENT_INSTRUCTIONS[instruction].format(
                        sentence=sentence, word=word.lower()
                    )
                    prompt = ctx.lm.chat_prompt([("user", text), ("assistant", sentence)])
                    cond: dict[str, Any] = {
                        "sentence_id": sid,
                        "word": word,
                        "instruction": instruction,
                        "rep": rep,
                    }
                    trials.append(
                        make_trial(
                            spec,
                            cond,
                            prompt,
                            None,
                            {"sentence": sentence},
                            concept=word,
                            control=instruction,
                        )
                    )
        return trials

    def run_batch(
        self, ctx: Context[IntentionalControlParams], trials: Sequence[Trial]
    ) -> list[TrialResult]:
        names = ctx.vectors.names
        vecs = torch.stack([ctx.vectors.get(n) for n in names])  # [W, L, d]
        # The sentence appears in the instruction and again as the reply: take the reply.
        acts = ctx.engine.capture(
            [t.prompt for t in trials],
            list(range(ctx.lm.n_layers)),
            positions=[Window.span_marker(t.data["sentence"], 1) for t in trials],
        )
        out = []
        for t, a in zip(trials, acts, strict=True):
            wi = names.index(t.condition["word"])
            others = [i for i in range(len(names)) if i != wi][:N_BASELINE]
            # Per token [T, L] and for the tokens' mean [L]: the word's vector vs the mean
            # over other words' vectors (the baseline).
            tok = torch.nn.functional.cosine_similarity(vecs[:, None], a[None], dim=-1)
            cos = torch.nn.functional.cosine_similarity(vecs, a.mean(0)[None], dim=-1)
            base = cos[others].mean(0) if others else torch.zeros_like(cos[wi])
            tok_base = tok[others].mean(0) if others else torch.zeros_like(tok[wi])
            out.append(
                TrialResult(
                    None,
                    None,
                    readout={
                        "cos_by_layer": cos[wi].tolist(),
                        "baseline_by_layer": base.tolist(),
                        "cos_by_token": tok[wi].tolist(),  # [token][layer]
                        "baseline_by_token": tok_base.tolist(),
                    },
                )
            )
        return out
