"""Natural states, the "heartbeat" test (DESIGN §3.3). No injection.

A short passage makes a concept active; its template sets how strongly the *text* relates
to the concept (``repeated``: named several times, ``single``: named once, ``incidental``:
one word in a list of unrelated words). An unrelated request and the assistant's reply
follow, then "What are you thinking about right now? Answer with one word."

Two readouts per trial:

(a) the report: the total log-probability of the concept word as the reply
    (``continuation_logprobs``), and its rank among 10 candidates (the concept and 9 seeded
    distractors) by the same score;
(b) the state: the cosine between the model's own residual activation at the last prompt
    token and the concept's vector, at each of the grid's layers, and the mean cosine with
    the 9 distractors' vectors (a within-trial baseline).

The analysis asks whether (a) tracks (b) *beyond what the text predicts* (template as a
covariate). Row contract: ``condition = {concept, template, relatedness (3/2/1), request_id,
control ("none"), layer (None), strength (None), rep}``; ``logits = {"concept_logprob",
"rank", "n_candidates", "chosen", "cos_by_layer": {layer: cos}, "distractor_cos_by_layer":
{layer: mean cos}}`` (layer keys are strings once stored as JSON).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import torch

from introscope.experiments import prompts as P
from introscope.experiments.base import (
    Context,
    Trial,
    TrialResult,
    layer_conditions,
    make_trial,
    spec_concepts,
)
from introscope.spec import Spec
from introscope.words import word_list

N_CANDIDATES = 10
#: Relatedness of the passage's text to the concept, by template (higher = more related).
RELATEDNESS: dict[str, int] = {"repeated": 3, "single": 2, "incidental": 1}


def candidate_pool(concepts: Sequence[str]) -> list[str]:
    """The run's concepts, padded from the paper's main list to at least 10 words (every
    candidate needs a concept vector, so the pool is what ``words_needed`` returns)."""
    pool = list(dict.fromkeys(concepts))
    for w in word_list("main"):
        if len(pool) >= N_CANDIDATES:
            break
        if w not in pool:
            pool.append(w)
    return pool


def candidates_for(concept: str, pool: Sequence[str], seed: int) -> list[str]:
    others = [w for w in pool if w != concept]
    picks = random.Random(seed).sample(others, min(N_CANDIDATES - 1, len(others)))
    return sorted([concept, *picks])


def natural_turns(concept: str, template: str, request_id: int) -> list[tuple[str, str]]:
    passage = P.NATURAL_PASSAGES[template].format(word=concept.lower())
    return [
        ("user", f"{passage}\n\n{P.NATURAL_REQUESTS[request_id]}"),
        ("assistant", P.NATURAL_ACKS[request_id]),
        ("user", P.NATURAL_QUESTION),
    ]


class NaturalStates:
    kind = "natural_states"

    def words_needed(self, spec: Spec) -> list[str]:
        return candidate_pool(spec_concepts(spec))

    def build_trials(self, ctx: Context) -> list[Trial]:
        spec, lm = ctx.spec, ctx.lm
        concepts = spec_concepts(spec)
        pool = candidate_pool(concepts)
        templates = [v for v in spec.grid.variants if v in P.NATURAL_PASSAGES] or list(
            P.NATURAL_PASSAGES
        )
        trials = []
        for rep in range(spec.trials_per_cell):
            request_id = rep % len(P.NATURAL_REQUESTS)
            for concept in concepts:
                for template in templates:
                    cond: dict[str, Any] = {
                        "concept": concept,
                        "template": template,
                        "relatedness": RELATEDNESS[template],
                        "request_id": request_id,
                        "control": "none",
                        "layer": None,
                        "strength": None,
                        "rep": rep,
                    }
                    prompt = lm.chat_prompt(natural_turns(concept, template, request_id))
                    t = make_trial(spec, cond, prompt, None)
                    t.data["candidates"] = candidates_for(concept, pool, t.seed)
                    trials.append(t)
        return trials

    def run_batch(self, ctx: Context, trials: Sequence[Trial]) -> list[TrialResult]:
        # One call per trial: its candidates share the whole prompt, which the engine then
        # runs once (prefix reuse), so only the few candidate tokens are batched.
        scores: list[float] = []
        for t in trials:
            scores += ctx.engine.continuation_logprobs(
                [t.prompt] * len(t.data["candidates"]), t.data["candidates"]
            )
        layers = layer_conditions(ctx)
        acts = ctx.engine.capture_last([t.prompt for t in trials], layers)  # [B, L, d]
        out, i = [], 0
        for b, t in enumerate(trials):
            cands: list[str] = t.data["candidates"]
            concept = t.condition["concept"]
            mine = scores[i : i + len(cands)]
            i += len(cands)
            target = mine[cands.index(concept)]
            rank = 1 + sum(
                1 for c, s in zip(cands, mine, strict=True) if c != concept and s >= target
            )
            chosen = cands[max(range(len(cands)), key=lambda k: mine[k])]
            vecs = torch.stack([ctx.vectors.get(c) for c in cands])[:, list(layers)]  # [C, L, d]
            cos = torch.nn.functional.cosine_similarity(
                vecs.float(), acts[b][None].float(), dim=-1
            )  # [C, L]
            ci = cands.index(concept)
            others = [k for k in range(len(cands)) if k != ci]
            dist = cos[others].mean(0)
            out.append(
                TrialResult(
                    None,
                    None,
                    {
                        "concept_logprob": float(target),
                        "rank": rank,
                        "n_candidates": len(cands),
                        "chosen": chosen,
                        "cos_by_layer": {
                            str(layer): float(cos[ci, k]) for k, layer in enumerate(layers)
                        },
                        "distractor_cos_by_layer": {
                            str(layer): float(dist[k]) for k, layer in enumerate(layers)
                        },
                    },
                )
            )
        return out
