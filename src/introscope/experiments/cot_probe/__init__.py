"""Chain of thought (a): is the final answer linearly decodable from the activations before
the reasoning is written, how far does the text lag behind it, and does steering there move
it? (``docs/protocols.md`` §6a; scorecard steps 201 and 202)."""

from __future__ import annotations

from introscope.experiments.base import Experiment, Solver
from introscope.experiments.cot_probe import analysis, figures, scorecard, section
from introscope.experiments.cot_probe.params import CotProbeParams, cot_probe_params


def solver() -> Solver[CotProbeParams]:
    from introscope.experiments.cot_probe.trials import CotProbeSolver

    return CotProbeSolver()


EXPERIMENT = Experiment(
    kind="cot_probe",
    title="Answer decodable before the reasoning",
    description=(
        "Is the final answer linearly decodable from the activations before the chain of "
        "thought, and does steering there move it?"
    ),
    package=__name__,
    params=cot_probe_params,
    solver=solver,
    tables=analysis.tables,
    measures=("generation",),
    headlines=scorecard.headlines,
    steps={
        201: "final answer decodable before the chain (probe vs baselines)",
        202: "steering before the chain (probe vs control directions)",
    },
    scorecard_part="chain of thought",
    scorecard=scorecard.scorecard,
    figures=figures.figures,
    sections=section.sections,
)
