"""Hidden-state linkage (``docs/protocols.md`` §5b): do the self-reports (verbal
confidence, P(True), P(I know)) track hidden-state variables (next-token entropy, residual
norm, logit-lens entropy, dropout sensitivity) beyond the surface features of the question?
Scorecard steps 102 (the residual signal) and 104 (partial r per variable).
"""

from __future__ import annotations

from introscope.experiments.base import Experiment, Solver
from introscope.experiments.hidden_state_linkage import analysis, figures, section
from introscope.experiments.hidden_state_linkage.params import LinkageParams, linkage_params


def solver() -> Solver[LinkageParams]:
    from introscope.experiments.hidden_state_linkage.trials import LinkageSolver

    return LinkageSolver()


EXPERIMENT = Experiment(
    kind="hidden_state_linkage",
    title="Hidden-state linkage of self-reports",
    description=(
        "Do self-reports track hidden-state variables beyond the surface features of the question?"
    ),
    package=__name__,
    params=linkage_params,
    solver=solver,
    tables=analysis.tables,
    measures=("generation",),
    headlines=analysis.headlines,
    steps={
        102: "residual signal beyond surface features",
        104: "hidden-state linkage (partial r per variable)",
    },
    scorecard_part="metacognition",
    scorecard=analysis.scorecard,
    figures=figures.figures,
    sections=section.sections,
)
