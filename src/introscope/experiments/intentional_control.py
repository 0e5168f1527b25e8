"""(d) Intentional control (DESIGN §3.2d), with the silent-task and mention-only conditions.

The model is told to write a sentence while thinking (or not thinking) about a word; the
sentence is prefilled as its reply. Measure: cosine between the mean activation over the
reply's sentence tokens and the word's concept vector, at every layer, against the mean
cosine with other words' vectors (the baseline); the same per token, so the time course
over the sentence can be compared between conditions. No injection is involved.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from introscope.core.steering import Window
from introscope.experiments import prompts as P
from introscope.experiments.base import (
    Context,
    Trial,
    TrialResult,
    make_trial,
    spec_concepts,
)
from introscope.spec import Spec

N_BASELINE = 8


class IntentionalControl:
    kind = "intentional_control"

    def words_needed(self, spec: Spec) -> list[str]:
        return spec_concepts(spec)

    def build_trials(self, ctx: Context) -> list[Trial]:
        spec = ctx.spec
        words = spec_concepts(spec)
        variants = [v for v in spec.grid.variants if v in P.INTENT_INSTRUCTIONS]
        if not variants:
            variants = ["think", "dont_think"]
        trials = []
        for rep in range(spec.trials_per_cell):
            for wi, word in enumerate(words):
                sid = (wi + rep) % len(P.SENTENCES)
                sentence = P.SENTENCES[sid]
                for instruction in variants:
                    text = P.INTENT_INSTRUCTIONS[instruction].format(
                        sentence=sentence, word=word.lower()
                    )
                    prompt = ctx.lm.chat_prompt([("user", text), ("assistant", sentence)])
                    cond = {
                        "sentence_id": sid,
                        "word": word,
                        "instruction": instruction,
                        "rep": rep,
                    }
                    trials.append(make_trial(spec, cond, prompt, None, {"sentence": sentence}))
        return trials

    def run_batch(self, ctx: Context, trials: Sequence[Trial]) -> list[TrialResult]:
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
                    {
                        "cos_by_layer": cos[wi].tolist(),
                        "baseline_by_layer": base.tolist(),
                        "cos_by_token": tok[wi].tolist(),  # [token][layer]
                        "baseline_by_token": tok_base.tolist(),
                    },
                )
            )
        return out
