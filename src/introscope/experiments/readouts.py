"""Readouts from next-token log-probabilities shared by several slices: P(yes) of a
normalised yes/no pair (with its log-odds and the yes+no mass), a target's rank among
candidate words, a word's log-probability as the next token, and the KL divergence of a
next-token distribution from a reference."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from introscope.core.models import LoadedModel

YES_SPELLINGS = ("Yes", "yes", " Yes", " yes", "YES")
NO_SPELLINGS = ("No", "no", " No", " no", "NO")


def first_token_ids(lm: LoadedModel, variants: Sequence[str]) -> list[int]:
    """Distinct first tokens of several spellings ("Yes", " yes", ...)."""
    ids: list[int] = []
    for v in variants:
        toks = lm.encode(v)
        if toks and toks[0] not in ids:
            ids.append(toks[0])
    return ids


def yes_probability(lm: LoadedModel, logprobs: torch.Tensor) -> list[float]:
    """P(yes) / (P(yes) + P(no)) from next-token log-probabilities ``[B, V]``."""
    yes = first_token_ids(lm, YES_SPELLINGS)
    no = first_token_ids(lm, NO_SPELLINGS)
    p = logprobs.exp()
    py = p[:, yes].sum(-1)
    pn = p[:, no].sum(-1)
    return [float(x) for x in (py / (py + pn))]


@dataclass(frozen=True)
class YesNo:
    """A yes/no readout of one next-token distribution."""

    p_yes: float  # P(yes) / (P(yes) + P(no)), as :func:`yes_probability`
    log_odds: float  # log P(yes) - log P(no): exact where p_yes rounds to 0 or 1
    mass: float  # P(yes) + P(no): how much of the next token is a yes or a no at all


def yes_no_readout(lm: LoadedModel, logprobs: torch.Tensor) -> list[YesNo]:
    """:class:`YesNo` for every row of next-token log-probabilities ``[B, V]``."""
    yes = first_token_ids(lm, YES_SPELLINGS)
    no = first_token_ids(lm, NO_SPELLINGS)
    p = logprobs.exp()
    py = p[:, yes].sum(-1)
    pn = p[:, no].sum(-1)
    lo = torch.logsumexp(logprobs[:, yes].double(), -1) - torch.logsumexp(
        logprobs[:, no].double(), -1
    )
    return [
        YesNo(float(a / (a + b)), float(x), float(a + b))
        for a, b, x in zip(py, pn, lo, strict=True)
    ]


def top_candidates(lm: LoadedModel, logprobs: torch.Tensor, candidates: Sequence[str]) -> list[str]:
    """Each row's highest-scoring candidate by first-token log-probability."""
    first = [lm.encode(c)[0] for c in candidates]
    best = logprobs[:, first].argmax(dim=-1)
    return [candidates[int(i)] for i in best]


def candidate_ranks(
    lm: LoadedModel, logprobs: torch.Tensor, candidates: Sequence[str], targets: Sequence[str]
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


def rank_of(scores: Sequence[float], candidates: Sequence[str], target: str) -> tuple[int, str]:
    """(rank of ``target`` among ``candidates`` by ``scores``, the top-scoring candidate).

    Ties count against the target (rank = 1 + every other candidate scoring at least as
    high), as in :func:`candidate_ranks`.
    """
    mine = scores[list(candidates).index(target)]
    rank = 1 + sum(1 for c, s in zip(candidates, scores, strict=True) if c != target and s >= mine)
    chosen = candidates[max(range(len(candidates)), key=lambda k: scores[k])]
    return rank, chosen


def word_spellings(word: str) -> tuple[str, ...]:
    """The spellings a word can start an answer with: as given, lowercased, and both after
    a space."""
    return tuple(dict.fromkeys((word, word.lower(), f" {word}", f" {word.lower()}")))


def word_logprob(lm: LoadedModel, logprobs: torch.Tensor, word: str) -> list[float]:
    """Each row's log-probability that the next token starts ``word`` in one of its
    spellings (log of the summed probability of their distinct first tokens)."""
    ids = first_token_ids(lm, word_spellings(word))
    return [float(x) for x in torch.logsumexp(logprobs[:, ids].double(), dim=-1)]


def kl_divergence(logprobs: torch.Tensor, reference: torch.Tensor) -> list[float]:
    """``KL(P || Q)`` in nats for each row of ``logprobs`` (P) against ``reference`` (Q, one
    row ``[V]``): the expected log-likelihood ratio of P's next token, i.e. how much evidence
    per token an observer of the outputs gets that the distribution changed. Exactly 0 for a
    row equal to the reference; tokens P gives no mass contribute nothing. The float32
    inputs are normalised only to about 1e-7, so a sum that rounds below 0 reads 0."""
    lp = logprobs.double()
    lq = reference.double().reshape(1, -1)
    p = lp.exp()
    terms = torch.where(p > 0, p * (lp - lq), torch.zeros_like(lp))
    return [max(0.0, float(x)) for x in terms.sum(dim=-1)]
