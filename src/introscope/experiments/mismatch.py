"""Mismatch control (DESIGN §3.3): inject concept Y, ask "Are you thinking about X?".

Logit readout: P(yes) / (P(yes) + P(no)) to the question with a yes/no suffix. Three kinds
of trial:

* **congruent**: X = Y (the asked word is the injected concept);
* **incongruent**: X is another word, picked per trial with a seeded draw;
* **baseline**: no injection, one set per asked word X (``control == "none"``).

If injection raises P(yes) as much when the asked word is unrelated as when it is the
injected concept, the yes-answer follows the perturbation, not its content. The
congruent - incongruent gap (after subtracting each asked word's baseline) is the part of
the answer that depends on *which* concept was injected.

Row contract: ``condition = {concept (Y injected, None on baselines), asked (X), congruent
(bool, None on baselines), layer, strength, control, rep}``; ``logits = {"p_yes"}``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from introscope.core.steering import Window
from introscope.experiments import prompts as P
from introscope.experiments.base import (
    Context,
    Trial,
    TrialResult,
    layer_conditions,
    make_trial,
    spec_concepts,
    vector_injection,
    yes_probability,
)
from introscope.spec import Spec
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


class Mismatch:
    kind = "mismatch"

    def words_needed(self, spec: Spec) -> list[str]:
        return spec_concepts(spec)

    def build_trials(self, ctx: Context) -> list[Trial]:
        spec, lm = ctx.spec, ctx.lm
        concepts = spec_concepts(spec)
        pool = asked_pool(concepts)
        window = Window.from_marker(P.MISMATCH_MARKER)
        trials: list[Trial] = []
        n_base = spec.control_trials or spec.trials_per_cell
        for rep in range(n_base):
            for asked in concepts:
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
                trials.append(make_trial(spec, cond, prompt, None))
        controls = [c for c in spec.grid.controls if c != "none"]
        for rep in range(spec.trials_per_cell):
            for concept in concepts:
                # One incongruent word per (concept, rep), shared across layers and strengths
                # so every configuration is compared on the same questions.
                other = other_word(
                    concept, pool, int(stable_hash([spec.seed, concept, rep])[:8], 16)
                )
                for layer in layer_conditions(ctx):
                    for strength in spec.grid.strengths:
                        for control in controls:
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
                                t = make_trial(spec, cond, prompt, None)
                                t.injection = vector_injection(
                                    ctx, concept, control, layer, strength, window, t.seed
                                )
                                trials.append(t)
        return trials

    def run_batch(self, ctx: Context, trials: Sequence[Trial]) -> list[TrialResult]:
        lp = ctx.engine.next_token_logprobs(
            [t.prompt for t in trials], [t.injection for t in trials]
        )
        return [TrialResult(None, None, {"p_yes": p}) for p in yes_probability(ctx.lm, lp)]
