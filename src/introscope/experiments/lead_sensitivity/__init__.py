"""Without being led (``docs/protocols.md`` §5e): every self-report of the suite asked
again under leading prompts (a suggested answer, an anchor, a challenge); does a report
move more with the lead than with the hidden state it should track? Scorecard step 106.
"""

from __future__ import annotations

from introscope.experiments.base import Experiment, Solver
from introscope.experiments.lead_sensitivity import analysis, figures, section
from introscope.experiments.lead_sensitivity.params import LeadParams, lead_params


def solver() -> Solver[LeadParams]:
    from introscope.experiments.lead_sensitivity.trials import LeadSolver

    return LeadSolver()


EXPERIMENT = Experiment(
    kind="lead_sensitivity",
    title="Self-reports under leading prompts",
    description="Do self-reports follow a suggested answer, an anchor or a challenge more than the hidden state?",
    package=__name__,
    params=lead_params,
    solver=solver,
    tables=analysis.tables,
    measures=("generation",),
    headlines=analysis.headlines,
    steps={106: "lead sensitivity (led vs following the state)"},
    scorecard_part="metacognition",
    scorecard=analysis.scorecard,
    figures=figures.figures,
    sections=section.sections,
)
