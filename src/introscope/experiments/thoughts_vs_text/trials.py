"""The thoughts-vs-text solver: trials and batches (the torch side of the slice).

A concept is injected on the tokens of an unrelated sentence only. Two readouts per trial:
which word "comes to mind" (the injected concept's rank among 10 candidates by the exact
log-probability of each candidate as the reply; chance = 10%), and, in a separate prompt
with the same injection on the same sentence, whether the model still repeats the sentence
exactly.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from introscope.core.steering import Injection, Window
from introscope.experiments import prompts as P
from introscope.experiments.base import Context, Trial, TrialResult
from introscope.experiments.readouts import rank_of
from introscope.experiments.solving import generate_batch, grid_trials
from introscope.experiments.thoughts_vs_text.params import ThoughtsVsTextParams
from introscope.words import word_list

N_CANDIDATES = 10


def candidates_for(concept: str, pool: Sequence[str], seed: int) -> list[str]:
    """The concept and ``N_CANDIDATES - 1`` other words of ``pool``, drawn with the trial's
    seed, in alphabetical order (so the position says nothing about the target)."""
    others = [w for w in pool if w != concept]
    picks = random.Random(seed).sample(others, min(N_CANDIDATES - 1, len(others)))
    return sorted([concept, *picks])


class ThoughtsVsTextSolver:
    def words_needed(self, params: ThoughtsVsTextParams) -> list[str]:
        return list(params.concepts)

    def build_trials(self, ctx: Context[ThoughtsVsTextParams]) -> list[Trial]:
        lm, p = ctx.lm, ctx.params
        # Candidates come from the run's concepts and the paper's list, so a short run still
        # has 9 distractors.
        pool = list(dict.fromkeys([*p.concepts, *word_list("main")]))
        trials = []
        for rep in range(p.repeats):
            for ci, concept in enumerate(p.concepts):
                sid = (ci + rep) % len(P.SENTENCES)
                sentence = P.SENTENCES[sid]
                prompt = lm.chat_prompt(P.WORD_QUESTION.format(sentence=sentence))
                window = Window.span_marker(sentence)
                for t in grid_trials(
                    ctx,
                    concept,
                    prompt,
                    window,
                    {"sentence_id": sid, "rep": rep},
                    {"sentence": sentence},
                ):
                    t.data["candidates"] = candidates_for(concept, pool, t.seed)
                    trials.append(t)
        return trials

    def run_batch(
        self, ctx: Context[ThoughtsVsTextParams], trials: Sequence[Trial]
    ) -> list[TrialResult]:
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
            rank, chosen = rank_of(mine, cands, t.condition["concept"])
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
