"""The natural-states solver: trials and batches (the torch side of the slice).

No injection. Two readouts per trial:

(a) the report: the total log-probability of the concept word as the reply
    (``continuation_logprobs``), and its rank among 10 candidates (the concept and 9 seeded
    distractors) by the same score;
(b) the state: the cosine between the model's own residual activation at the passage's
    last token and the concept's vector, at each of the spec's layers, and the mean cosine
    with the 9 distractors' vectors (a within-trial baseline).

The state is read where the passage ends, before the request, the reply and the question.
Protocol 1 read it at the last prompt token, the very position whose next-token logits give
the report: there the projection onto a concept direction is in part the report itself (a
logit-lens identity), so a correlation with the report says nothing about a state the
report is read from.

Row contract: ``condition = {concept, template, relatedness (3/2/1), request_id, control
("none"), layer (None), strength (None), rep}``; readout ``{"concept_logprob", "rank",
"n_candidates", "chosen", "cos_by_layer": {layer: cos}, "distractor_cos_by_layer": {layer:
mean cos}, "read_at": "passage_end"}`` (layer keys are strings, as they are once stored as
JSON; protocol-1 readouts have no ``read_at``).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import torch

from introscope.core.steering import Window
from introscope.experiments import prompts as P
from introscope.experiments.base import Context, Trial, TrialResult, make_trial
from introscope.experiments.natural_states.params import NaturalStatesParams
from introscope.experiments.readouts import rank_of
from introscope.experiments.solving import layer_indices
from introscope.words import word_list

N_CANDIDATES = 10
#: Relatedness of the passage's text to the concept, by template (higher = more related).
RELATEDNESS: dict[str, int] = {"repeated": 3, "single": 2, "incidental": 1}
#: Where the state is read (the readout's ``read_at``).
READ_AT = "passage_end"


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
    """The concept and up to 9 distractors drawn from the pool with the trial's seed."""
    others = [w for w in pool if w != concept]
    picks = random.Random(seed).sample(others, min(N_CANDIDATES - 1, len(others)))
    return sorted([concept, *picks])


def natural_passage(concept: str, template: str) -> str:
    return P.NATURAL_PASSAGES[template].format(word=concept.lower())


def natural_turns(concept: str, template: str, request_id: int) -> list[tuple[str, str]]:
    """The passage and an unrelated request, the assistant's reply, then the question."""
    passage = natural_passage(concept, template)
    return [
        ("user", f"{passage}\n\n{P.NATURAL_REQUESTS[request_id]}"),
        ("assistant", P.NATURAL_ACKS[request_id]),
        ("user", P.NATURAL_QUESTION),
    ]


class NaturalStatesSolver:
    def words_needed(self, params: NaturalStatesParams) -> list[str]:
        return candidate_pool(params.concepts)

    def build_trials(self, ctx: Context[NaturalStatesParams]) -> list[Trial]:
        spec, lm, p = ctx.spec, ctx.lm, ctx.params
        pool = candidate_pool(p.concepts)
        trials = []
        for rep in range(p.repeats):
            request_id = rep % len(P.NATURAL_REQUESTS)
            for concept in p.concepts:
                for template in p.templates:
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
                    t = make_trial(spec, cond, prompt, None, concept=concept, control="none")
                    t.data["candidates"] = candidates_for(concept, pool, t.seed)
                    t.data["passage"] = natural_passage(concept, template)
                    trials.append(t)
        return trials

    def run_batch(
        self, ctx: Context[NaturalStatesParams], trials: Sequence[Trial]
    ) -> list[TrialResult]:
        # One call per trial: its candidates share the whole prompt, which the engine then
        # runs once (prefix reuse), so only the few candidate tokens are batched.
        scores: list[float] = []
        for t in trials:
            scores += ctx.engine.continuation_logprobs(
                [t.prompt] * len(t.data["candidates"]), t.data["candidates"]
            )
        layers = layer_indices(ctx, ctx.params.layers)
        acts = passage_end_states(ctx, trials, layers)  # [B, L, d]
        out, i = [], 0
        for b, t in enumerate(trials):
            cands: list[str] = t.data["candidates"]
            concept = t.condition["concept"]
            mine = scores[i : i + len(cands)]
            i += len(cands)
            rank, chosen = rank_of(mine, cands, concept)
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
                        "concept_logprob": float(mine[ci]),
                        "rank": rank,
                        "n_candidates": len(cands),
                        "chosen": chosen,
                        "cos_by_layer": {
                            str(layer): float(cos[ci, k]) for k, layer in enumerate(layers)
                        },
                        "distractor_cos_by_layer": {
                            str(layer): float(dist[k]) for k, layer in enumerate(layers)
                        },
                        "read_at": READ_AT,
                    },
                )
            )
        return out


def passage_end_states(
    ctx: Context[NaturalStatesParams], trials: Sequence[Trial], layers: Sequence[int]
) -> torch.Tensor:
    """The residual activations (block outputs) at ``layers`` at each trial's last passage
    token: ``[B, n_layers, d]``."""
    spans = ctx.engine.capture(
        [t.prompt for t in trials],
        layers,
        positions=[Window.span_marker(t.data["passage"]) for t in trials],
    )
    return torch.stack([s[-1] for s in spans])
