"""The cross-prediction solver (the torch side of the slice; ``docs/protocols.md`` §5c).

First the first model's own behaviour on every item (greedy, so it is fixed): whether its
answer is correct, whether its answer is the first listed option ("A"), and the first word
of its brief free answer. It is kept in ``run_dir/arrays/<spec>.behaviour.json`` so a
resumed run shows the very same examples. Then, per property and shot count k, a fixed pool
of example items (held out from the queries, labels alternating where they can) gives the
first k examples of the first model's behaviour, and every other item is a query. The same
prompt goes to the model itself ("self") and to ``other_model`` ("other"): any difference
is the privileged access the first model has to its own behaviour.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from introscope.core.engine import Engine
from introscope.core.models import LoadedModel, load_model
from introscope.experiments.base import Context, Trial, TrialResult, make_trial
from introscope.experiments.cross_prediction.params import CrossParams
from introscope.experiments.readouts import yes_probability
from introscope.experiments.selfreport import prompts as P
from introscope.experiments.selfreport.params import item_condition
from introscope.experiments.selfreport.probe import Request, answer_prompt, answers
from introscope.items import Item, first_word, surface_features

FREE_TOKENS = 6  # a first word and a little more


def yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def model_behaviour(ctx: Context[Any], items: Sequence[Item]) -> dict[str, dict[str, str]]:
    """Per item id: ``correct`` and ``chooses_a`` ("yes" / "no"; ``chooses_a`` only for
    multiple choice) and ``first_word`` of the greedy free answer."""
    out: dict[str, dict[str, str]] = {}
    bs = ctx.spec.fixed_batch_size
    for k in range(0, len(items), bs):
        chunk = items[k : k + bs]
        prompts = [answer_prompt(ctx, it, "none") for it in chunk]
        found = answers(ctx, [Request(it, "none", 0) for it in chunk], prompts, sample=False)
        free = ctx.engine.generate(prompts, max_new_tokens=FREE_TOKENS, temperature=0.0)
        for it, f, g in zip(chunk, found, free, strict=True):
            b = {"correct": yes_no(f["correct"]), "first_word": first_word(g.text)}
            if it.options:
                b["chooses_a"] = yes_no(f["answer"] == it.options[0])
            out[it.id] = b
    return out


def behaviour_path(ctx: Context[Any]) -> Path | None:
    if ctx.run_dir is None:
        return None
    return ctx.run_dir / "arrays" / f"{ctx.spec.name}.behaviour.json"


def stored_behaviour(ctx: Context[CrossParams]) -> dict[str, dict[str, str]]:
    """The first model's behaviour, read from the run directory when a run of this spec
    stored it, else computed (and stored)."""
    path = behaviour_path(ctx)
    ids = {it.id for it in ctx.params.items}
    if path is not None and path.is_file():
        saved = json.loads(path.read_text(encoding="utf-8"))
        if saved.get("weights_hash") == ctx.lm.info.weights_hash and ids <= set(saved["items"]):
            return dict(saved["items"])
    beh = model_behaviour(ctx, ctx.params.items)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"weights_hash": ctx.lm.info.weights_hash, "items": beh}
        path.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
    return beh


def example_pool(items: Sequence[Item], values: dict[str, str], size: int, seed: int) -> list[Item]:
    """``size`` items drawn with the seed, ordered so labels alternate while both remain
    (so a prompt with k examples shows both behaviours when it can)."""
    shuffled = list(items)
    random.Random(f"{seed}:pool").shuffle(shuffled)
    chosen = shuffled[:size]
    by_value: dict[str, list[Item]] = {}
    for it in chosen:
        by_value.setdefault(values[it.id], []).append(it)
    queues = list(by_value.values())
    out: list[Item] = []
    while any(queues):
        for q in queues:
            if q:
                out.append(q.pop(0))
    return out


class CrossSolver:
    def __init__(self) -> None:
        self.others: dict[str, tuple[LoadedModel, Engine]] = {}

    def other(self, ctx: Context[CrossParams]) -> tuple[LoadedModel, Engine]:
        name = ctx.params.other_model
        assert name is not None
        if name not in self.others:
            lm = load_model(name, device=ctx.spec.device, dtype=ctx.spec.dtype)
            self.others[name] = (lm, Engine(lm))
        return self.others[name]

    def words_needed(self, params: CrossParams) -> list[str]:
        return []

    def build_trials(self, ctx: Context[CrossParams]) -> list[Trial]:
        p, spec = ctx.params, ctx.spec
        beh = stored_behaviour(ctx)
        predictors = [("self", ctx.lm)]
        if p.other_model is not None:
            predictors.append(("other", self.other(ctx)[0]))
        trials = []
        for name, lm in predictors:
            for prop in p.properties:
                eligible = [it for it in p.items if prop in beh[it.id]]
                values = {it.id: beh[it.id][prop] for it in eligible}
                pool = example_pool(eligible, values, max(p.shots), spec.seed)
                held = {it.id for it in pool}
                queries = [it for it in eligible if it.id not in held]
                for k in p.shots:
                    examples = [(it, values[it.id]) for it in pool[:k]]
                    for it in queries:
                        text = P.cross_prediction_prompt(it, prop, examples)
                        cond = item_condition(it, property=prop, shots=k, predictor=name)
                        trials.append(
                            make_trial(
                                spec,
                                cond,
                                lm.chat_prompt(text),
                                None,
                                {"item": it, "actual": values[it.id], "folds": p.folds},
                                concept=it.id,
                                control=name,
                            )
                        )
        return trials

    def run_batch(self, ctx: Context[CrossParams], trials: Sequence[Trial]) -> list[TrialResult]:
        out: list[TrialResult | None] = [None] * len(trials)
        for name in ("self", "other"):
            rows = [i for i, t in enumerate(trials) if t.condition["predictor"] == name]
            if not rows:
                continue
            lm, eng = (ctx.lm, ctx.engine) if name == "self" else self.other(ctx)
            binary = [i for i in rows if trials[i].condition["property"] != "first_word"]
            words = [i for i in rows if trials[i].condition["property"] == "first_word"]
            if binary:
                lp = eng.next_token_logprobs([trials[i].prompt for i in binary])
                for i, p_yes in zip(binary, yes_probability(lm, lp), strict=True):
                    out[i] = self.result(trials[i], yes_no(p_yes >= 0.5), p_yes)
            if words:
                gens = eng.generate([trials[i].prompt for i in words], max_new_tokens=FREE_TOKENS)
                for i, g in zip(words, gens, strict=True):
                    out[i] = self.result(trials[i], first_word(g.text), None, g.text)
        assert all(r is not None for r in out)
        return [r for r in out if r is not None]

    @staticmethod
    def result(
        t: Trial, prediction: str, p_yes: float | None, text: str | None = None
    ) -> TrialResult:
        item: Item = t.data["item"]
        actual = t.data["actual"]
        readout = {
            "property": t.condition["property"],
            "predictor": t.condition["predictor"],
            "shots": t.condition["shots"],
            "actual": actual,
            "prediction": prediction,
            "p_yes": p_yes,
            "hit": prediction == actual,
            "n_options": len(item.options or ()),
            "folds": t.data["folds"],
            "surface": surface_features(item),
        }
        return TrialResult(text, None, readout)
