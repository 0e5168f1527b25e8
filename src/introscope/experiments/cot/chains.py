"""Reasoning chains and what is done to them (torch-free: everything goes through a
:class:`~introscope.experiments.cot.reasoner.Reasoner`).

A chain is the model's continuation of a reasoning prompt, cut where it writes its own
"Answer:" (what follows is the answer, not the reasoning). Its *final answer* is read after
the chain and :data:`~introscope.experiments.cot.prompts.CUE`: the label with the highest
next-token probability for an item with options, a short greedy answer for an open item.

The interventions of Lanham et al. (2023): the chain truncated to a fraction of its tokens,
a filler of the same token count instead of the chain, and a mistake in one step (the first
intermediate result of a word problem changed, the model continuing from the change).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from introscope.experiments.cot.format import label_option, labels, open_key
from introscope.experiments.cot.prompts import CUE
from introscope.experiments.cot.reasoner import Reasoner, RowInjection
from introscope.items import Item
from introscope.items.word_problems import WordProblem

#: Where a chain stops being reasoning: its own answer line.
_OWN_ANSWER = re.compile(r"\banswer\s*:", re.IGNORECASE)
#: The filler that replaces a chain (Lanham et al. used "..." tokens).
FILLER_UNIT = " ..."


@dataclass
class Chain:
    """One reasoning chain and the final answer read after it."""

    prompt: str
    raw: str  # the whole continuation
    cot: str  # the reasoning: ``raw`` cut at its own "Answer:"
    answer: str | None  # a label (an open item: its key); None when nothing was read
    probs: dict[str, float] = field(default_factory=dict)


def cut_at_cue(text: str) -> str:
    """The reasoning part of a continuation: up to its first "Answer:", right-stripped."""
    m = _OWN_ANSWER.search(text)
    return (text[: m.start()] if m else text).rstrip()


def readout_prompt(prompt: str, cot: str) -> str:
    """The prompt whose next token is the final answer after ``cot``."""
    return prompt + cot + CUE


def forced_answers(
    reasoner: Reasoner,
    items: Sequence[Item],
    prompts: Sequence[str],
    injections: Sequence[RowInjection] | None = None,
) -> list[tuple[str | None, dict[str, float]]]:
    """The answer after each readout prompt: the most probable label (items with options),
    or the key of a short greedy answer (open items; those take no injection)."""
    out: list[tuple[str | None, dict[str, float]]] = [(None, {})] * len(items)
    inj = list(injections) if injections is not None else [None] * len(items)
    closed = [i for i, it in enumerate(items) if it.options is not None]
    if closed:
        probs = reasoner.label_probs(
            [prompts[i] for i in closed],
            [labels(items[i]) for i in closed],
            [inj[i] for i in closed],
        )
        for i, p in zip(closed, probs, strict=True):
            out[i] = (max(p, key=lambda k: p[k]), p)
    opened = [i for i, it in enumerate(items) if it.options is None]
    if opened:
        texts = reasoner.short_answers([prompts[i] for i in opened])
        for i, text in zip(opened, texts, strict=True):
            out[i] = (open_key(text) if text.strip() else None, {})
    return out


def run_chains(
    reasoner: Reasoner,
    items: Sequence[Item],
    prompts: Sequence[str],
    seeds: Sequence[int],
    injections: Sequence[RowInjection] | None = None,
) -> list[Chain]:
    """Generate a chain per prompt (batched) and read its final answer (the same injection
    applies to both: it touches prompt tokens, which the readout prompt repeats)."""
    raws = reasoner.generate(prompts, seeds, injections)
    cots = [cut_at_cue(r) for r in raws]
    answers = forced_answers(
        reasoner,
        items,
        [readout_prompt(p, c) for p, c in zip(prompts, cots, strict=True)],
        injections,
    )
    return [
        Chain(p, r, c, a, probs)
        for p, r, c, (a, probs) in zip(prompts, raws, cots, answers, strict=True)
    ]


# --------------------------------------------------------------------------- interventions


def truncated(reasoner: Reasoner, cot: str, fraction: float) -> str:
    """The first ``round(fraction * n)`` tokens of a chain of n tokens, as text."""
    ids = reasoner.encode(cot)
    k = round(fraction * len(ids))
    return reasoner.decode(ids[:k]) if k < len(ids) else cot


def filler(reasoner: Reasoner, n_tokens: int) -> str:
    """A filler of ``n_tokens`` tokens (as near as the tokenizer allows, never more)."""
    text = FILLER_UNIT * n_tokens
    while text and len(reasoner.encode(text)) > n_tokens:
        text = text[: -len(FILLER_UNIT)]
    return text


MistakeSource = Literal["own", "reference"]


@dataclass(frozen=True)
class MistakePlan:
    """A corrupted chain start for a word problem.

    ``own``: the model's chain up to the first place it writes step 1's result, with that
    number changed. ``reference``: the chain never writes it, so step 1 is written for the
    model, wrong (``control`` holds the same start, right). Either way the model continues
    from just after the changed number. ``mistake_label`` is the option the mistake carries
    through to; ``true_label`` the correct one.
    """

    source: MistakeSource
    prefix: str
    control: str | None
    mistake_label: str
    true_label: str
    original: int
    corrupted: int


def _label_of(item: Item, value: int) -> str:
    for lab in labels(item):
        if label_option(item, lab) == str(value):
            return lab
    raise ValueError(f"{value} is not an option of {item.id}")


def plan_mistake(problem: WordProblem, cot: str) -> MistakePlan:
    """Where and how a chain gets its mistake (deterministic: the problem fixes the changed
    value; the chain fixes where)."""
    item = problem.item
    first = problem.steps[0]
    true_value = first.value
    corrupted = problem.mistake_value
    mistake_label = _label_of(item, problem.mistake_answer)
    true_label = _label_of(item, int(item.answer))
    m = re.search(rf"(?<![\d.]){true_value}(?![\d])", cot)
    if m is not None:
        return MistakePlan(
            "own",
            cot[: m.start()] + str(corrupted),
            None,
            mistake_label,
            true_label,
            true_value,
            corrupted,
        )
    left, right = first.operands(0)
    start = f"\nStep 1: {left} {first.op} {right} = "
    return MistakePlan(
        "reference",
        start + str(corrupted),
        start + str(true_value),
        mistake_label,
        true_label,
        true_value,
        corrupted,
    )


def continue_from(
    reasoner: Reasoner,
    items: Sequence[Item],
    prompts: Sequence[str],
    starts: Sequence[str],
    seeds: Sequence[int],
) -> list[Chain]:
    """Let the model continue chains from given starts, then read the final answers."""
    full = [p + s for p, s in zip(prompts, starts, strict=True)]
    raws = reasoner.generate(full, seeds)
    cots = [cut_at_cue(s + r) for s, r in zip(starts, raws, strict=True)]
    answers = forced_answers(
        reasoner, items, [readout_prompt(p, c) for p, c in zip(prompts, cots, strict=True)]
    )
    return [
        Chain(p, r, c, a, probs)
        for p, r, c, (a, probs) in zip(prompts, raws, cots, answers, strict=True)
    ]
