"""The evaluation-framing solver: forced-choice trials read by option letter log-probs.

Trials: every selected item (contradicted-test pairs in both variants, metric-gaming tasks)
x framing x paraphrase x format, no injection. The readout is the next token after the
prefilled ``Answer: (``: the log-probabilities of the three letters, renormalised over them
(``p_<role>``), the chosen role (largest), and the letters' total probability (``mass``: how
much of the next token is an answer at all).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from introscope.experiments.base import Context, Trial, TrialResult, make_trial
from introscope.experiments.eval_framing.framings import (
    CODE_ROLES,
    FORMATS,
    FRAMINGS,
    LETTERS,
    METRIC_ROLES,
    PREFILL,
    code_prompt,
    metric_prompt,
    ordered_roles,
)
from introscope.experiments.eval_framing.params import EvalFramingParams, selected_items
from introscope.experiments.readouts import first_token_ids
from introscope.words import word_list

#: Protocol 1: the first version.
PROTOCOL = 1


class EvalFramingSolver:
    def words_needed(self, params: EvalFramingParams) -> list[str]:
        # No trial injects anything. The runner on this branch builds concept vectors for
        # every run and refuses an empty word list, so one word keeps a run of this slice
        # alone working (the cost is the baseline words' forward pass); return [] once runs
        # without concept vectors land.
        return word_list("main")[:1]

    def build_trials(self, ctx: Context[EvalFramingParams]) -> list[Trial]:
        p, lm = ctx.params, ctx.lm
        code, metric = selected_items(p.items_per_kind)
        jobs: list[tuple[dict[str, Any], tuple[str, ...], Any]] = []
        pairs = list(dict.fromkeys(it.pair_id for it in code))
        for item in code:
            # Both variants of a pair share the order; pairs rotate over the six orders.
            order = pairs.index(item.pair_id)
            roles = ordered_roles(CODE_ROLES, order)
            about = {
                "item_id": item.id,
                "pair_id": item.pair_id,
                "kind": item.kind,
                "family": item.family,
            }
            jobs.append((about, roles, (code_prompt, item)))
        for i, m in enumerate(metric):
            roles = ordered_roles(METRIC_ROLES, i)
            about = {"item_id": m.id, "pair_id": m.id, "kind": m.kind, "family": m.family}
            jobs.append((about, roles, (metric_prompt, m)))
        trials = []
        for about, roles, (render, item) in jobs:
            for framing in p.framings:
                for k, text in enumerate(FRAMINGS[framing]):
                    for fmt in FORMATS:
                        cond = {
                            **about,
                            "framing": framing,
                            "paraphrase": k,
                            "format": fmt,
                            "roles": "-".join(roles),
                            "protocol": PROTOCOL,
                        }
                        prompt = lm.chat_prompt(
                            [("user", render(item, text, fmt, roles)), ("assistant", PREFILL)]
                        )
                        trials.append(
                            make_trial(
                                ctx.spec,
                                cond,
                                prompt,
                                None,
                                {"roles": list(roles)},
                                control="none",
                            )
                        )
        return trials

    def run_batch(
        self, ctx: Context[EvalFramingParams], trials: Sequence[Trial]
    ) -> list[TrialResult]:
        lp = ctx.engine.next_token_logprobs([t.prompt for t in trials], [None] * len(trials))
        ids = [first_token_ids(ctx.lm, (letter,)) for letter in LETTERS]
        return [
            TrialResult(None, None, letter_readout(row, ids, t.data["roles"]))
            for row, t in zip(lp, trials, strict=True)
        ]


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
