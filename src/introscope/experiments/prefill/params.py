"""The prefill experiment's parameters, built from a spec.

Prefill builds its own conditions per prefilled word (:data:`CONDITIONS`), so it does not
read ``grid.controls``; a spec that sets it is refused rather than ignored.

Each trial's store columns follow the condition dict as the pre-slice runner wrote them:
``concept`` = the condition's ``word`` (the prefilled word, also the ``match`` vector) and
``control`` = the condition's ``injected`` (none / match / other). The vector actually
injected is the condition's ``inject_concept``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from introscope.experiments.base import refuse_unused
from introscope.experiments.grid import GRID_FIELDS, PRIMARY_FIELD, InjectionGrid, grid_values

if TYPE_CHECKING:
    from introscope.spec import Spec

#: The injected conditions, in table order: no injection, the prefilled word's own vector
#: ("match"), another run word's vector ("other").
CONDITIONS: tuple[str, ...] = ("none", "match", "other")


class PrefillParams(InjectionGrid):
    """``concepts`` are the prefilled words (each one's own vector is "match"; the "other"
    vector is the next word of this list, rescaled to the prefilled word's vector norm)."""

    # 2: the "other" vector is rescaled to the prefilled word's vector norm (issue 10).
    protocol: ClassVar[int] = 2

    repeats: int  # trials per (word, condition, layer, strength) cell; each repeat moves
    # every word to the next sentence and the next "other" word


def prefill_params(spec: Spec) -> PrefillParams:
    refuse_unused(spec, (*GRID_FIELDS, PRIMARY_FIELD, "trials_per_cell"))
    return PrefillParams(**grid_values(spec), repeats=spec.trials_per_cell)
