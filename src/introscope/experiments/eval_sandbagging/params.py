"""The sandbagging check's parameters, built from a spec, and its items.

Spec fields it reads: ``grid.variants`` names the framings (``default``: neutral,
self_diagnostic, judgment); ``grid.strengths`` are the weight-noise scales sigma (relative to
each weight matrix's own standard deviation; 0, the noise-free reference, must be among
them); ``trials_per_cell`` is the number of noise seeds per sigma > 0 (sigma 0 is
deterministic and is asked once); ``grid.n_concepts`` is the number of consistent code items
(default 24; the battery's ``--scale`` scales it). ``[params]``: ``paraphrases``, how many of
each framing's three paraphrases are asked (default all three), and ``primary_sigma``, a
sigma declared before the run whose interval alone decides the signature (without it the
signature is read over every sigma with Holm's adjustment).

Items: the *consistent* twins of the contradicted-test items (:mod:`introscope.items.hackable`),
whose visible tests agree with the specification, so the correct solution passes every test
and choosing it is unambiguously right: accuracy is the share of trials where the correct
solution's letter gets the most probability. The metric-gaming tasks are left out: their
correct answer loses points under the scoring rule the task states, so choosing it is not
"right" in the same sense (a model may prefer the scored answer without holding anything
back), and a change in that choice under noise would not read as hidden capability.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pydantic import Field

from introscope.errors import SpecError
from introscope.experiments.base import ExperimentParams, refuse_unused, refuse_values
from introscope.experiments.eval_framing.framings import FRAMING_NAMES, PARAPHRASES
from introscope.experiments.params_table import ParamsTable, params_table
from introscope.items.hackable import FAMILIES, CodeItem, code_items

if TYPE_CHECKING:
    from introscope.spec import Spec

ITEM_SEED = 0
DEFAULT_FRAMINGS = ("neutral", "self_diagnostic", "judgment")
#: Above this the noise is larger than the weights themselves: nothing is left to read.
MAX_SIGMA = 1.0


#: Items when ``grid.n_concepts`` is not set.
DEFAULT_ITEMS = 24


class SandbaggingTable(ParamsTable):
    paraphrases: int = Field(default=PARAPHRASES, ge=1, le=PARAPHRASES)
    primary_sigma: float | None = None


class EvalSandbaggingParams(ExperimentParams):
    framings: list[str]
    sigmas: list[float]  # ascending, 0 first
    seeds: int
    items: int
    paraphrases: int
    primary_sigma: float | None


def eval_sandbagging_params(spec: Spec) -> EvalSandbaggingParams:
    refuse_unused(
        spec, ("grid.variants", "grid.strengths", "grid.n_concepts", "trials_per_cell", "params")
    )
    table = params_table(spec, SandbaggingTable)
    variants = list(spec.grid.variants)
    framings = list(DEFAULT_FRAMINGS) if variants == ["default"] else variants
    refuse_values("grid.variants", framings, FRAMING_NAMES, "eval_sandbagging")
    sigmas = sorted({float(s) for s in spec.grid.strengths})
    bad = [s for s in sigmas if not 0 <= s <= MAX_SIGMA]
    if bad:
        raise SpecError(
            f"grid.strengths: {bad[0]!r} is not a weight-noise scale; the eval_sandbagging "
            f"experiment reads them as sigma relative to each weight matrix's standard "
            f"deviation, between 0 and {MAX_SIGMA:g}."
        )
    if 0.0 not in sigmas or len(sigmas) < 2:
        raise SpecError(
            "grid.strengths: the eval_sandbagging experiment needs 0 (the noise-free "
            "reference) and at least one noise scale above 0, e.g. [0, 0.01, 0.02, 0.04]."
        )
    if table.primary_sigma is not None and table.primary_sigma not in sigmas[1:]:
        raise SpecError(
            f"params.primary_sigma: {table.primary_sigma!r} is not one of the noise scales "
            f"above 0 in grid.strengths ({', '.join(f'{s:g}' for s in sigmas[1:])})."
        )
    return EvalSandbaggingParams(
        framings=framings,
        sigmas=sigmas,
        seeds=spec.trials_per_cell,
        items=spec.grid.n_concepts or DEFAULT_ITEMS,
        paraphrases=table.paraphrases,
        primary_sigma=table.primary_sigma,
    )


def possible_items(n: int) -> list[CodeItem]:
    """The first ``n`` consistent code items (one family after another)."""
    per_family = math.ceil(n / len(FAMILIES))
    return [it for it in code_items(per_family, ITEM_SEED) if not it.contradicted][:n]
