"""The neurofeedback solver (the torch side; ``docs/protocols.md`` §5d), re-implemented
from the paradigm's description in Ji-An et al. (2025).

The sentence bank is split by the seed into an example pool (which also fits the axes) and
a query pool. Each axis labels every sentence A (above the bank's median score) or B. A
prompt shows N example sentences with their labels (alternating A and B where it can) and
then:

* ``report``: a query sentence, "What is the label?" -> P(A) / (P(A) + P(B));
* ``explicit`` control: "Write a sentence that would get label T" -> the generated
  sentence's score on the axis (read as the bank's sentences are read);
* ``implicit`` control: "Keep label T in mind while you read this sentence: ..." -> the
  score of the activations over that sentence, for T = A and T = B.

All trials of one (axis, layer, N, draw) share their examples, so ``run_batch`` makes one
engine call per such group and the examples are computed once.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from introscope.experiments.base import Context, Trial, TrialResult, make_trial
from introscope.experiments.neurofeedback.axes import Axis, Features, fit_axis
from introscope.experiments.neurofeedback.features import (
    bank_features,
    last_span,
    standalone,
    text_features,
)
from introscope.experiments.neurofeedback.params import LAYERLESS, NeurofeedbackParams
from introscope.experiments.readouts import first_token_ids
from introscope.experiments.selfreport import prompts as P
from introscope.experiments.solving import layer_indices
from introscope.items import sentence_bank


@dataclass(frozen=True)
class Plan:
    """The bank's features, the pools and the fitted axes of one spec."""

    features: Features
    pool: list[int]
    queries: list[int]
    axes: list[tuple[Axis, int | None]]  # (axis, layer index of the model)


def balanced(order: Sequence[int], labels: Sequence[str]) -> list[int]:
    """``order`` rearranged so labels alternate A, B, A, ... while both remain."""
    a = [i for i in order if labels[i] == "A"]
    b = [i for i in order if labels[i] == "B"]
    out: list[int] = []
    while a or b:
        for q in (a, b):
            if q:
                out.append(q.pop(0))
    return out


def make_plan(ctx: Context[NeurofeedbackParams]) -> Plan:
    p, bank = ctx.params, sentence_bank()
    layers = layer_indices(ctx, p.layers)
    f = bank_features(ctx, [s.text for s in bank], layers)
    order = list(range(len(bank)))
    random.Random(f"{ctx.spec.seed}:split").shuffle(order)
    half = len(order) // 2
    pool, queries = sorted(order[:half]), sorted(order[half:])
    tags = np.array([s.setting == "outdoor" for s in bank])
    axes: list[tuple[Axis, int | None]] = []
    for name in p.axes:
        where = [(None, None)] if name in LAYERLESS else list(enumerate(layers))
        for li, layer in where:
            axis = fit_axis(name, li, layer, f, np.array(pool), tags, ctx.spec.seed)
            if axis is not None:
                axes.append((axis, layer))
    return Plan(f, pool, queries, axes)


def axis_facts(axis: Axis, f: Features) -> dict[str, Any]:
    scores = axis.score(f)
    r = np.corrcoef(scores, f.length)[0, 1] if scores.std() > 0 and f.length.std() > 0 else np.nan
    return {
        "var_explained": axis.var_explained,
        "length_r": float(r),
        "share_a": float(np.mean(np.array(axis.labels(f)) == "A")),
    }


def axis_trials(
    ctx: Context[NeurofeedbackParams],
    plan: Plan,
    axis: Axis,
    layer: int | None,
    rep: int,
    ex_order: list[int],
    queries: list[int],
) -> list[Trial]:
    """Every trial of one axis (at one layer) and one draw of the examples."""
    p, bank = ctx.params, sentence_bank()
    labels = axis.labels(plan.features)
    examples = balanced(ex_order, labels)
    data = {"axis": axis, "facts": axis_facts(axis, plan.features)}
    out: list[Trial] = []

    def context(n: int) -> str:
        return P.neurofeedback_context([(bank[i].text, labels[i]) for i in examples[:n]])

    def add(cond: dict[str, Any], user: str, prefill: str = "", **extra: Any) -> None:
        full = {"axis": axis.name, "layer": layer, "rep": rep, **cond}
        prompt = ctx.lm.chat_prompt(user, prefill=prefill)
        out.append(
            make_trial(
                ctx.spec,
                full,
                prompt,
                None,
                {**data, **extra},
                concept=axis.name,
                control=cond["task"],
            )
        )

    if "report" in p.tasks:
        for n in p.shots:
            head = context(n)
            for q in queries:
                add(
                    {"task": "report", "shots": n, "sentence": bank[q].id},
                    head + "\n\n" + P.NF_REPORT.format(sentence=bank[q].text),
                    P.NF_REPORT_PREFILL,
                    label=labels[q],
                )
    head = context(p.control_shots)
    for target in P.NF_LABELS:
        if "explicit" in p.tasks:
            for j in range(p.control_sentences):
                add(
                    {"task": "explicit", "shots": p.control_shots, "target": target, "draw": j},
                    head + "\n\n" + P.NF_EXPLICIT.format(target=target),
                )
        if "implicit" in p.tasks and axis.name != "length":  # a given sentence's length is fixed
            for q in queries[: p.control_sentences]:
                s = bank[q].text
                add(
                    {
                        "task": "implicit",
                        "shots": p.control_shots,
                        "target": target,
                        "sentence": bank[q].id,
                    },
                    head + "\n\n" + P.NF_IMPLICIT.format(target=target, sentence=s),
                    text=s,
                )
    return out


class NeurofeedbackSolver:
    def words_needed(self, params: NeurofeedbackParams) -> list[str]:
        return []

    def build_trials(self, ctx: Context[NeurofeedbackParams]) -> list[Trial]:
        p = ctx.params
        plan = make_plan(ctx)
        trials: list[Trial] = []
        for rep in range(p.repeats):
            rng = random.Random(f"{ctx.spec.seed}:draw:{rep}")
            ex_order = rng.sample(plan.pool, len(plan.pool))
            queries = rng.sample(plan.queries, len(plan.queries))[: p.queries]
            for axis, layer in plan.axes:
                trials += axis_trials(ctx, plan, axis, layer, rep, ex_order, queries)
        return trials

    def run_batch(
        self, ctx: Context[NeurofeedbackParams], trials: Sequence[Trial]
    ) -> list[TrialResult]:
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i, t in enumerate(trials):
            c = t.condition
            key = (c["task"], c["axis"], c["layer"], c["shots"], c["rep"])
            groups.setdefault(key, []).append(i)
        out: list[TrialResult | None] = [None] * len(trials)
        for (task, *_), rows in groups.items():
            batch = [trials[i] for i in rows]
            runner = {"report": self.report, "explicit": self.explicit, "implicit": self.implicit}
            for i, r in zip(rows, runner[task](ctx, batch), strict=True):
                out[i] = r
        return [r for r in out if r is not None]

    def report(
        self, ctx: Context[NeurofeedbackParams], trials: Sequence[Trial]
    ) -> list[TrialResult]:
        lp = ctx.engine.next_token_logprobs([t.prompt for t in trials]).exp()
        a = lp[:, first_token_ids(ctx.lm, ("A", " A"))].sum(-1)
        b = lp[:, first_token_ids(ctx.lm, ("B", " B"))].sum(-1)
        out = []
        for t, pa in zip(trials, (a / (a + b)).tolist(), strict=True):
            pred = "A" if pa >= 0.5 else "B"
            readout = {
                "p_a": pa,
                "prediction": pred,
                "label": t.data["label"],
                "correct": pred == t.data["label"],
                **t.data["facts"],
            }
            out.append(TrialResult(None, None, readout))
        return out

    def scored(
        self, axis: Axis, f: Features, texts: Sequence[str | None], trials: Sequence[Trial]
    ) -> list[TrialResult]:
        scores = axis.score(f)
        out = []
        for t, s, text in zip(trials, scores, texts, strict=True):
            target = t.condition["target"]
            side = "A" if s > axis.median else "B"
            readout = {
                "target": target,
                "score": float(s),
                "score_z": float((s - axis.median) / axis.scale),
                "side": side,
                "hit": side == target,
                **t.data["facts"],
            }
            out.append(TrialResult(text, None, readout))
        return out

    def explicit(
        self, ctx: Context[NeurofeedbackParams], trials: Sequence[Trial]
    ) -> list[TrialResult]:
        s = ctx.spec.sampling
        gens = ctx.engine.generate(
            [t.prompt for t in trials],
            max_new_tokens=s.max_new_tokens,
            temperature=s.temperature,
            top_p=s.top_p,
            seeds=[t.seed for t in trials],
        )
        texts = [g.text.strip().split("\n")[0].strip() or g.text.strip() or "." for g in gens]
        layers = layer_indices(ctx, ctx.params.layers)
        f = standalone(ctx, texts, layers)
        return self.scored(trials[0].data["axis"], f, texts, trials)

    def implicit(
        self, ctx: Context[NeurofeedbackParams], trials: Sequence[Trial]
    ) -> list[TrialResult]:
        layers = layer_indices(ctx, ctx.params.layers)
        windows = [last_span(t.prompt, t.data["text"]) for t in trials]
        f = text_features(ctx, [t.prompt for t in trials], windows, layers)
        return self.scored(trials[0].data["axis"], f, [None] * len(trials), trials)
