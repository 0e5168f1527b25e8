"""The detection solver: trials and batches (the torch side of the slice).

Generation: the model answers the trial question; the rule grader scores coherent and
affirmative and correct concept and noticed before naming. Logit readout: P(yes) to the same
question with a yes/no suffix, the rank of the injected concept's first token after an
affirmative prefill, among all concepts of the run, and, on concept-vector trials, the same
rank in the neutral frame under the same injection (``neutral_rank``,
``neutral_top_candidate``: the leakage control, :mod:`introscope.experiments.detection.frames`),
with the concept's first-token log-probability in both frames (``concept_logprob``,
``neutral_logprob``); no-injection trials store every candidate's log-probability in both
frames (``candidate_logprobs``, ``neutral_candidate_logprobs``), the baseline of the lifts.

Each variant of ``grid.variants`` gets its own trials (no-injection controls included); the
paper's (``default``) trials keep the condition, and so the ids, they always had; the others
add ``variant`` to the condition.

No-injection trials also record ``resid_norm`` in their readout: the mean norm of the
unperturbed residual stream at each grid layer over the injection window's prompt tokens,
so strengths can be read relative to it (:mod:`introscope.experiments.dose`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from introscope.experiments import prompts as P
from introscope.experiments.base import Context, Trial, TrialResult, make_trial
from introscope.experiments.detection import frames
from introscope.experiments.detection.params import DetectionParams, Variant
from introscope.experiments.readouts import candidate_ranks, top_candidates, yes_no_readout
from introscope.experiments.solving import (
    generate_batch,
    grid_trials,
    layer_indices,
    residual_norms,
)
from introscope.grading import concepts, rules


class DetectionSolver:
    def __init__(self) -> None:
        # The residual norms of a prompt, measured once per solver (every trial shares it).
        self._norms: dict[str, dict[str, float]] = {}

    def resid_norms(self, ctx: Context[DetectionParams], trial: Trial) -> dict[str, float]:
        if trial.prompt not in self._norms:
            layers = layer_indices(ctx, ctx.params.layers)
            window = frames.detection_window(trial.data.get("variant", "default"))
            self._norms[trial.prompt] = residual_norms(ctx, trial.prompt, layers, window)
        return self._norms[trial.prompt]

    def words_needed(self, params: DetectionParams) -> list[str]:
        return list(params.concepts)

    def build_trials(self, ctx: Context[DetectionParams]) -> list[Trial]:
        spec, lm, p = ctx.spec, ctx.lm, ctx.params
        trials = []
        for variant in p.variants:
            prompt = frames.detection_prompt(lm, variant, spec.measure == "logits")
            window = frames.detection_window(variant)
            if variant == "internal":
                frames.check_ends_before(lm, prompt, window, P.TRIAL_MARKER)
                frames.check_ends_before(
                    lm,
                    frames.neutral_prompt(lm),
                    frames.neutral_window(variant),
                    P.WORD_GAME_MARKER,
                )
            tag: dict[str, Any] = {} if variant == "default" else {"variant": variant}
            data = {"variant": variant}
            for rep in range(p.control_trials):
                cond: dict[str, Any] = {
                    "concept": None,
                    "layer": None,
                    "strength": None,
                    "control": "none",
                    "rep": rep,
                    **tag,
                }
                trials.append(make_trial(spec, cond, prompt, None, data, control="none"))
            for rep in range(p.repeats):
                for concept in p.concepts:
                    trials += grid_trials(ctx, concept, prompt, window, {"rep": rep, **tag}, data)
        return trials

    def run_batch(
        self, ctx: Context[DetectionParams], trials: Sequence[Trial]
    ) -> list[TrialResult]:
        # One engine pass per prompt (wording): wordings differ in their preambles, so a
        # mixed batch would share no prompt prefix and recompute every preamble on every row.
        by_prompt: dict[str, list[int]] = {}
        for k, t in enumerate(trials):
            by_prompt.setdefault(t.prompt, []).append(k)
        out: list[TrialResult | None] = [None] * len(trials)
        for ks in by_prompt.values():
            part = [trials[k] for k in ks]
            got = self._logits(ctx, part) if ctx.spec.measure == "logits" else self._text(ctx, part)
            for k, r in zip(ks, got, strict=True):
                out[k] = r
        return [r for r in out if r is not None]

    def _text(self, ctx: Context[DetectionParams], trials: Sequence[Trial]) -> list[TrialResult]:
        gens = generate_batch(ctx, trials)
        out = []
        for t, g in zip(trials, gens, strict=True):
            concept = t.condition["concept"] if t.condition["control"] != "none" else None
            grade = rules.grade_detection(g.text, concept)
            outcome = rules.classify_outcome(g.text, concept, ctx.vectors.names)
            control = t.condition["control"] == "none"
            out.append(
                TrialResult(
                    g.text,
                    len(g.token_ids),
                    {"resid_norm": self.resid_norms(ctx, t)} if control else None,
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
        variants: list[Variant] = [t.data.get("variant", "default") for t in trials]
        injections = [t.injection for t in trials]
        yes_no = yes_no_readout(lm, eng.next_token_logprobs([t.prompt for t in trials], injections))
        ident = {v: frames.identify_prompt(lm, v) for v in set(variants)}
        lp = eng.next_token_logprobs([ident[v] for v in variants], injections)
        names = ctx.vectors.names
        # Control trials have no target; rank the first concept so the column stays numeric.
        targets = [t.condition["concept"] or names[0] for t in trials]
        ranks = candidate_ranks(lm, lp, names, targets)
        tops = top_candidates(lm, lp, names)
        # The leakage control, on concept-vector trials (a random or negated vector has no
        # word to leak) and on no-injection trials (the baseline of every candidate in both
        # frames): the same injection over the neutral frame's equivalent window.
        first = {c: lm.encode(c)[0] for c in names}
        leak = [k for k, t in enumerate(trials) if t.control in ("concept", "none")]
        neutral: dict[int, dict[str, Any]] = {}
        if leak:
            lp_neutral = eng.next_token_logprobs(
                [frames.neutral_prompt(lm)] * len(leak),
                [frames.in_neutral_frame(injections[k], variants[k]) for k in leak],
            )
            n_ranks = candidate_ranks(lm, lp_neutral, names, [targets[k] for k in leak])
            n_tops = top_candidates(lm, lp_neutral, names)
            for j, k in enumerate(leak):
                row = lp_neutral[j]
                if trials[k].control == "none":
                    neutral[k] = {
                        "neutral_top_candidate": n_tops[j],
                        "candidate_logprobs": {c: float(lp[k, first[c]]) for c in names},
                        "neutral_candidate_logprobs": {c: float(row[first[c]]) for c in names},
                    }
                else:
                    neutral[k] = {
                        "neutral_rank": n_ranks[j],
                        "neutral_top_candidate": n_tops[j],
                        "concept_logprob": float(lp[k, first[targets[k]]]),
                        "neutral_logprob": float(row[first[targets[k]]]),
                    }
        out = []
        for k, t in enumerate(trials):
            injected = bool(t.condition["concept"])
            readout: dict[str, Any] = {
                "p_yes": yes_no[k].p_yes,
                # the yes-bias control's log-odds analysis reads these two
                "yes_log_odds": yes_no[k].log_odds,
                "yes_no_mass": yes_no[k].mass,
                "concept_rank": ranks[k] if injected else None,
                "n_candidates": len(names),
                "top_candidate": tops[k],
                **neutral.get(k, {}),
            }
            if t.control == "none":
                readout["resid_norm"] = self.resid_norms(ctx, t)
            out.append(TrialResult(None, None, readout))
        return out
