"""The evaluation-framing steering experiment's parameters, built from a spec.

Spec fields it reads: ``grid.n_concepts`` is the number of items per hackable kind (the
first contradicted-test items and metric-gaming tasks of
:func:`eval_framing.params.selected_items`; default 12), as the chain-of-thought slices count
their items, so the battery's ``--scale`` scales it;
``grid.layers`` are the injection layers; ``grid.strengths`` the signed strengths (``+``
toward the test-style side for the awareness direction, toward the self-diagnostic side for
the framing direction). A strength is in the spec's ``grid.strength_unit``:

* ``multiplier`` (the default): a multiple of the direction's own mean difference (the
  test-minus-deployment difference, or the self-diagnostic-minus-judgment difference), as a
  concept vector's strength is a multiple of the concept vector;
* ``residual_norm``: the injected vector's norm is that fraction of the layer's mean
  residual norm (measured per model over the baseline prompts, ``docs/scale-out.md``).

``[params]``: ``n_random`` (random unit directions per item, layer and strength for the
awareness comparison; the framing direction gets one norm-matched random direction) and
``paraphrases`` (how many of each framing's three paraphrases are asked).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from introscope.errors import SpecError
from introscope.experiments.base import ExperimentParams, refuse_unused
from introscope.experiments.eval_framing.framings import PARAPHRASES
from introscope.experiments.params_table import ParamsTable, params_table

if TYPE_CHECKING:
    from introscope.spec import Spec


#: Items per kind when ``grid.n_concepts`` is not set.
DEFAULT_ITEMS = 12


class SteeringTable(ParamsTable):
    n_random: int = Field(default=4, ge=1, le=64)
    paraphrases: int = Field(default=1, ge=1, le=PARAPHRASES)


class EvalSteeringParams(ExperimentParams):
    items_per_kind: int
    layers: list[int | float | str]
    strengths: list[float]
    n_random: int
    paraphrases: int
    #: Strengths as fractions of the layer's residual norm (``grid.strength_unit``).
    relative: bool


def eval_steering_params(spec: Spec) -> EvalSteeringParams:
    refuse_unused(spec, ("grid.n_concepts", "grid.layers", "grid.strengths", "params"))
    table = params_table(spec, SteeringTable)
    strengths = [float(s) for s in spec.grid.strengths]
    if not strengths or all(s == 0.0 for s in strengths):
        raise SpecError(
            "grid.strengths: the eval_framing_steering experiment needs at least one nonzero "
            "strength (signed: + toward the test-style or self-diagnostic side)."
        )
    if len(set(strengths)) != len(strengths):
        raise SpecError(f"grid.strengths: {strengths} lists a strength twice.")
    if len(spec.grid.layers) == 0:
        raise SpecError("grid.layers: the eval_framing_steering experiment needs a layer.")
    return EvalSteeringParams(
        items_per_kind=spec.grid.n_concepts or DEFAULT_ITEMS,
        layers=list(spec.grid.layers),
        strengths=strengths,
        n_random=table.n_random,
        paraphrases=table.paraphrases,
        relative=spec.grid.strength_unit != "multiplier",
    )
