"""(b) Thoughts vs. text (DESIGN §3.2b).

A concept is injected on the tokens of an unrelated sentence only. Two readouts per trial:
which word "comes to mind" (the injected concept's rank among 10 candidates by the exact
log-probability of each candidate as the reply; chance = 10%), and, in a separate prompt
with the same injection on the same sentence, whether the model still repeats the sentence
exactly. Reading out the injected content *and* transcribing the text intact means the two
are kept apart.
"""

from __future__ import annotations

import random
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
    vector_injection,
)
from introscope.spec import Spec
from introscope.words import word_list

N_CANDIDATES = 10


def candidates_for(concept: str, pool: Sequence[str], seed: int) -> list[str]:
    others = [w for w in pool if w != concept]
    picks = random.Random(seed).sample(others, min(N_CANDIDATES - 1, len(others)))
    return sorted([concept, *picks])


class ThoughtsVsText:
    kind = "thoughts_vs_text"

    def words_needed(self, spec: Spec) -> list[str]:
        return spec_concepts(spec)

    def build_trials(self, ctx: Context) -> list[Trial]:
        spec, lm = ctx.spec, ctx.lm
        concepts = spec_concepts(spec)
        pool = list(dict.fromkeys([*concepts, *word_list("main")]))
        trials = []
        for rep in range(spec.trials_per_cell):
            for ci, concept in enumerate(concepts):
                sid = (ci + rep) % len(P.SENTENCES)
                sentence = P.SENTENCES[sid]
                prompt = lm.chat_prompt(P.WORD_QUESTION.format(sentence=sentence))
                window = Window.span_marker(sentence)
                for layer in layer_conditions(ctx):
                    for strength in spec.grid.strengths:
                        for control in spec.grid.controls:
                            cond = {
                                "sentence_id": sid,
                                "concept": concept,
                                "layer": layer,
                                "strength": strength,
                                "control": control,
                                "rep": rep,
                            }
                            t = make_trial(spec, cond, prompt, None, {"sentence": sentence})
                            t.data["candidates"] = candidates_for(concept, pool, t.seed)
                            if control != "none":
                                t.injection = vector_injection(
                                    ctx, concept, control, layer, strength, window, t.seed
                                )
                            trials.append(t)
        return trials

    def run_batch(self, ctx: Context, trials: Sequence[Trial]) -> list[TrialResult]:
        prompts: list[str] = []
        conts: list[str] = []
        injs: list[Injection | None] = []
        for t in trials:
            for c in t.data["candidates"]:
                prompts.append(t.prompt)
                conts.append(c)
                injs.append(t.injection)
        scores = ctx.engine.continuation_logprobs(prompts, conts, injs)
        repeat_prompts = [
            ctx.lm.chat_prompt(P.REPEAT_QUESTION.format(sentence=t.data["sentence"]))
            for t in trials
        ]
        gens = generate_batch(ctx, trials, repeat_prompts)
        out, i = [], 0
        for t, g in zip(trials, gens, strict=True):
            cands = t.data["candidates"]
            mine = scores[i : i + len(cands)]
            i += len(cands)
            target = mine[cands.index(t.condition["concept"])]
            rank = 1 + sum(
                1
                for c, s in zip(cands, mine, strict=True)
                if c != t.condition["concept"] and s >= target
            )
            chosen = cands[max(range(len(cands)), key=lambda k: mine[k])]
            exact = " ".join(g.text.split()) == t.data["sentence"]
            out.append(
                TrialResult(
                    g.text,
                    len(g.token_ids),
                    {"candidate_rank": rank, "n_candidates": len(cands), "chosen": chosen},
                    {"rules": {"identified": rank == 1, "exact_match": exact}},
                )
            )
        return out
