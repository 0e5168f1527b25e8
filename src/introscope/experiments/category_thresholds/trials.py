"""The category-thresholds solver: trials and batches (the torch side of the slice).

Logit readout only. Every injected trial uses detection's prompt
(:func:`~introscope.experiments.prompts.detection_turns` with the yes/no suffix), so all
trials share one prompt and the engine computes the preamble's KV cache once for the whole
sweep (the injection window opens at the trial marker).

Row contract, by ``condition["control"]``:

* ``"concept"`` / ``"random"`` (and ``"negated"`` if the grid asks for it): condition
  ``{concept, category, layer, strength, control}``; readout ``{"p_yes"}``. The random
  control of a concept is one Gaussian direction per concept (seeded by spec seed and
  concept), rescaled to the concept vector's norm at each layer, so its P(yes) curve over
  strength is a matched curve for that concept.
* ``"none"``: one no-injection trial, condition ``{concept: None, category: None, layer:
  None, strength: None, control: "none"}``; readout ``{"p_yes", "resid_norm"}``, where
  ``resid_norm`` maps each grid layer (as a string) to the mean norm of the unperturbed
  residual stream over the injection window's prompt tokens (so strengths can be read as
  ``strength * |v| / |h|``).
* ``"measure"``: one row per concept, no injection, condition ``{concept, category, layer:
  None, strength: None, control: "measure"}``; readout ``{"word_logprob", "word_n_tokens",
  "cosine"}`` where ``word_logprob`` is the log-probability (nats) of the concept word after
  the detection question and the affirmative prefill ``... about the word "`` (log-sum-exp
  over the word as listed and lowercased), ``word_n_tokens`` the token count of the listed
  spelling, and ``cosine`` maps each layer (as a string) to the cosine between the concept
  vector and the no-injection trial prompt's residual activation at its last token.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from introscope.core.steering import Injection, Window
from introscope.core.vectors import random_like
from introscope.experiments import prompts as P
from introscope.experiments.base import Context, Trial, TrialResult, make_trial
from introscope.experiments.category_thresholds.params import CategoryThresholdsParams
from introscope.experiments.readouts import yes_probability
from introscope.experiments.solving import layer_indices, residual_norms
from introscope.store import stable_hash

Ctx = Context[CategoryThresholdsParams]


def trial_prompt(ctx: Ctx) -> str:
    return ctx.lm.chat_prompt(P.detection_turns(P.DETECTION_QUESTION + P.YES_NO_SUFFIX))


def identify_prompt(ctx: Ctx) -> str:
    return ctx.lm.chat_prompt(P.detection_turns(P.DETECTION_QUESTION), prefill=P.IDENTIFY_PREFILL)


class CategoryThresholdsSolver:
    def __init__(self) -> None:
        # Per-(vector set, seed, concept) [n_layers, d] random directions, so a sweep draws
        # each once.
        self._random: dict[tuple[int, int, str], torch.Tensor] = {}

    def words_needed(self, params: CategoryThresholdsParams) -> list[str]:
        return list(params.categories)

    def _random_vector(self, ctx: Ctx, concept: str) -> torch.Tensor:
        key = (id(ctx.vectors), ctx.spec.seed, concept)
        if key not in self._random:
            seed = int(stable_hash([ctx.spec.seed, "random", concept])[:8], 16)
            self._random[key] = random_like(ctx.vectors.get(concept), seed)
        return self._random[key]

    def _vector(self, ctx: Ctx, concept: str, control: str) -> torch.Tensor:
        v = ctx.vectors.get(concept)
        if control == "random":
            return self._random_vector(ctx, concept)
        return -v if control == "negated" else v

    def build_trials(self, ctx: Ctx) -> list[Trial]:
        spec, p = ctx.spec, ctx.params
        prompt = trial_prompt(ctx)
        window = Window.from_marker(P.TRIAL_MARKER)
        layers = layer_indices(ctx, p.layers)
        trials: list[Trial] = []
        for concept, cat in p.categories.items():  # connection measures first: cheap batches
            cond: dict[str, Any] = {
                "concept": concept,
                "category": cat,
                "layer": None,
                "strength": None,
                "control": "measure",
            }
            trials.append(
                make_trial(
                    spec, cond, prompt, None, {"layers": layers}, concept=concept, control="measure"
                )
            )
        none: dict[str, Any] = {
            "concept": None,
            "category": None,
            "layer": None,
            "strength": None,
            "control": "none",
        }
        trials.append(make_trial(spec, none, prompt, None, control="none"))
        for concept, cat in p.categories.items():
            for layer in layers:
                for strength in p.strengths:
                    for control in p.controls:
                        cond = {
                            "concept": concept,
                            "category": cat,
                            "layer": layer,
                            "strength": strength,
                            "control": control,
                        }
                        t = make_trial(spec, cond, prompt, None, concept=concept, control=control)
                        vec = self._vector(ctx, concept, control)[layer]
                        t.injection = Injection(
                            vec,
                            (layer,),
                            strength,
                            window,
                            "add",
                            label=f"{control}:{concept}@L{layer}x{strength:g}",
                        )
                        trials.append(t)
        return trials

    def run_batch(self, ctx: Ctx, trials: Sequence[Trial]) -> list[TrialResult]:
        out: list[TrialResult | None] = [None] * len(trials)
        readout = [i for i, t in enumerate(trials) if t.condition["control"] != "measure"]
        measure = [i for i, t in enumerate(trials) if t.condition["control"] == "measure"]
        if readout:
            lp = ctx.engine.next_token_logprobs(
                [trials[i].prompt for i in readout], [trials[i].injection for i in readout]
            )
            for i, py in zip(readout, yes_probability(ctx.lm, lp), strict=True):
                res: dict[str, Any] = {"p_yes": py}
                if trials[i].condition["control"] == "none":
                    layers = layer_indices(ctx, ctx.params.layers)
                    window = Window.from_marker(P.TRIAL_MARKER)
                    res["resid_norm"] = residual_norms(ctx, trials[i].prompt, layers, window)
                out[i] = TrialResult(None, None, res)
        if measure:
            results = self._measures(ctx, [trials[i] for i in measure])
            for i, r in zip(measure, results, strict=True):
                out[i] = r
        return [r for r in out if r is not None]

    def _measures(self, ctx: Ctx, trials: Sequence[Trial]) -> list[TrialResult]:
        """Connection measures for each concept (no injection)."""
        lm, eng = ctx.lm, ctx.engine
        concepts = [str(t.condition["concept"]) for t in trials]
        # (1) log P(word | detection question + affirmative prefill), either spelling.
        ident = identify_prompt(ctx)
        spellings = [list(dict.fromkeys([c, c.lower()])) for c in concepts]
        flat = [s for ss in spellings for s in ss]
        scores = eng.continuation_logprobs([ident] * len(flat), flat)
        k = 0
        word_lp = []
        for ss in spellings:
            vals = scores[k : k + len(ss)]
            k += len(ss)
            m = max(vals)
            word_lp.append(m + math.log(sum(math.exp(v - m) for v in vals)))
        # (2) cosine(concept vector, trial prompt's own last-token activation) per layer.
        layers = sorted({int(x) for t in trials for x in t.data.get("layers", [])})
        cos: list[dict[str, float]] = [{} for _ in trials]
        if layers:
            acts = eng.capture_last([trials[0].prompt], layers, reuse_prefix=True)
            act = acts[0]  # [n_layers, d]
            for r, c in enumerate(concepts):
                vec = ctx.vectors.get(c).float()
                for j, layer in enumerate(layers):
                    v = vec[layer].to(act.device)
                    cs = torch.nn.functional.cosine_similarity(v, act[j], dim=0)
                    cos[r][str(layer)] = float(cs)
        return [
            TrialResult(
                None,
                None,
                {
                    "word_logprob": lp,
                    "word_n_tokens": len(lm.encode(c)),
                    "cosine": cs,
                },
            )
            for c, lp, cs in zip(concepts, word_lp, cos, strict=True)
        ]
