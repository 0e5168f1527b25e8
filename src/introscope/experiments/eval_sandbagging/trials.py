"""The sandbagging check's solver: forced choice on consistent code items under weight noise.

Trials: noise scale sigma x noise seed (one seed at sigma 0) x item x framing x paraphrase x
format, in that loop order, so that a batch mostly shares one noise state. The prompt and the
readout are eval_framing's forced choice (the candidates' letters after ``Answer: (``,
renormalised). :meth:`run_batch` groups its trials by (sigma, seed) and reads each group
inside :func:`introscope.core.weight_noise.weight_noise`, which perturbs the engine's block
weights, clears the engine's kept prefixes on entry and exit, and restores the weights bit for
bit afterwards.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from introscope.core.weight_noise import weight_noise
from introscope.experiments.base import Context, Trial, TrialResult, make_trial
from introscope.experiments.eval_framing.framings import (
    CODE_ROLES,
    LETTERS,
    PREFILL,
    code_prompt,
    framed_cells,
    ordered_roles,
)
from introscope.experiments.eval_framing.trials import letter_readout
from introscope.experiments.eval_sandbagging.params import EvalSandbaggingParams, possible_items
from introscope.experiments.readouts import first_token_ids

PROTOCOL = 1


def noise_seed(spec_seed: int, seed: int) -> int:
    """The weight-noise seed of noise seed ``seed`` under the spec's seed."""
    digest = hashlib.sha256(f"eval_sandbagging:{spec_seed}:{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


class EvalSandbaggingSolver:
    def words_needed(self, params: EvalSandbaggingParams) -> list[str]:
        return []

    def build_trials(self, ctx: Context[EvalSandbaggingParams]) -> list[Trial]:
        p, lm = ctx.params, ctx.lm
        items = possible_items(p.items)
        trials = []
        for sigma in p.sigmas:
            for seed in range(p.seeds) if sigma > 0 else range(1):
                for i, item in enumerate(items):
                    roles = ordered_roles(CODE_ROLES, i)
                    for cell, text, fmt in framed_cells(p.framings, p.paraphrases):
                        cond = {
                            "item_id": item.id,
                            "family": item.family,
                            **cell,
                            "roles": "-".join(roles),
                            "sigma": sigma,
                            "noise_seed": seed,
                            "protocol": PROTOCOL,
                        }
                        user = code_prompt(item, text, fmt, roles)
                        prompt = lm.chat_prompt([("user", user), ("assistant", PREFILL)])
                        trials.append(
                            make_trial(
                                ctx.spec, cond, prompt, None, {"roles": list(roles)}, control="none"
                            )
                        )
        return trials

    def run_batch(
        self, ctx: Context[EvalSandbaggingParams], trials: Sequence[Trial]
    ) -> list[TrialResult]:
        groups: dict[tuple[float, int], list[int]] = {}
        for r, t in enumerate(trials):
            key = (float(t.condition["sigma"]), int(t.condition["noise_seed"]))
            groups.setdefault(key, []).append(r)
        ids = [first_token_ids(ctx.lm, (letter,)) for letter in LETTERS]
        out: dict[int, TrialResult] = {}
        for (sigma, seed), rows in groups.items():
            with weight_noise(ctx.engine, sigma, noise_seed(ctx.spec.seed, seed)):
                lp = ctx.engine.next_token_logprobs([trials[r].prompt for r in rows])
            for j, r in enumerate(rows):
                readout = letter_readout(lp[j].float(), ids, trials[r].data["roles"])
                out[r] = TrialResult(None, None, readout)
        return [out[r] for r in range(len(trials))]
