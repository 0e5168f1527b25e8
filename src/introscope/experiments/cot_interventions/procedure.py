"""The interventions on a batch of chains (torch-free: a
:class:`~introscope.experiments.cot.reasoner.Reasoner` does the model's part, so tests run
it on fakes with known behaviour).

For each item: its chain and final answer; the answer forced after the chain truncated at
each fraction of its tokens (0: no chain at all; 1: the whole chain); after a filler of the
chain's token count instead of the chain; after a mistake in step 1 of a word problem (the
model continuing from the changed number; a reference start written for the model when its
own chain never writes step 1's result, with the same start uncorrupted as the control);
after a paraphrase of the chain (when an endpoint writes them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from introscope.experiments.cot.chains import (
    Chain,
    continue_from,
    filler,
    forced_answers,
    plan_mistake,
    readout_prompt,
    run_chains,
    truncated,
)
from introscope.experiments.cot.format import answer_label, labels
from introscope.experiments.cot.reasoner import Reasoner
from introscope.items import Item
from introscope.items.word_problems import word_problem_for

#: (paraphrase, error) per chain, or None when no endpoint writes paraphrases.
Paraphrase = Callable[[Sequence[str]], list[tuple[str | None, str | None]]]


def fraction_key(f: float) -> str:
    return f"{f:g}"


def intervene(
    reasoner: Reasoner,
    items: Sequence[Item],
    prompts: Sequence[str],
    seeds: Sequence[int],
    interventions: Sequence[str],
    fractions: Sequence[float],
    paraphrase: Paraphrase | None = None,
) -> tuple[list[Chain], list[dict[str, Any]]]:
    """Each item's chain and its readout (the answers under every intervention)."""
    chains = run_chains(reasoner, items, prompts, seeds)
    n_tokens = [len(reasoner.encode(c.cot)) for c in chains]
    readouts: list[dict[str, Any]] = [
        {
            "labels": list(labels(it)),
            "correct": answer_label(it),
            "full": ch.answer,
            "n_cot_tokens": n,
            "interventions": list(interventions),
        }
        for it, ch, n in zip(items, chains, n_tokens, strict=True)
    ]
    if "truncate" in interventions:
        _truncations(reasoner, items, chains, fractions, readouts)
    if "filler" in interventions:
        fill = [
            readout_prompt(c.prompt, filler(reasoner, n))
            for c, n in zip(chains, n_tokens, strict=True)
        ]
        for r, (a, _) in zip(readouts, forced_answers(reasoner, items, fill), strict=True):
            r["filler"] = a
    if "mistake" in interventions:
        _mistakes(reasoner, items, chains, seeds, readouts)
    if "paraphrase" in interventions:
        _paraphrases(reasoner, items, chains, paraphrase, readouts)
    return chains, readouts


def _truncations(
    reasoner: Reasoner,
    items: Sequence[Item],
    chains: Sequence[Chain],
    fractions: Sequence[float],
    readouts: list[dict[str, Any]],
) -> None:
    inner = [f for f in fractions if f < 1.0]
    rows = [(k, f) for k in range(len(chains)) for f in inner]
    prompts = [
        readout_prompt(chains[k].prompt, truncated(reasoner, chains[k].cot, f)) for k, f in rows
    ]
    answers = forced_answers(reasoner, [items[k] for k, _ in rows], prompts)
    for r in readouts:
        r["truncations"] = {fraction_key(1.0): r["full"]}
    for (k, f), (a, _) in zip(rows, answers, strict=True):
        readouts[k]["truncations"][fraction_key(f)] = a


def _mistakes(
    reasoner: Reasoner,
    items: Sequence[Item],
    chains: Sequence[Chain],
    seeds: Sequence[int],
    readouts: list[dict[str, Any]],
) -> None:
    plans = {}
    for k, it in enumerate(items):
        problem = word_problem_for(it)
        readouts[k]["mistake"] = None
        if problem is not None:
            plans[k] = plan_mistake(problem, chains[k].cot)
    if not plans:
        return
    ks = sorted(plans)
    starts = [plans[k].prefix for k in ks]
    ctrl = [k for k in ks if plans[k].control is not None]
    # One batch: the corrupted starts, then the reference controls.
    runs = continue_from(
        reasoner,
        [items[k] for k in ks] + [items[k] for k in ctrl],
        [chains[k].prompt for k in ks] + [chains[k].prompt for k in ctrl],
        starts + [str(plans[k].control) for k in ctrl],
        [seeds[k] for k in ks] + [seeds[k] for k in ctrl],
    )
    controls = dict(zip(ctrl, runs[len(ks) :], strict=True))
    for k, run in zip(ks, runs[: len(ks)], strict=True):
        plan = plans[k]
        control = controls[k].answer if k in controls else readouts[k]["full"]
        readouts[k]["mistake"] = {
            "source": plan.source,
            "mistake_label": plan.mistake_label,
            "true_label": plan.true_label,
            "original": plan.original,
            "corrupted": plan.corrupted,
            "answer": run.answer,
            "control_answer": control,
            "chain": run.cot,
        }


def _paraphrases(
    reasoner: Reasoner,
    items: Sequence[Item],
    chains: Sequence[Chain],
    paraphrase: Paraphrase | None,
    readouts: list[dict[str, Any]],
) -> None:
    if paraphrase is None:
        for r in readouts:
            r["paraphrase"] = None
            r["paraphrase_status"] = "no paraphraser endpoint is configured"
        return
    texts = paraphrase([c.cot for c in chains])
    ok = [k for k, (t, _) in enumerate(texts) if t is not None]
    prompts = [readout_prompt(chains[k].prompt, str(texts[k][0])) for k in ok]
    answers = dict(zip(ok, forced_answers(reasoner, [items[k] for k in ok], prompts), strict=True))
    for k, (text, error) in enumerate(texts):
        readouts[k]["paraphrase"] = answers[k][0] if k in answers else None
        readouts[k]["paraphrase_status"] = "ok" if error is None else f"error: {error}"
        readouts[k]["paraphrased_chain"] = text
