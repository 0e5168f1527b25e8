"""The intentional-control experiment's parameters, built from a spec.

The spec's ``grid.variants`` name the instructions the model gets while it writes the
sentence. A spec that leaves ``variants`` at its default (``["default"]``) gets the paper's
pair, think / don't think, as the old runner did.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, cast

from introscope.errors import SpecError
from introscope.experiments.base import (
    ExperimentParams,
    refuse_unused,
    refuse_values,
    spec_concepts,
)
from introscope.experiments.grid import PRIMARY_FIELD, check_primary

if TYPE_CHECKING:
    from introscope.spec import Spec

Instruction = Literal["think", "dont_think", "silent_task", "mention"]

#: Every instruction, in the order tables and figures list them (the keys of
#: :data:`introscope.experiments.prompts.INTENT_INSTRUCTIONS`).
INSTRUCTIONS: tuple[Instruction, ...] = ("think", "dont_think", "silent_task", "mention")

#: What an unset ``grid.variants`` means here: the paper's contrast.
DEFAULT_INSTRUCTIONS: tuple[Instruction, ...] = ("think", "dont_think")


class IntentionalControlParams(ExperimentParams):
    words: list[str]  # the word the model is told to think (or not think) about, per trial
    instructions: list[Instruction]  # from grid.variants
    repeats: int  # trials per (word, instruction) cell; each repeat shifts the sentence


def intentional_control_params(spec: Spec) -> IntentionalControlParams:
    refuse_unused(
        spec,
        (
            "grid.concepts",
            "grid.categories",
            "grid.n_concepts",
            "grid.variants",
            "trials_per_cell",
            PRIMARY_FIELD,
        ),
    )
    # Every layer is read out, so a declared readout layer may be any layer of the model.
    check_primary(spec, layers=None, strengths=False)
    variants = list(spec.grid.variants)
    if variants == ["default"]:  # the spec's default: variants not set
        instructions = list(DEFAULT_INSTRUCTIONS)
    else:
        if not variants:
            raise SpecError(
                "grid.variants: give at least one instruction of the intentional_control "
                f"experiment ({', '.join(repr(i) for i in INSTRUCTIONS)})."
            )
        refuse_values("grid.variants", variants, INSTRUCTIONS, spec.experiment)
        instructions = [cast(Instruction, v) for v in variants]
    return IntentionalControlParams(
        words=spec_concepts(spec), instructions=instructions, repeats=spec.trials_per_cell
    )
