"""The hidden-state linkage solver: per item, the self-reports (:mod:`..selfreport.probe`)
and the hidden-state variables at the answer position (the torch side of the slice).

* next-token entropy at the answer position (from the probe);
* the residual-stream norm at every layer and the logit-lens entropy at every layer (one
  capture of the last prompt token at all layers);
* dropout sensitivity: ``dropout_passes`` passes with dropout at rate p on the residual
  stream at the declared layers (from the answer position on, or over every token), each
  pass with its own seed derived from the trial's; the variance over passes of the answer
  distribution (multiple choice: the option distribution, summed over options; open: the
  probability of the undropped top token) and the rate at which the top answer flips.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from introscope.core.lens import layer_entropies, lens_logprobs
from introscope.core.steering import Injection, Window
from introscope.experiments.base import Context, Trial, TrialResult
from introscope.experiments.hidden_state_linkage.params import LinkageParams
from introscope.experiments.selfreport.probe import (
    Request,
    option_logprobs,
    probe,
    softmax,
    unled_item_trials,
)
from introscope.experiments.solving import layer_indices
from introscope.items import Item
from introscope.store import stable_hash


def pass_seed(trial_seed: int, k: int) -> int:
    return int(stable_hash(["dropout", trial_seed, k])[:8], 16)


def dropout_sensitivity(
    ctx: Context[LinkageParams], trial: Trial, found: dict[str, Any], base_logp: torch.Tensor
) -> dict[str, float]:
    """Variance over dropout passes of the answer distribution (multiple choice: the option
    distribution, variances summed over options; open: the probability of the undropped top
    next token) and the rate at which the top answer flips. One engine call per item: every
    row is the same prompt, so everything before the dropout window is computed once."""
    p = ctx.params
    item: Item = trial.data["item"]
    layers = tuple(layer_indices(ctx, p.layers))
    window = Window.from_index(-1) if p.dropout_window == "last" else Window.all()
    passes: list[Injection | None] = [
        Injection.dropout(p.dropout_p, layers, window, seed=pass_seed(trial.seed, k))
        for k in range(p.dropout_passes)
    ]
    if item.options:
        dist = softmax(option_logprobs(ctx, trial.prompt, item, passes))  # [passes, n]
        base = int(np.argmax(found["option_probs"]))
        flips = dist.argmax(axis=1) != base
        return {
            "dropout_var": float(dist.var(axis=0, ddof=1).sum()),
            "dropout_flip_rate": float(np.mean(flips)),
        }
    logp = ctx.engine.next_token_logprobs([trial.prompt] * len(passes), passes)
    top = int(base_logp.argmax())
    p_top = logp[:, top].exp().double().cpu().numpy()
    return {
        "dropout_var": float(p_top.var(ddof=1)),
        "dropout_flip_rate": float(np.mean(logp.argmax(dim=-1).cpu().numpy() != top)),
    }


class LinkageSolver:
    def words_needed(self, params: LinkageParams) -> list[str]:
        return []

    def build_trials(self, ctx: Context[LinkageParams]) -> list[Trial]:
        return unled_item_trials(ctx)

    def run_batch(self, ctx: Context[LinkageParams], trials: Sequence[Trial]) -> list[TrialResult]:
        found = probe(ctx, [Request(t.data["item"], "none", t.seed) for t in trials])
        prompts = [t.prompt for t in trials]
        acts = ctx.engine.capture_last(
            prompts, list(range(ctx.lm.n_layers)), reuse_prefix=True
        )  # [B, L, d]
        norms = acts.norm(dim=-1)
        lens = layer_entropies(ctx.lm, acts)
        # The last block's output read through the final norm and unembedding is the
        # next-token distribution: no second forward pass for the undropped answer.
        base = lens_logprobs(ctx.lm, acts[:, -1])
        declared = layer_indices(ctx, ctx.params.layers)
        out = []
        for i, (t, f) in enumerate(zip(trials, found, strict=True)):
            f.update(
                norm_by_layer=[float(x) for x in norms[i]],
                lens_entropy_by_layer=[float(x) for x in lens[i]],
                declared_layers=declared,
                **dropout_sensitivity(ctx, t, f, base[i]),
            )
            out.append(TrialResult(f["answer"], None, f))
        return out
