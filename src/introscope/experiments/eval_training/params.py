"""The train-time arm's parameters, built from a spec.

Spec fields it reads: ``grid.variants`` names the arms (``default``: all four; ``no_prefix``
is required, the reference of every contrast); ``trials_per_cell`` is the number of held-out
contradicted-test pairs per held-out family; ``[params]`` holds the training settings:
``seeds`` (how many adapters per arm: seeds 0..n-1), ``train_examples``, ``rank``,
``alpha``, ``learning_rate``, ``epochs``, ``batch_size`` and ``sycophancy_items``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from introscope.errors import SpecError
from introscope.experiments.base import ExperimentParams, refuse_unused, refuse_values
from introscope.experiments.eval_training.arms import ARMS
from introscope.experiments.params_table import ParamsTable, params_table
from introscope.training.settings import LoraSettings

if TYPE_CHECKING:
    from introscope.spec import Spec


class TrainingTable(ParamsTable):
    seeds: int = Field(default=3, ge=1, le=20)
    train_examples: int = Field(default=320, ge=1, le=5000)
    rank: int = Field(default=8, ge=1, le=256)
    alpha: int = Field(default=16, ge=1)
    learning_rate: float = Field(default=1e-3, gt=0, le=1)
    epochs: int = Field(default=1, ge=1, le=20)
    batch_size: int = Field(default=8, ge=1, le=256)
    sycophancy_items: int = Field(default=24, ge=0, le=1000)


class EvalTrainingParams(ExperimentParams):
    arms: list[str]
    seeds: list[int]
    items_per_family: int
    train_examples: int
    sycophancy_items: int
    lora: LoraSettings


def eval_training_params(spec: Spec) -> EvalTrainingParams:
    refuse_unused(spec, ("grid.variants", "trials_per_cell", "params"))
    variants = list(spec.grid.variants)
    arms = list(ARMS) if variants == ["default"] else variants
    refuse_values("grid.variants", arms, ARMS, "eval_training")
    if "no_prefix" not in arms:
        raise SpecError(
            "grid.variants: the eval_training experiment needs 'no_prefix' (the reference of "
            "every contrast) among its arms."
        )
    t = params_table(spec, TrainingTable)
    return EvalTrainingParams(
        arms=arms,
        seeds=list(range(t.seeds)),
        items_per_family=spec.trials_per_cell,
        train_examples=t.train_examples,
        sycophancy_items=t.sycophancy_items,
        lora=LoraSettings(
            rank=t.rank,
            alpha=t.alpha,
            learning_rate=t.learning_rate,
            epochs=t.epochs,
            batch_size=t.batch_size,
        ),
    )


def adapter_name(arm: str, seed: int) -> str:
    return f"{arm}-seed{seed}"
