"""The thoughts-vs-text solver: trials and batches (the torch side of the slice).

A concept is injected on the tokens of an unrelated sentence only. Two readouts per trial:
which word "comes to mind" (the injected concept's rank among 10 candidates by the exact
log-probability of each candidate as the reply), and, in a separate prompt with the same
injection on the same sentence, whether the model still repeats the sentence exactly.

Protocol 2: the candidates are a function of the concept and the sentence (not of the
trial's seed), so a concept's injected trials and its no-injection control on the same
sentence rank the same ten words, and the control's identification rate is the baseline
the injection is compared with. Each candidate is scored by its summed log-probability
(the primary ranking, as before) and by its mean log-probability per token (so a word
split into more tokens is not penalised for its length).

Readout: ``candidate_rank``, ``chosen`` (by summed log-probability), ``candidate_rank_per_token``,
``chosen_per_token`` (by mean per token), ``n_candidates``, ``candidates``,
``target_logprob`` and ``target_logprob_per_token`` (the injected concept's scores).
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
from introscope.store import stable_hash
from introscope.words import word_list

N_CANDIDATES = 10


def candidate_seed(spec_seed: int, concept: str, sentence_id: int) -> int:
    """The seed of a (concept, sentence)'s candidate draw: the same for every trial on that
    sentence about that concept, injected or not."""
    return int(
        stable_hash(["thoughts_vs_text candidates", spec_seed, concept, sentence_id])[:8], 16
    )


def candidates_for(concept: str, pool: Sequence[str], seed: int) -> list[str]:
    """The concept and ``N_CANDIDATES - 1`` other words of ``pool``, drawn with ``seed``, in
    alphabetical order (so the position says nothing about the target)."""
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
                    seed = candidate_seed(ctx.spec.seed, concept, sid)
                    t.data["candidates"] = candidates_for(concept, pool, seed)
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
        tokenizer = ctx.lm.tokenizer
        n_tokens = {c: len(tokenizer(c, add_special_tokens=False)["input_ids"]) for c in set(conts)}
        repeat_prompts = [
            ctx.lm.chat_prompt(P.REPEAT_QUESTION.format(sentence=t.data["sentence"]))
            for t in trials
        ]
        gens = generate_batch(ctx, trials, repeat_prompts)
        out, i = [], 0
        for t, g in zip(trials, gens, strict=True):
            cands: list[str] = t.data["candidates"]
            concept = t.condition["concept"]
            mine = scores[i : i + len(cands)]
            i += len(cands)
            per_token = [v / n_tokens[c] for v, c in zip(mine, cands, strict=True)]
            rank, chosen = rank_of(mine, cands, concept)
            rank_pt, chosen_pt = rank_of(per_token, cands, concept)
            k = cands.index(concept)
            exact = " ".join(g.text.split()) == t.data["sentence"]
            out.append(
                TrialResult(
                    g.text,
                    len(g.token_ids),
                    {
                        "candidate_rank": rank,
                        "n_candidates": len(cands),
                        "chosen": chosen,
                        "candidate_rank_per_token": rank_pt,
                        "chosen_per_token": chosen_pt,
                        "candidates": cands,
                        "target_logprob": float(mine[k]),
                        "target_logprob_per_token": float(per_token[k]),
                    },
                    {"rules": {"identified": rank == 1, "exact_match": exact}},
                )
            )
        return out
