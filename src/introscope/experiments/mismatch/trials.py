"""The mismatch solver: inject concept Y, ask "Are you thinking about X?" (the torch side).

Logit readout: P(yes) / (P(yes) + P(no)) to the question with a yes/no suffix. Three kinds
of trial:

* **congruent**: X = Y (the asked word is the injected concept);
* **incongruent**: X is another word, picked per (concept, rep) with a seeded draw;
* **baseline**: no injection, one set per asked word X (``control == "none"``).

Row contract: ``condition = {concept (Y injected, None on baselines), asked (X), congruent
(bool, None on baselines), layer, strength, control, rep}``; ``logits = {"p_yes"}``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from introscope.core.steering import Window
from introscope.experiments import prompts as P
from introscope.experiments.base import Context, Trial, TrialResult, make_trial
from introscope.experiments.mismatch.params import MismatchParams
from introscope.experiments.readouts import yes_probability
from introscope.experiments.solving import layer_indices, vector_injection
from introscope.store import stable_hash
from introscope.words import word_list


def mismatch_question(word: str) -> str:
    return P.MISMATCH_QUESTION.format(word=word.lower()) + P.YES_NO_SUFFIX


def other_word(concept: str, pool: Sequence[str], seed: int) -> str:
    """A seeded pick of a word other than ``concept`` (case-insensitive)."""
    others = [w for w in pool if w.lower() != concept.lower()]
    return random.Random(seed).choice(others)


def asked_pool(concepts: Sequence[str]) -> list[str]:
    """Words to ask about on incongruent trials: the run's concepts, or with a single concept
    the paper's main list (the asked word needs no vector)."""
    pool = list(dict.fromkeys(concepts))
    if len(pool) < 2:
        pool = list(dict.fromkeys([*pool, *word_list("main")]))
    return pool


class MismatchSolver:
    def words_needed(self, params: MismatchParams) -> list[str]:
        return list(params.concepts)

    def build_trials(self, ctx: Context[MismatchParams]) -> list[Trial]:
        spec, lm, p = ctx.spec, ctx.lm, ctx.params
        pool = asked_pool(p.concepts)
        window = Window.from_marker(P.MISMATCH_MARKER)
        trials: list[Trial] = []
        for rep in range(p.baseline_repeats):
            for asked in p.concepts:
                cond: dict[str, Any] = {
                    "concept": None,
                    "asked": asked,
                    "congruent": None,
                    "layer": None,
                    "strength": None,
                    "control": "none",
                    "rep": rep,
                }
                prompt = lm.chat_prompt(mismatch_question(asked))
                trials.append(make_trial(spec, cond, prompt, None, control="none"))
        for rep in range(p.repeats):
            for concept in p.concepts:
                # One incongruent word per (concept, rep), shared across layers and strengths
                # so every configuration is compared on the same questions.
                other = other_word(
                    concept, pool, int(stable_hash([spec.seed, concept, rep])[:8], 16)
                )
                for layer in layer_indices(ctx, p.layers):
                    for strength in p.strengths:
                        for control in p.controls:
                            for asked, congruent in ((concept, True), (other, False)):
                                cond = {
                                    "concept": concept,
                                    "asked": asked,
                                    "congruent": congruent,
                                    "layer": layer,
                                    "strength": strength,
                                    "control": control,
                                    "rep": rep,
                                }
                                prompt = lm.chat_prompt(mismatch_question(asked))
                                t = make_trial(
                                    spec, cond, prompt, None, concept=concept, control=control
                                )
                                t.injection = vector_injection(
                                    ctx, concept, control, layer, strength, window, t.seed
                                )
                                trials.append(t)
        return trials

    def run_batch(self, ctx: Context[MismatchParams], trials: Sequence[Trial]) -> list[TrialResult]:
        lp = ctx.engine.next_token_logprobs(
            [t.prompt for t in trials], [t.injection for t in trials]
        )
        return [TrialResult(None, None, {"p_yes": p}) for p in yes_probability(ctx.lm, lp)]
