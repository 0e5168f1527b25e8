"""The detection experiment's parameters, built from a spec.

``grid.variants`` names the wordings and injection windows the trials run under
(``docs/protocols.md`` §2a, "Wordings and injection windows"):

* ``default``: the paper's preamble; the injection runs from the trial question through the
  answer (left unset, ``grid.variants`` means this alone, and its trials keep their ids);
* ``internal``: the paper's wording, but the injection touches only the model's earlier
  acknowledgement turn, so the question and answer positions see it only through attention
  to perturbed keys and values (the KV cache), never by a direct push;
* ``skeptical``: a preamble stating a low base rate (about one trial in five);
* ``uninformed``: a preamble that never mentions injection;
* ``persona``: the question asked about a third party (a model named Sam).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, cast

from introscope.errors import SpecError
from introscope.experiments.base import (
    EXPERIMENT_FIELDS,
    refuse_unused,
    refuse_values,
    spec_concepts,
)
from introscope.experiments.grid import (
    GRID_FIELDS,
    PRIMARY_FIELD,
    Control,
    InjectionGrid,
    check_other_control,
    grid_values,
)

if TYPE_CHECKING:
    from introscope.spec import Spec

Variant = Literal["default", "internal", "skeptical", "uninformed", "persona"]
VARIANTS: tuple[Variant, ...] = ("default", "internal", "skeptical", "uninformed", "persona")
#: Variants whose injection window is the paper's (from the trial question on).
WORDINGS: tuple[Variant, ...] = ("default", "skeptical", "uninformed", "persona")


class DetectionParams(InjectionGrid):
    controls: list[Control]  # per concept: its own vector, random, negated, or no injection
    control_trials: int  # no-injection trials (the false-positive control), per variant
    repeats: int  # trials per (concept, layer, strength, control) cell
    variants: list[Variant]  # wordings / injection windows, in trial order


def detection_params(spec: Spec) -> DetectionParams:
    refuse_unused(
        spec,
        (
            *GRID_FIELDS,
            PRIMARY_FIELD,
            "grid.controls",
            "grid.variants",
            "control_trials",
            "trials_per_cell",
        ),
    )
    variants = list(spec.grid.variants)
    if variants != EXPERIMENT_FIELDS["grid.variants"]:
        if not variants:
            raise SpecError("grid.variants: give at least one variant (e.g. 'default').")
        refuse_values("grid.variants", variants, VARIANTS, spec.experiment)
        if len(set(variants)) != len(variants):
            raise SpecError("grid.variants: a variant is listed twice.")
    check_other_control(spec.grid.controls, spec_concepts(spec))
    return DetectionParams(
        **grid_values(spec),
        controls=list(spec.grid.controls),
        control_trials=spec.control_trials,
        repeats=spec.trials_per_cell,
        variants=cast(list[Variant], variants),
    )
