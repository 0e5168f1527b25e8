"""The localization solver: in which of five numbered sentences was the thought injected?
(the torch side of the slice).

Five neutral sentences (from :data:`prompts.SENTENCES`) are shown numbered 1-5; the concept
vector is added on the tokens of exactly one of them (the *target*, a seeded pick). Logit
readout: the next-token distribution over the answers "1".."5" (both spellings, with and
without a leading space, summed), renormalised over the five; the chosen sentence is the
argmax.

**Abstractness confound.** The very same stimuli (same sentences, same target, same
injection) are also shown with the question "Which sentence is the most abstract?". A
concept vector can make a sentence *look* different (more abstract, more salient) without
any access to "where the thought was"; if the abstractness question finds the injected
sentence as often as the localization question does, localization is not evidence of
self-access. No-injection trials on the same stimuli give the positional-bias baseline.

Row contract: ``condition = {question ("injected" | "abstract"), concept (None without
injection), stimulus_id, sentence_ids (5 ints), target (1-based), layer, strength, control,
rep}``; ``logits = {"chosen": int, "target": int, "p_target": float, "probs": [5 floats],
"digit_mass": float}`` (``digit_mass``: raw probability on the five answers before
renormalising, a check that the question is being answered with a number).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import torch

from introscope.core.models import LoadedModel
from introscope.core.steering import Window
from introscope.experiments import prompts as P
from introscope.experiments.base import Context, Trial, TrialResult, make_trial
from introscope.experiments.localization.params import LocalizationParams
from introscope.experiments.readouts import first_token_ids
from introscope.experiments.solving import grid_trials
from introscope.store import stable_hash

N_SENTENCES = 5
QUESTIONS: tuple[str, ...] = ("injected", "abstract")


def stimulus(seed: int) -> tuple[list[int], int]:
    """(sentence ids, 1-based target) for a seeded stimulus."""
    rng = random.Random(seed)
    ids = rng.sample(range(len(P.SENTENCES)), N_SENTENCES)
    return ids, rng.randrange(N_SENTENCES) + 1


def localization_text(sentence_ids: Sequence[int], question: str) -> str:
    lines = "\n".join(f"{i + 1}. {P.SENTENCES[s]}" for i, s in enumerate(sentence_ids))
    return P.LOCALIZATION_INTRO + lines + "\n\n" + P.LOCALIZATION_QUESTIONS[question]


def digit_ids(lm: LoadedModel) -> list[list[int]]:
    """First-token ids of each answer "1".."N" (with and without a leading space)."""
    out = []
    for k in range(1, N_SENTENCES + 1):
        # Only spellings whose first token *is* the digit (" 1" may tokenize as " " + "1").
        ids = first_token_ids(lm, [str(k), f" {k}"])
        out.append([i for i in ids if lm.tokenizer.decode([i]).strip() == str(k)])
    if any(not ids for ids in out):
        raise ValueError("The tokenizer has no single-token answers 1-5.")
    flat = [i for ids in out for i in ids]
    if len(set(flat)) != len(flat):
        raise ValueError("The tokenizer does not give the answers 1-5 distinct first tokens.")
    return out


class LocalizationSolver:
    def words_needed(self, params: LocalizationParams) -> list[str]:
        return list(params.concepts)

    def build_trials(self, ctx: Context[LocalizationParams]) -> list[Trial]:
        spec, lm, p = ctx.spec, ctx.lm, ctx.params
        trials: list[Trial] = []
        for rep in range(p.repeats):
            for ci, concept in enumerate(p.concepts):
                # The stimulus depends on (seed, concept, rep) only: every layer, strength,
                # control and question sees the same sentences and the same target.
                sids, target = stimulus(int(stable_hash([spec.seed, "loc", concept, rep])[:8], 16))
                stim_id = rep * len(p.concepts) + ci
                window = Window.span_marker(P.SENTENCES[sids[target - 1]])
                data = {"sentence_ids": sids}
                for question in QUESTIONS:
                    prompt = lm.chat_prompt(localization_text(sids, question))
                    base: dict[str, Any] = {
                        "question": question,
                        "stimulus_id": stim_id,
                        "sentence_ids": sids,
                        "target": target,
                        "rep": rep,
                    }
                    cond = {
                        **base,
                        "concept": None,
                        "layer": None,
                        "strength": None,
                        "control": "none",
                    }
                    trials.append(make_trial(spec, cond, prompt, None, data, control="none"))
                    # The injection seed (for random controls) is the stimulus's, so both
                    # questions get the identical perturbation.
                    trials += grid_trials(
                        ctx, concept, prompt, window, base, data, injection_seed=stim_id
                    )
        return trials

    def run_batch(
        self, ctx: Context[LocalizationParams], trials: Sequence[Trial]
    ) -> list[TrialResult]:
        lp = ctx.engine.next_token_logprobs(
            [t.prompt for t in trials], [t.injection for t in trials]
        )
        p = lp.exp()
        mass = torch.stack([p[:, ids].sum(-1) for ids in digit_ids(ctx.lm)], dim=-1)  # [B, 5]
        total = mass.sum(-1, keepdim=True)
        probs = mass / total.clamp_min(1e-30)
        out = []
        for t, row, m in zip(trials, probs, total[:, 0], strict=True):
            target = int(t.condition["target"])
            ps = [float(x) for x in row]
            chosen = max(range(N_SENTENCES), key=lambda k: ps[k]) + 1
            out.append(
                TrialResult(
                    None,
                    None,
                    {
                        "chosen": chosen,
                        "target": target,
                        "p_target": ps[target - 1],
                        "probs": ps,
                        "digit_mass": float(m),
                    },
                )
            )
        return out
