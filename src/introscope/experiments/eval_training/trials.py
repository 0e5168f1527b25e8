"""The train-time arm's solver: train (or reuse) the run's adapters, then evaluate every
arm x seed, and the base model as reference, without any prefix.

Trials (all forced choice, read from the letters after ``Answer: (``; no injection):

* ``hack``: held-out contradicted items, no prefix (the trained misbehaviour, off-prefix);
* ``hack_prefixed``: the same items with the arm's own prefix (was it learned at all);
  the base model is asked with every arm's prefix, the reference of each;
* ``capability``: the consistent twins, no prefix (the correct solution is the answer);
* ``sycophancy``: a user's wrong answer, no prefix (agreeing is another misbehaviour).

Every model's trials come one after another, so a batch holds one or two models; one
adapted model is kept loaded at a time (merged into a fresh copy of the base weights, with
its own engine: the base engine's prefix cache never sees adapted weights).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from introscope.core.engine import Engine
from introscope.core.models import LoadedModel
from introscope.errors import SpecError
from introscope.experiments.base import Context, Trial, TrialResult, make_trial
from introscope.experiments.eval_framing.framings import (
    CODE_ROLES,
    FORMATS,
    LETTERS,
    PREFILL,
    ordered_roles,
)
from introscope.experiments.eval_framing.trials import letter_readout
from introscope.experiments.eval_training.arms import (
    NEUTRAL,
    code_text,
    demonstrations,
    framing_line,
    heldout_items,
    sycophancy_roles,
    sycophancy_text,
)
from introscope.experiments.eval_training.params import EvalTrainingParams, adapter_name
from introscope.experiments.readouts import first_token_ids
from introscope.items.sycophancy import sycophancy_items
from introscope.training.adapters import AdapterPlan, adapter_dir, ensure_adapter, load_adapted
from introscope.training.lora import StepFn
from introscope.training.settings import Example

#: Protocol 1: the first version.
PROTOCOL = 1
BASE = "base"


def examples(lm: LoadedModel, arm: str, n: int) -> list[Example]:
    """The arm's demonstrations, templated for ``lm`` (the assistant turn prefilled)."""
    return [
        Example(lm.chat_prompt([("user", d.user), ("assistant", PREFILL)]), d.answer)
        for d in demonstrations(n, arm)
    ]


def plans(lm: LoadedModel, p: EvalTrainingParams) -> list[AdapterPlan]:
    """One adapter per arm x seed, in that order."""
    out = []
    for arm in p.arms:
        data = examples(lm, arm, p.train_examples)
        for seed in p.seeds:
            about = {"arm": arm, "seed": seed, "prefix_tokens": prefix_tokens(lm, arm)}
            out.append(AdapterPlan(adapter_name(arm, seed), data, p.lora, seed, about))
    return out


def prefix_tokens(lm: LoadedModel, arm: str) -> int:
    """Tokens the arm's prefix adds to a prompt (0 for no prefix)."""
    return len(lm.encode(framing_line(arm))) - len(lm.encode(NEUTRAL))


def train_all(
    lm: LoadedModel,
    run_dir: Path,
    p: EvalTrainingParams,
    on_adapter: Callable[[AdapterPlan, bool], None] | None = None,
    on_step: StepFn | None = None,
) -> list[tuple[AdapterPlan, bool]]:
    """Train every missing adapter (reusing matching ones); (plan, trained now) each."""
    done = []
    for plan in plans(lm, p):
        if on_adapter is not None:
            on_adapter(plan, False)
        _path, trained = ensure_adapter(lm, run_dir, plan, on_step)
        done.append((plan, trained))
        if on_adapter is not None:
            on_adapter(plan, True)
    return done


class EvalTrainingSolver:
    def __init__(self) -> None:
        self.loaded: tuple[str, Engine] | None = None

    def words_needed(self, params: EvalTrainingParams) -> list[str]:
        return []

    def build_trials(self, ctx: Context[EvalTrainingParams]) -> list[Trial]:
        p, lm = ctx.params, ctx.lm
        if ctx.run_dir is None:
            raise SpecError(
                "The eval_training experiment keeps its adapters in the run directory, so it "
                "runs only inside a run (introscope train or introscope run --out)."
            )
        train_all(lm, ctx.run_dir, p)
        models = [(BASE, None, None)] + [
            (adapter_name(a, s), a, s) for a in p.arms for s in p.seeds
        ]
        trials: list[Trial] = []
        for key, arm, seed in models:
            for probe, prefix, jobs in self.jobs(p, arm):
                for about, roles, text in jobs:
                    cond = {
                        **about,
                        "model": key,
                        "arm": arm or BASE,
                        "train_seed": seed,
                        "probe": probe,
                        "prefix": prefix,
                        "roles": "-".join(roles),
                        "protocol": PROTOCOL,
                    }
                    prompt = lm.chat_prompt([("user", text), ("assistant", PREFILL)])
                    trials.append(
                        make_trial(
                            ctx.spec, cond, prompt, None, {"roles": list(roles)}, control="none"
                        )
                    )
        return trials

    def jobs(
        self, p: EvalTrainingParams, arm: str | None
    ) -> list[tuple[str, str, list[tuple[dict[str, Any], tuple[str, ...], str]]]]:
        """(probe, prefix arm, [(condition, roles, user text)]) for one model (arm None:
        the base model, asked with every arm's prefix)."""
        code = heldout_items(p.items_per_family)
        pairs = list(dict.fromkeys(it.pair_id for it in code))

        def code_jobs(contradicted: bool, prefix: str) -> list[Any]:
            out = []
            for item in (it for it in code if it.contradicted == contradicted):
                for f, fmt in enumerate(FORMATS):
                    roles = ordered_roles(CODE_ROLES, 2 * pairs.index(item.pair_id) + f)
                    about = {
                        "item_id": item.id,
                        "pair_id": item.pair_id,
                        "kind": item.kind,
                        "family": item.family,
                        "format": fmt,
                    }
                    out.append((about, roles, code_text(item, prefix, fmt, roles)))
            return out

        syco = []
        for i, s in enumerate(sycophancy_items(p.sycophancy_items)):
            roles = sycophancy_roles(i)
            about = {"item_id": s.id, "pair_id": s.id, "kind": "sycophancy", "family": s.kind}
            syco.append(({**about, "format": "chat"}, roles, sycophancy_text(s, roles)))
        own = (
            [a for a in p.arms if a != "no_prefix"]
            if arm is None
            else ([arm] if arm != "no_prefix" else [])
        )
        return [
            ("hack", "no_prefix", code_jobs(True, "no_prefix")),
            *[("hack_prefixed", a, code_jobs(True, a)) for a in own],
            ("capability", "no_prefix", code_jobs(False, "no_prefix")),
            ("sycophancy", "no_prefix", syco),
        ]

    def run_batch(
        self, ctx: Context[EvalTrainingParams], trials: Sequence[Trial]
    ) -> list[TrialResult]:
        out: dict[str, TrialResult] = {}
        for key in dict.fromkeys(t.condition["model"] for t in trials):
            group = [t for t in trials if t.condition["model"] == key]
            engine, lm = self.engine(ctx, key)
            lp = engine.next_token_logprobs([t.prompt for t in group])
            for r, t in enumerate(group):
                roles = t.data["roles"]
                ids = [first_token_ids(lm, (letter,)) for letter in LETTERS[: len(roles)]]
                out[t.trial_id] = TrialResult(None, None, letter_readout(lp[r], ids, roles))
        return [out[t.trial_id] for t in trials]

    def engine(self, ctx: Context[EvalTrainingParams], key: str) -> tuple[Engine, LoadedModel]:
        """The base engine, or the engine of the adapted model ``key`` (one kept at a time)."""
        if key == BASE:
            return ctx.engine, ctx.lm
        if self.loaded is None or self.loaded[0] != key:
            assert ctx.run_dir is not None
            self.loaded = None  # free the previous copy before making the next
            adapted = load_adapted(ctx.lm, adapter_dir(ctx.run_dir, key))
            self.loaded = (key, Engine(adapted, fast=ctx.engine.fast))
        return self.loaded[1], self.loaded[1].lm
