"""The yes-bias experiment's parameters, built from a spec, and the analysis thresholds it
declares in advance."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from introscope.errors import SpecError
from introscope.experiments.base import refuse_unused
from introscope.experiments.grid import (
    GRID_FIELDS,
    InjectedControl,
    InjectionGrid,
    grid_values,
    injected_controls,
)
from introscope.experiments.yes_bias.questions import KINDS, per_kind

if TYPE_CHECKING:
    from introscope.spec import Spec

#: Protocol 2 (issue 10): questions asked as trials of the detection conversation, a bank
#: with "yes"- and "no"-answer questions, concepts x questions fully crossed. Protocol 1
#: asked "no"-answer questions alone, rotating them over concepts.
PROTOCOL = 2

#: A trial whose next token puts less than this probability on "yes" and "no" together is
#: left out of the log-odds analysis (and counted): its renormalised P(yes) is a ratio of
#: two tail probabilities, not an answer. An injection that breaks the answer format drives
#: the mass toward 0 (the bundled model: 0.000-0.004 at its deepest layers, strength 4-8,
#: where the log-odds of every question jumps by about +2). Not 0.5: the bundled model puts
#: 0.06-0.23 on yes+no in this frame even without injection (median 0.13), the detection
#: question included.
MIN_YES_NO_MASS = 0.05

#: A question whose no-injection probability of the correct answer is below this is one the
#: model gets confidently wrong: it cannot show a shift toward the wrong answer as a bias,
#: so it is dropped from the analysis (and counted).
WRONG_BELOW = 0.2


#: Generated answers: no-injection answers per asked question when the spec's
#: ``control_trials`` is left at 0 (a baseline is always needed; 0 is every spec's default).
BASELINE_ANSWERS = 8


class YesBiasParams(InjectionGrid):
    controls: list[InjectedControl]  # the concept's own vector, random or negated
    # The first k questions of every kind (answer x topic), each asked under every concept's
    # injections: concepts x questions fully crossed (the spec's ``trials_per_cell``).
    questions_per_kind: int
    # Generation: no-injection answers per asked question (the spec's ``control_trials``, or
    # BASELINE_ANSWERS when it is 0).
    # Logits: the readout is deterministic, so every question of the bank is asked once.
    baseline_answers: int
    protocol: ClassVar[int] = PROTOCOL


def yes_bias_params(spec: Spec) -> YesBiasParams:
    generation = spec.measure == "generation"
    used = (*GRID_FIELDS, "grid.controls", "trials_per_cell")
    refuse_unused(spec, (*used, "control_trials") if generation else used)
    controls = injected_controls(
        spec, "'none' is not needed here: every question is asked without injection anyway."
    )
    most = per_kind()
    if spec.trials_per_cell > most:
        raise SpecError(
            f"trials_per_cell: the yes_bias experiment asks the first trials_per_cell "
            f"questions of each of its {len(KINDS)} kinds (answer x topic), at most {most} "
            f"(it is {spec.trials_per_cell}; {most} asks every question)."
        )
    return YesBiasParams(
        **grid_values(spec),
        controls=controls,
        questions_per_kind=spec.trials_per_cell,
        baseline_answers=(spec.control_trials or BASELINE_ANSWERS) if generation else 1,
    )
