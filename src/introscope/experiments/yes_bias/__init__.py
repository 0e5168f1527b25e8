"""Yes-bias control (``docs/protocols.md`` §3): the detection experiment's injections,
applied while the model answers yes/no questions whose true answer is "no" (about the world
and about itself); scorecard step 3.

If an injection raises P(yes) (or answers opening with "yes") on these questions as much as
on the detection question, the "detection" is a push toward "yes", not a report about the
injected content. The tables pair each configuration with the detection slice's.
"""

from __future__ import annotations

from introscope.experiments.base import Experiment, Solver
from introscope.experiments.yes_bias import analysis, figures, section
from introscope.experiments.yes_bias.params import YesBiasParams, yes_bias_params


def solver() -> Solver[YesBiasParams]:
    from introscope.experiments.yes_bias.trials import YesBiasSolver

    return YesBiasSolver()


EXPERIMENT = Experiment(
    kind="yes_bias",
    title="Yes-bias control",
    description="Does an injection push any yes/no answer toward 'yes'? (control for a)",
    package=__name__,
    params=yes_bias_params,
    solver=solver,
    tables=analysis.tables,
    needs=("detection",),
    headlines=analysis.headlines,
    steps={3: "bias-corrected detection (minus yes-bias shift)"},
    scorecard=analysis.scorecard,
    figures=figures.figures,
    sections=section.sections,
)
