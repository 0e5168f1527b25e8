"""What every experiment shares: trials, results, the run context and the registry.

An experiment is three swappable parts: ``build_trials`` (the dataset: spec -> trials, each
with its prompt, injection and seed), ``run_batch`` (the solver: one batched engine call or a
few), and grading inside ``run_batch`` (rule graders; the runner adds the LLM judge).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from introscope.core.engine import Engine
from introscope.core.models import LoadedModel
from introscope.core.steering import Injection, Window
from introscope.core.vectors import VectorSet, control_vector
from introscope.spec import Spec
from introscope.store import stable_hash
from introscope.words import word_list


@dataclass
class Trial:
    trial_id: str
    cell_id: str
    condition: dict[str, Any]
    prompt: str
    injection: Injection | None
    seed: int
    data: dict[str, Any] = field(default_factory=dict)  # experiment-specific inputs


@dataclass
class TrialResult:
    response: str | None = None
    n_response_tokens: int | None = None
    logits: dict[str, Any] | None = None
    grades: dict[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    spec: Spec
    lm: LoadedModel
    engine: Engine
    vectors: VectorSet


class Experiment(Protocol):
    kind: str

    def words_needed(self, spec: Spec) -> list[str]: ...

    def build_trials(self, ctx: Context) -> list[Trial]: ...

    def run_batch(self, ctx: Context, trials: Sequence[Trial]) -> list[TrialResult]: ...


def spec_concepts(spec: Spec) -> list[str]:
    """Concepts named by the grid (explicit words, then categories), or the paper's 50."""
    words = list(spec.grid.concepts)
    for cat in spec.grid.categories:
        words += word_list(cat)
    if not words:
        words = word_list("main")
    words = list(dict.fromkeys(words))
    return words[: spec.grid.n_concepts] if spec.grid.n_concepts else words


def make_trial(
    spec: Spec,
    condition: dict[str, Any],
    prompt: str,
    injection: Injection | None,
    data: dict[str, Any] | None = None,
) -> Trial:
    """Trial id = hash of (spec name, experiment, measure, condition); seed = hash of (spec
    seed, trial id).

    Both depend only on the trial itself, never on batch position, so a resumed or re-batched
    run reproduces every trial exactly.
    """
    cell = {k: v for k, v in condition.items() if k != "rep"}
    key = {"spec": spec.name, "experiment": spec.experiment, "measure": spec.measure}
    trial_id = stable_hash({**key, **condition})[:20]
    cell_id = stable_hash({**key, **cell})[:12]
    seed = int(stable_hash([spec.seed, trial_id])[:8], 16)
    return Trial(trial_id, cell_id, condition, prompt, injection, seed, data or {})


def vector_injection(
    ctx: Context, concept: str, control: str, layer: int, strength: float, window: Window, seed: int
) -> Injection:
    """The injection for a (concept, control) pair: the concept's own vector, a norm-matched
    random vector, the negated vector, or another concept's vector."""
    vec = control_vector(ctx.vectors, concept, control, seed=seed)[layer]
    return Injection(
        vec, (layer,), strength, window, "add", label=f"{control}:{concept}@L{layer}x{strength:g}"
    )


def layer_conditions(ctx: Context) -> list[int]:
    return list(ctx.lm.layer_indices(ctx.spec.grid.layers))


def generate_batch(
    ctx: Context,
    trials: Sequence[Trial],
    prompts: Sequence[str] | None = None,
    windowed: Sequence[Injection | None] | None = None,
) -> list[Any]:
    """One batched generation with the spec's sampling settings and per-trial seeds."""
    s = ctx.spec.sampling
    return ctx.engine.generate(
        list(prompts) if prompts is not None else [t.prompt for t in trials],
        list(windowed) if windowed is not None else [t.injection for t in trials],
        max_new_tokens=s.max_new_tokens,
        temperature=s.temperature,
        top_p=s.top_p,
        seeds=[t.seed for t in trials],
    )


def first_token_ids(lm: LoadedModel, variants: Sequence[str]) -> list[int]:
    """Distinct first tokens of several spellings ("Yes", " yes", ...)."""
    ids: list[int] = []
    for v in variants:
        toks = lm.encode(v)
        if toks and toks[0] not in ids:
            ids.append(toks[0])
    return ids


def yes_probability(lm: LoadedModel, logprobs: Any) -> list[float]:
    """P(yes) / (P(yes) + P(no)) from next-token log-probabilities ``[B, V]``."""
    yes = first_token_ids(lm, ["Yes", "yes", " Yes", " yes", "YES"])
    no = first_token_ids(lm, ["No", "no", " No", " no", "NO"])
    p = logprobs.exp()
    py = p[:, yes].sum(-1)
    pn = p[:, no].sum(-1)
    return [float(x) for x in (py / (py + pn))]


def top_candidates(lm: LoadedModel, logprobs: Any, candidates: Sequence[str]) -> list[str]:
    """Each row's highest-scoring candidate by first-token log-probability."""
    first = [lm.encode(c)[0] for c in candidates]
    best = logprobs[:, first].argmax(dim=-1)
    return [candidates[int(i)] for i in best]


def candidate_ranks(
    lm: LoadedModel, logprobs: Any, candidates: Sequence[str], targets: Sequence[str]
) -> list[int]:
    """Rank (1 = best) of each row's target among candidates by first-token log-probability.

    Candidates that share the target's first token tie with it, and ties count against the
    target (rank = 1 + every other candidate scoring at least as high), so first-token
    collisions can only lower accuracy, never lift it above what the readout distinguishes.
    """
    first = {c: lm.encode(c)[0] for c in candidates}
    ranks = []
    for r, target in enumerate(targets):
        row = logprobs[r]
        score = float(row[first[target]])
        ranks.append(
            1 + sum(1 for c in candidates if c != target and float(row[first[c]]) >= score)
        )
    return ranks
