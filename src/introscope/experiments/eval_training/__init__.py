"""The train-time arm of the evaluation-framing suite (issue 13): LoRA adapters trained on
demonstrations of special-casing a contradicting test, with no prefix, an inoculation
prefix, an irrelevant prefix of the same length or a self-diagnostic prefix, all evaluated
without a prefix on held-out families (hack rate), with their own prefix (learned at all),
on consistent twins (capability) and on a sycophancy bank (another misbehaviour).

Adapters live in the run directory (:mod:`introscope.training.adapters`); the solver trains
the missing ones (``introscope train`` does it first, with a progress bar). Scorecard part
"evaluation framing", steps 309-310. Not in the battery (training takes minutes per
adapter on a CPU).
"""

from __future__ import annotations

from introscope.experiments.base import Experiment, Solver
from introscope.experiments.eval_training import analysis, figures, scorecard, section
from introscope.experiments.eval_training.params import EvalTrainingParams, eval_training_params


def solver() -> Solver[EvalTrainingParams]:
    from introscope.experiments.eval_training.trials import EvalTrainingSolver

    return EvalTrainingSolver()


EXPERIMENT = Experiment(
    kind="eval_training",
    title="Evaluation framing: train-time arms",
    description="Do prefixes at LoRA training time change a trained hack measured without them?",
    package=__name__,
    params=eval_training_params,
    solver=solver,
    tables=analysis.tables,
    measures=("logits",),
    headlines=analysis.headlines,
    steps=scorecard.STEPS,
    scorecard_part=scorecard.PART,
    scorecard=scorecard.scorecard,
    gate=scorecard.gate,
    figures=figures.figures,
    sections=section.sections,
)
