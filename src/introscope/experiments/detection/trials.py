"""The detection solver: trials and batches (the torch side of the slice).

Generation: the model answers the trial question; the rule grader scores coherent and
affirmative and correct concept and noticed before naming. Logit readout: P(yes) to the same
question with a yes/no suffix, and the rank of the injected concept's first token after an
affirmative prefill, among all concepts of the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from introscope.core.steering import Window
from introscope.experiments import prompts as P
from introscope.experiments.base import Context, Trial, TrialResult, make_trial
from introscope.experiments.detection.params import DetectionParams
from introscope.experiments.prompts import detection_turns
from introscope.experiments.readouts import candidate_ranks, top_candidates, yes_no_readout
from introscope.experiments.solving import generate_batch, grid_trials
from introscope.grading import concepts, rules


class DetectionSolver:
    def words_needed(self, params: DetectionParams) -> list[str]:
        return list(params.concepts)

    def build_trials(self, ctx: Context[DetectionParams]) -> list[Trial]:
        spec, lm, p = ctx.spec, ctx.lm, ctx.params
        question = P.DETECTION_QUESTION + (P.YES_NO_SUFFIX if spec.measure == "logits" else "")
        prompt = lm.chat_prompt(detection_turns(question))
        window = Window.from_marker(P.TRIAL_MARKER)
        trials = []
        for rep in range(p.control_trials):
            cond: dict[str, Any] = {
                "concept": None,
                "layer": None,
                "strength": None,
                "control": "none",
                "rep": rep,
            }
            trials.append(make_trial(spec, cond, prompt, None, control="none"))
        for rep in range(p.repeats):
            for concept in p.concepts:
                trials += grid_trials(ctx, concept, prompt, window, {"rep": rep})
        return trials

    def run_batch(
        self, ctx: Context[DetectionParams], trials: Sequence[Trial]
    ) -> list[TrialResult]:
        if ctx.spec.measure == "logits":
            return self._logits(ctx, trials)
        gens = generate_batch(ctx, trials)
        out = []
        for t, g in zip(trials, gens, strict=True):
            concept = t.condition["concept"] if t.condition["control"] != "none" else None
            grade = rules.grade_detection(g.text, concept)
            outcome = rules.classify_outcome(g.text, concept, ctx.vectors.names)
            out.append(
                TrialResult(
                    g.text,
                    len(g.token_ids),
                    None,
                    {
                        "rules": {
                            "coherent": grade.coherent,
                            "affirmative": grade.affirmative,
                            "correct_concept": grade.correct_concept,
                            "noticed_first": grade.noticed_first,
                            "success": grade.success,
                            "outcome": outcome,
                            "reported": concepts.reported_concept(g.text, ctx.vectors.names),
                        }
                    },
                )
            )
        return out

    def _logits(self, ctx: Context[DetectionParams], trials: Sequence[Trial]) -> list[TrialResult]:
        lm, eng = ctx.lm, ctx.engine
        injections = [t.injection for t in trials]
        yes_no = yes_no_readout(lm, eng.next_token_logprobs([t.prompt for t in trials], injections))
        ident_prompt = lm.chat_prompt(
            detection_turns(P.DETECTION_QUESTION), prefill=P.IDENTIFY_PREFILL
        )
        lp = eng.next_token_logprobs([ident_prompt] * len(trials), injections)
        names = ctx.vectors.names
        # Control trials have no target; rank the first concept so the column stays numeric.
        targets = [t.condition["concept"] or names[0] for t in trials]
        ranks = candidate_ranks(lm, lp, names, targets)
        tops = top_candidates(lm, lp, names)
        return [
            TrialResult(
                None,
                None,
                {
                    "p_yes": yn.p_yes,
                    # the yes-bias control's log-odds analysis reads these two
                    "yes_log_odds": yn.log_odds,
                    "yes_no_mass": yn.mass,
                    "concept_rank": rk if t.condition["concept"] else None,
                    "n_candidates": len(names),
                    "top_candidate": top,
                },
            )
            for t, yn, rk, top in zip(trials, yes_no, ranks, tops, strict=True)
        ]
