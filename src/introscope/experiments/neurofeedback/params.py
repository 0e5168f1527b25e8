"""The neurofeedback experiment's parameters.

``grid.layers``: where sentences' activations are read (mean over the sentence's tokens);
``grid.n_concepts``: query sentences per (axis, layer, shots); ``trials_per_cell``: draws
of the in-context examples. ``[params]``: ``axes`` (``lr``: a logistic-regression axis for
the indoor/outdoor tag; ``pc1``, ``pc2``, ...: principal components; ``random``; the
hidden-state variables ``entropy`` (next-token entropy after the sentence) and ``norm``
(norm of the mean activation); the surface axis ``length`` (tokens)), ``shots`` (in-context
examples), ``tasks`` (``report``, ``explicit`` and ``implicit`` control),
``control_shots`` and ``control_sentences`` (examples and sentences per target of the
control tasks).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from introscope.experiments.base import ExperimentParams, refuse_unused
from introscope.experiments.selfreport.params import ParamsTable, params_table
from introscope.items import sentence_bank

if TYPE_CHECKING:
    from introscope.spec import Spec

Task = Literal["report", "explicit", "implicit"]
TASKS: tuple[Task, ...] = ("report", "explicit", "implicit")
DEFAULT_AXES = ("lr", "pc1", "pc2", "random", "entropy", "norm", "length")
#: Axes whose value does not depend on the layer (read once, ``layer`` None).
LAYERLESS = frozenset({"entropy", "length"})
AXIS_NAME = re.compile(r"^(lr|random|entropy|norm|length|pc[1-9][0-9]?)$")
#: Half the bank gives the examples (and fits the axes), half the queries.
QUERY_POOL = len(sentence_bank()) // 2


class NeurofeedbackTable(ParamsTable):
    axes: list[str] = Field(default_factory=lambda: list(DEFAULT_AXES), min_length=1)
    shots: list[int] = Field(default_factory=lambda: [0, 4, 16, 64], min_length=1)
    tasks: list[Task] = Field(default_factory=lambda: list(TASKS))
    control_shots: int = Field(default=16, ge=0, le=QUERY_POOL)
    control_sentences: int = Field(default=8, ge=1, le=QUERY_POOL)

    @field_validator("axes")
    @classmethod
    def _axes(cls, v: list[str]) -> list[str]:
        for a in v:
            if not AXIS_NAME.match(a):
                raise ValueError(
                    f"unknown axis {a!r} (use lr, pc1, pc2, ..., random, entropy, norm, length)"
                )
        if len(set(v)) != len(v):
            raise ValueError("an axis is listed twice")
        return v

    @field_validator("shots")
    @classmethod
    def _shots(cls, v: list[int]) -> list[int]:
        if any(k < 0 or k > QUERY_POOL for k in v) or len(set(v)) != len(v):
            raise ValueError(f"shots must be distinct counts between 0 and {QUERY_POOL}")
        return sorted(v)


class NeurofeedbackParams(ExperimentParams):
    axes: list[str]
    layers: list[int | float | str]
    shots: list[int]
    tasks: list[Task]
    control_shots: int
    control_sentences: int
    queries: int
    repeats: int


def neurofeedback_params(spec: Spec) -> NeurofeedbackParams:
    refuse_unused(spec, ("grid.n_concepts", "grid.layers", "trials_per_cell", "params"))
    t = params_table(spec, NeurofeedbackTable)
    return NeurofeedbackParams(
        axes=list(t.axes),
        layers=list(spec.grid.layers),
        shots=list(t.shots),
        tasks=list(t.tasks),
        control_shots=t.control_shots,
        control_sentences=t.control_sentences,
        queries=min(spec.grid.n_concepts or 40, QUERY_POOL),
        repeats=spec.trials_per_cell,
    )
