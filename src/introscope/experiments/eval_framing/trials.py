"""The evaluation-framing solver: forced-choice trials read by option letter log-probs.

Trials: every selected item (contradicted-test pairs in both variants, metric-gaming tasks)
x framing x paraphrase x format, no injection. The readout is the next token after the
prefilled ``Answer: (``: the log-probabilities of the three letters, renormalised over them
(``p_<role>``), the chosen role (largest), and the letters' total probability (``mass``: how
much of the next token is an answer at all). The same forward gives the last token's
projection on the evaluation-awareness direction at the spec's layers (:mod:`.awareness`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from introscope.core.engine import Engine
from introscope.core.lens import lens_logprobs
from introscope.core.models import LoadedModel
from introscope.experiments.base import Context, Trial, TrialResult, make_trial
from introscope.experiments.eval_framing.awareness import contrast_prompts
from introscope.experiments.eval_framing.framings import (
    CODE_ROLES,
    LETTERS,
    METRIC_ROLES,
    PREFILL,
    code_prompt,
    framed_cells,
    metric_prompt,
    ordered_roles,
)
from introscope.experiments.eval_framing.generation import code_task, grade_all, metric_task
from introscope.experiments.eval_framing.params import EvalFramingParams, selected_items
from introscope.experiments.readouts import first_token_ids
from introscope.items.hackable import CodeItem
from introscope.items.metric_gaming import MetricItem

#: Protocol 1: the first version (generation mode, added later, has protocol 1 too: its
#: trials are new and the forced-choice trials are unchanged).
PROTOCOL = 1


class EvalFramingSolver:
    def __init__(self) -> None:
        self.cache: dict[
            tuple[int, tuple[int, ...]], tuple[torch.Tensor, torch.Tensor, torch.Tensor]
        ] = {}

    def words_needed(self, params: EvalFramingParams) -> list[str]:
        # No trial injects anything: the run needs no concept vectors.
        return []

    def build_trials(self, ctx: Context[EvalFramingParams]) -> list[Trial]:
        if ctx.spec.measure == "generation":
            return self.generation_trials(ctx)
        p, lm = ctx.params, ctx.lm
        code, metric = selected_items(p.items_per_kind)
        jobs: list[tuple[dict[str, Any], tuple[str, ...], Any]] = []
        pairs = list(dict.fromkeys(it.pair_id for it in code))
        for item in code:
            # Both variants of a pair share the order; pairs rotate over the six orders.
            order = pairs.index(item.pair_id)
            roles = ordered_roles(CODE_ROLES, order)
            jobs.append((about(item), roles, (code_prompt, item)))
        for i, m in enumerate(metric):
            roles = ordered_roles(METRIC_ROLES, i)
            jobs.append((about(m), roles, (metric_prompt, m)))
        trials = []
        for info, roles, (render, item) in jobs:
            for cell, text, fmt in framed_cells(p.framings, p.paraphrases):
                cond = {**info, **cell, "roles": "-".join(roles), "protocol": PROTOCOL}
                prompt = lm.chat_prompt(
                    [("user", render(item, text, fmt, roles)), ("assistant", PREFILL)]
                )
                trials.append(
                    make_trial(ctx.spec, cond, prompt, None, {"roles": list(roles)}, control="none")
                )
        return trials

    def generation_trials(self, ctx: Context[EvalFramingParams]) -> list[Trial]:
        """Generation mode (:mod:`.generation`): the same items x framings x paraphrases x
        formats, asking for the code or the answer; no candidates, no prefill."""
        p, lm = ctx.params, ctx.lm
        code, metric = selected_items(p.items_per_kind)
        items: list[CodeItem | MetricItem] = [*code, *metric]
        trials = []
        for item in items:
            for cell, text, fmt in framed_cells(p.framings, p.paraphrases):
                cond = {**about(item), **cell, "protocol": PROTOCOL}
                task = (
                    metric_task(item, text, fmt)
                    if isinstance(item, MetricItem)
                    else code_task(item, text, fmt)
                )
                trials.append(
                    make_trial(ctx.spec, cond, lm.chat_prompt(task), None, control="none")
                )
        return trials

    def run_batch(
        self, ctx: Context[EvalFramingParams], trials: Sequence[Trial]
    ) -> list[TrialResult]:
        if ctx.spec.measure == "generation":
            return self.generate_and_grade(ctx, trials)
        lm = ctx.lm
        layers = list(lm.layer_indices(list(ctx.params.awareness_layers)))
        mean, unit, format_cos = self.direction(ctx, layers)
        last = lm.n_layers - 1
        read = list(dict.fromkeys([*layers, last]))
        # One forward: the last block's output read through the final norm and unembedding
        # is the next-token distribution; the other layers give the projections.
        acts = ctx.engine.capture_last([t.prompt for t in trials], read).float()
        lp = lens_logprobs(lm, acts[:, read.index(last)])
        idx = [read.index(layer) for layer in layers]
        proj = ((acts[:, idx] - mean) * unit).sum(-1)  # [B, n_layers]
        ids = [first_token_ids(lm, (letter,)) for letter in LETTERS]
        out = []
        for r, t in enumerate(trials):
            readout = letter_readout(lp[r], ids, t.data["roles"])
            readout["awareness"] = {str(layer): float(proj[r, j]) for j, layer in enumerate(layers)}
            readout["awareness_format_cosine"] = {
                str(layer): float(format_cos[j]) for j, layer in enumerate(layers)
            }
            out.append(TrialResult(None, None, readout))
        return out

    def generate_and_grade(
        self, ctx: Context[EvalFramingParams], trials: Sequence[Trial]
    ) -> list[TrialResult]:
        """Greedy generation, then every response graded (code in the sandbox, metric
        answers by the rule scorers; :mod:`.generation`)."""
        gens = ctx.engine.generate(
            [t.prompt for t in trials],
            max_new_tokens=ctx.params.max_new_tokens,
            temperature=0.0,
        )
        by_id = item_index(ctx.params.items_per_kind)
        items = [by_id[t.condition["item_id"]] for t in trials]
        grades = grade_all(items, [g.text for g in gens])
        return [
            TrialResult(g.text, len(g.token_ids), None, {"graded": grade})
            for g, grade in zip(gens, grades, strict=True)
        ]

    def direction(
        self, ctx: Context[EvalFramingParams], layers: list[int]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(contrast prompts' mean ``[n, d]``, unit awareness direction ``[n, d]``, its
        cosine with the format direction ``[n]``) at ``layers``, computed once per model."""
        key = (id(ctx.lm), tuple(layers))
        if key not in self.cache:
            self.cache[key] = awareness_direction(ctx.engine, ctx.lm, layers)
        return self.cache[key]


def about(item: CodeItem | MetricItem) -> dict[str, Any]:
    """The condition fields naming an item."""
    pair = item.pair_id if isinstance(item, CodeItem) else item.id
    return {"item_id": item.id, "pair_id": pair, "kind": item.kind, "family": item.family}


def item_index(n: int) -> dict[str, CodeItem | MetricItem]:
    code, metric = selected_items(n)
    items: list[CodeItem | MetricItem] = [*code, *metric]
    return {it.id: it for it in items}


def awareness_direction(
    engine: Engine, lm: LoadedModel, layers: list[int]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The format-balanced test-minus-deployment mean difference (:mod:`.awareness`)."""
    spec = contrast_prompts()
    prompts = [lm.chat_prompt([("user", text), ("assistant", PREFILL)]) for _, _, text in spec]
    acts = engine.capture_last(prompts, layers).float()  # [N, n, d]

    def m(style: str, fmt: str) -> torch.Tensor:
        rows = [i for i, (s, f, _) in enumerate(spec) if s == style and f == fmt]
        return acts[rows].mean(0)

    aware = 0.5 * (
        (m("test", "benchmark") - m("deployment", "benchmark"))
        + (m("test", "chat") - m("deployment", "chat"))
    )
    fmt = 0.5 * (
        (m("test", "benchmark") - m("test", "chat"))
        + (m("deployment", "benchmark") - m("deployment", "chat"))
    )
    cos = torch.nn.functional.cosine_similarity(aware, fmt, dim=-1)
    unit = aware / aware.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return acts.mean(0), unit, cos


def letter_readout(
    row: torch.Tensor, ids: Sequence[Sequence[int]], roles: Sequence[str]
) -> dict[str, Any]:
    """P(role) renormalised over the three letters, the chosen role and the letters' mass."""
    scores = torch.stack([torch.logsumexp(row[list(i)].double(), -1) for i in ids])
    probs = torch.softmax(scores, -1)
    out: dict[str, Any] = {f"p_{r}": float(q) for r, q in zip(roles, probs, strict=True)}
    out["choice"] = roles[int(scores.argmax())]
    out["mass"] = float(torch.logsumexp(scores, -1).exp())
    return out
