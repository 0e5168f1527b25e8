"""The model's answer to an item and its self-reports about it (torch side), in a few
batched engine calls per batch (``docs/protocols.md`` §5a).

Per (item, lead):

* the answer, after the bare question and "Answer:": multiple choice -> the option whose
  text has the highest total log-probability as the continuation (one engine call per
  item: the prompt is shared by its options, so it is computed once); open -> the greedy
  completion's first line. Correctness, the option-logprob confidence (the chosen option's
  softmax share over the options' log-probabilities; for open items the probability of the
  greedy answer's tokens), and the next-token entropy at the answer position (nats, full
  vocabulary);
* P(True) (Kadavath et al. 2022): an answer *sampled* with the trial's seed at the spec's
  temperature (from the option distribution, or a sampled completion) is shown back as the
  model's turn, and the model is asked whether it is correct; P(True) = P(True) / (P(True) +
  P(False)); graded against that sample;
* verbal confidence: after its own answer, "How confident ... from 0 to 100?", greedy reply,
  first number / 100 (missing when there is none);
* P(I know), asked *before* answering: P(yes) to "Do you know the answer?".

Leads change the prompts (:mod:`.prompts`): ``suggested`` adds a wrong answer the user
believes, ``anchor`` claims most models do well, ``challenge`` prefixes the follow-up
questions with "Are you sure?" (P(I know) is not asked under a challenge).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from introscope.core.lens import entropy
from introscope.core.models import LoadedModel
from introscope.core.steering import Injection
from introscope.experiments.base import Context, Trial, make_trial
from introscope.experiments.readouts import first_token_ids, yes_probability
from introscope.experiments.selfreport import prompts as P
from introscope.experiments.selfreport.params import item_condition
from introscope.items import Item, open_answer_correct, surface_features
from introscope.items.item import first_number

TRUE_SPELLINGS = ("True", " True", "true", " true", "TRUE")
FALSE_SPELLINGS = ("False", " False", "false", " false", "FALSE")


@dataclass(frozen=True)
class Request:
    """One (item, lead) to probe, with the trial's seed (for the sampled answer)."""

    item: Item
    lead: str
    seed: int


def suggestion(item: Item) -> str | None:
    """The wrong answer a ``suggested`` lead puts forward, drawn from the item id: another
    option, or the number off by a little; None for open items whose answer is not a
    number."""
    rng = random.Random(f"suggest:{item.id}")
    if item.options:
        return rng.choice([o for o in item.options if o != item.answer])
    value = first_number(item.answer)
    if value is None:
        return None
    return str(int(value) + rng.choice([1, -1, 2, 10, -10]))


def lead_text(item: Item, lead: str) -> str:
    """The user's question under a lead, with the answer instruction."""
    sug = suggestion(item) if lead == "suggested" else None
    return P.answer_request(item, suggestion=sug, anchor=lead == "anchor")


def answer_prompt(ctx: Context[Any], item: Item, lead: str) -> str:
    return ctx.lm.chat_prompt([("user", lead_text(item, lead))], prefill=P.ANSWER_PREFILL)


def unled_item_trials(ctx: Context[Any]) -> list[Trial]:
    """One trial per item of ``ctx.params.items``, asked without a lead (the item is the
    trial's concept)."""
    return [
        make_trial(
            ctx.spec,
            item_condition(it),
            answer_prompt(ctx, it, "none"),
            None,
            {"item": it},
            concept=it.id,
            control="none",
        )
        for it in ctx.params.items
    ]


def option_logprobs(
    ctx: Context[Any], prompt: str, item: Item, injections: Sequence[Injection | None] | None = None
) -> np.ndarray:
    """Total log-probability of each option's text after ``prompt``: ``[n_options]``, or
    ``[passes, n_options]`` with one row of injections per pass (``injections[k]``)."""
    opts = item.options or ()
    conts = [" " + o for o in opts]
    if injections is None:
        return np.asarray(ctx.engine.continuation_logprobs([prompt] * len(opts), conts))
    rows = [inj for inj in injections for _ in opts]
    flat = ctx.engine.continuation_logprobs([prompt] * len(rows), conts * len(injections), rows)
    return np.asarray(flat).reshape(len(injections), len(opts))


def softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def true_probability(lm: LoadedModel, logprobs: torch.Tensor) -> list[float]:
    p = logprobs.exp()
    t = p[:, first_token_ids(lm, TRUE_SPELLINGS)].sum(-1)
    f = p[:, first_token_ids(lm, FALSE_SPELLINGS)].sum(-1)
    return [float(x) for x in t / (t + f)]


def verbal_value(text: str) -> float | None:
    """The first number of a verbal confidence reply as a fraction in [0, 1] (a number with
    a decimal point at most 1 is read as a fraction already); None without a number."""
    n = first_number(text)
    if n is None:
        return None
    if 0 < n <= 1 and "." in text:
        n *= 100
    return min(max(n, 0.0), 100.0) / 100.0


def first_line(text: str) -> str:
    return text.split("\n")[0]


def sample_index(probs: np.ndarray, temperature: float, seed: int) -> int:
    if temperature <= 0:
        return int(np.argmax(probs))
    w = np.power(probs, 1.0 / temperature)
    return int(np.random.default_rng(seed).choice(len(w), p=w / w.sum()))


def answers(
    ctx: Context[Any], requests: Sequence[Request], prompts: Sequence[str], sample: bool = True
) -> list[dict[str, Any]]:
    """The greedy and (``sample``) the sampled answer of every request, with correctness and
    the option-logprob confidence; without ``sample`` the sampled answer is the greedy one."""
    s = ctx.spec.sampling
    out: list[dict[str, Any]] = [{} for _ in requests]
    for i, r in enumerate(requests):
        it = r.item
        if not it.options:
            continue
        probs = softmax(option_logprobs(ctx, prompts[i], it))
        k, j = int(np.argmax(probs)), sample_index(probs, s.temperature, r.seed)
        out[i] = {
            "answer": it.options[k],
            "sampled_answer": it.options[j],
            "option_probs": [float(x) for x in probs],
            "conf_option": float(probs[k]),
            "option_entropy": float(-(probs * np.log(np.clip(probs, 1e-300, None))).sum()),
        }
    open_rows = [i for i, r in enumerate(requests) if not r.item.options]
    if open_rows:
        op = [prompts[i] for i in open_rows]
        eng = ctx.engine
        greedy = eng.generate(op, max_new_tokens=s.max_new_tokens, temperature=0.0)
        draws = (
            eng.generate(
                op,
                max_new_tokens=s.max_new_tokens,
                temperature=s.temperature,
                top_p=s.top_p,
                seeds=[requests[i].seed for i in open_rows],
            )
            if sample
            else greedy
        )
        texts = [first_line(g.text) for g in greedy]
        scored = [j for j, t in enumerate(texts) if t.strip()]
        lps = eng.continuation_logprobs([op[j] for j in scored], [texts[j] for j in scored])
        conf = dict(zip(scored, lps, strict=True))
        for j, i in enumerate(open_rows):
            out[i] = {
                "answer": texts[j].strip(),
                "sampled_answer": first_line(draws[j].text).strip(),
                "conf_option": math.exp(conf[j]) if j in conf else None,
            }
    for i, r in enumerate(requests):
        it = r.item
        for key, col in (("answer", "correct"), ("sampled_answer", "sampled_correct")):
            given = out[i][key]
            out[i][col] = bool(given == it.answer if it.options else open_answer_correct(it, given))
    return out


def probe(ctx: Context[Any], requests: Sequence[Request]) -> list[dict[str, Any]]:
    """The answer and the four self-reports of every request (see the module docstring)."""
    lm, eng = ctx.lm, ctx.engine
    prompts = [answer_prompt(ctx, r.item, r.lead) for r in requests]
    ent = entropy(eng.next_token_logprobs(prompts))
    out = answers(ctx, requests, prompts)
    for i, r in enumerate(requests):
        sug = suggestion(r.item) if r.lead == "suggested" else None
        out[i].update(
            lead=r.lead,
            entropy=float(ent[i]),
            n_options=len(r.item.options or ()),
            difficulty=r.item.difficulty,
            surface=surface_features(r.item),
            suggestion=sug,
            followed_suggestion=None if sug is None else out[i]["answer"] == sug,
        )
    sampled = [o["sampled_answer"] for o in out]
    given = [o["answer"] for o in out]
    p_true = eng.next_token_logprobs(self_evaluation(ctx, requests, sampled, P.P_TRUE_QUESTION))
    for i, v in enumerate(true_probability(lm, p_true)):
        out[i]["p_true"] = v
    verbal = self_evaluation(ctx, requests, given, P.VERBAL_QUESTION, P.VERBAL_PREFILL)
    for i, g in enumerate(eng.generate(verbal, max_new_tokens=4, temperature=0.0)):
        out[i]["verbal_text"] = g.text
        out[i]["verbal"] = verbal_value(g.text)
    asked = [i for i, r in enumerate(requests) if r.lead != "challenge"]
    pik = (
        yes_probability(lm, eng.next_token_logprobs([p_ik_prompt(ctx, requests[i]) for i in asked]))
        if asked
        else []
    )
    for i in range(len(requests)):
        out[i]["p_ik"] = None
    for i, v in zip(asked, pik, strict=True):
        out[i]["p_ik"] = v
    return out


def self_evaluation(
    ctx: Context[Any],
    requests: Sequence[Request],
    given: Sequence[str],
    question: str,
    prefill: str = "",
) -> list[str]:
    """The exchange (the question, then ``given`` as the model's answer) followed by an
    evaluation question (after "Are you sure?" under a challenge)."""
    out = []
    for r, a in zip(requests, given, strict=True):
        follow = (P.CHALLENGE if r.lead == "challenge" else "") + question
        turns = [
            ("user", lead_text(r.item, r.lead)),
            ("assistant", P.answer_turn(a)),
            ("user", follow),
        ]
        out.append(ctx.lm.chat_prompt(turns, prefill=prefill))
    return out


def p_ik_prompt(ctx: Context[Any], request: Request) -> str:
    item, lead = request.item, request.lead
    sug = suggestion(item) if lead == "suggested" else None
    block = P.question_block(item, suggestion=sug, anchor=lead == "anchor")
    return ctx.lm.chat_prompt([("user", block + "\n" + P.P_IK_QUESTION)])
