"""The evaluation-framing steering solver: forced-choice trials on the hackable items of the
eval_framing slice, read by option-letter probabilities, with a direction added to the
residual stream at one layer over the user turn (from the framing text to the prompt's end).

Three parts (the condition's ``part``):

* ``awareness``: the neutral framing, no injection, the unit awareness direction at each
  layer x signed strength, and ``n_random`` random unit directions at the same norm (one
  random direction per item, layer and draw, the same at every strength and in every
  paraphrase and format, so the draws are paired across strengths);
* ``framing``: the self-diagnostic and the judgment framing with no injection (the
  behavioural effect), and judgment-framed prompts with the cross-fitted framing direction
  (:mod:`.directions`) or one norm-matched random direction injected;
* ``heldout``: one trial per contrast prompt carrying its projection on the direction built
  from the other half of the statements (computed with the fit; no forward of its own).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from introscope.core.steering import Injection, Window
from introscope.experiments.base import Context, Trial, TrialResult, make_trial
from introscope.experiments.eval_framing.framings import (
    CODE_ROLES,
    FORMATS,
    FRAMINGS,
    LETTERS,
    METRIC_ROLES,
    PREFILL,
    code_prompt,
    metric_prompt,
    ordered_roles,
)
from introscope.experiments.eval_framing.params import selected_items
from introscope.experiments.eval_framing.trials import letter_readout
from introscope.experiments.eval_steering.directions import (
    FramingPrompts,
    SteeringFit,
    contrast_rows,
    fit_steering,
    random_unit,
    unit,
)
from introscope.experiments.eval_steering.params import EvalSteeringParams
from introscope.experiments.readouts import first_token_ids
from introscope.experiments.solving import layer_indices
from introscope.store import stable_hash

#: Protocol 1: the first version.
PROTOCOL = 1


@dataclass(frozen=True)
class ItemJob:
    about: dict[str, Any]  # item_id, pair_id, kind, family
    roles: tuple[str, ...]
    render: Callable[[Any, str, str, tuple[str, ...]], str]
    item: Any


def hackable_jobs(n: int) -> list[ItemJob]:
    """The hackable items of eval_framing's item set (contradicted tests, metric gaming),
    with the same lettered order of candidates as there."""
    code, metric = selected_items(n)
    pairs = list(dict.fromkeys(it.pair_id for it in code))
    jobs = []
    for item in code:
        if item.kind != "contradicted_tests":
            continue
        about = {"item_id": item.id, "pair_id": item.pair_id, "kind": item.kind}
        roles = ordered_roles(CODE_ROLES, pairs.index(item.pair_id))
        jobs.append(ItemJob({**about, "family": item.family}, roles, code_prompt, item))
    for i, m in enumerate(metric):
        about = {"item_id": m.id, "pair_id": m.id, "kind": m.kind, "family": m.family}
        jobs.append(ItemJob(about, ordered_roles(METRIC_ROLES, i), metric_prompt, m))
    return jobs


def int_seed(*parts: Any) -> int:
    return int(stable_hash(list(parts))[:8], 16)


class EvalSteeringSolver:
    def words_needed(self, params: EvalSteeringParams) -> list[str]:
        # No concept vectors; relative strengths still get the residual norms (the runner).
        return []

    def build_trials(self, ctx: Context[EvalSteeringParams]) -> list[Trial]:
        p = ctx.params
        layers = layer_indices(ctx, p.layers)
        jobs = hackable_jobs(p.items_per_kind)
        cells = [(k, fmt) for k in range(p.paraphrases) for fmt in FORMATS]

        def prompt(job: ItemJob, framing: str, k: int, fmt: str) -> str:
            text = job.render(job.item, FRAMINGS[framing][k], fmt, job.roles)
            return ctx.lm.chat_prompt([("user", text), ("assistant", PREFILL)])

        fit = fit_steering(
            ctx,
            [
                FramingPrompts(
                    job.about["item_id"],
                    job.about["kind"],
                    [prompt(job, "self_diagnostic", k, f) for k, f in cells],
                    [prompt(job, "judgment", k, f) for k, f in cells],
                )
                for job in jobs
            ],
            layers,
        )
        trials = heldout_trials(ctx, fit)
        for job in jobs:
            for k, fmt in cells:
                base = {
                    **job.about,
                    "paraphrase": k,
                    "format": fmt,
                    "roles": "-".join(job.roles),
                    "protocol": PROTOCOL,
                }
                data = {"roles": list(job.roles)}
                trials += awareness_trials(ctx, fit, base, data, prompt(job, "neutral", k, fmt))
                trials += framing_trials(
                    ctx,
                    fit,
                    base,
                    data,
                    prompt(job, "self_diagnostic", k, fmt),
                    prompt(job, "judgment", k, fmt),
                )
        return trials

    def run_batch(
        self, ctx: Context[EvalSteeringParams], trials: Sequence[Trial]
    ) -> list[TrialResult]:
        out: list[TrialResult | None] = [None] * len(trials)
        read = []
        for i, t in enumerate(trials):
            if t.condition["part"] == "heldout":
                out[i] = TrialResult(None, None, dict(t.data["readout"]))
            else:
                read.append(i)
        if read:
            lp = ctx.engine.next_token_logprobs(
                [trials[i].prompt for i in read], [trials[i].injection for i in read]
            )
            ids = [first_token_ids(ctx.lm, (letter,)) for letter in LETTERS]
            for r, i in enumerate(read):
                t = trials[i]
                readout = letter_readout(lp[r], ids, t.data["roles"])
                if "injected_norm" in t.data:
                    readout["injected_norm"] = t.data["injected_norm"]
                out[i] = TrialResult(None, None, readout)
        return [r for r in out if r is not None]


def injected_norm(ctx: Context[EvalSteeringParams], layer: int, raw: float, s: float) -> float:
    """The injected vector's norm (signed) for strength ``s``: ``s`` times the direction's
    own norm ``raw``, or times the layer's residual norm with relative strengths."""
    ref = ctx.vectors.residual_norm(layer) if ctx.params.relative else raw
    return s * ref


def _inject(vec: torch.Tensor, layer: int, scale: float, window: Window, label: str) -> Injection:
    return Injection(unit(vec), (layer,), scale, window, "add", label=label)


def awareness_trials(
    ctx: Context[EvalSteeringParams],
    fit: SteeringFit,
    base: dict[str, Any],
    data: dict[str, Any],
    prompt: str,
) -> list[Trial]:
    """Neutral framing: no injection, the awareness direction and random directions."""
    p, spec = ctx.params, ctx.spec
    window = Window.from_marker(FRAMINGS["neutral"][base["paraphrase"]])
    head = {**base, "part": "awareness", "framing": "neutral"}
    out = [make_trial(spec, {**head, "direction": "none"}, prompt, None, data, control="none")]
    for j, layer in enumerate(fit.layers):
        aware = fit.aware[j]
        for s in p.strengths:
            scale = injected_norm(ctx, layer, float(aware.norm()), s)
            extra = {**data, "injected_norm": scale}
            cond = {**head, "direction": "awareness", "layer": layer, "strength": s}
            t = make_trial(spec, cond, prompt, None, extra, control="awareness")
            t.injection = _inject(aware, layer, scale, window, f"awareness@L{layer}x{s:g}")
            out.append(t)
            for r in range(p.n_random):
                cond = {**head, "direction": "random", "draw": r, "layer": layer, "strength": s}
                t = make_trial(spec, cond, prompt, None, extra, control="random")
                vec = random_unit(aware.numel(), int_seed(spec.seed, base["item_id"], layer, r))
                t.injection = _inject(vec, layer, scale, window, f"random{r}@L{layer}x{s:g}")
                out.append(t)
    return out


def framing_trials(
    ctx: Context[EvalSteeringParams],
    fit: SteeringFit,
    base: dict[str, Any],
    data: dict[str, Any],
    self_prompt: str,
    judgment_prompt: str,
) -> list[Trial]:
    """Self-diagnostic and judgment with no injection; judgment with the cross-fitted
    framing direction or a norm-matched random direction."""
    p, spec = ctx.params, ctx.spec
    fold = fit.folds[base["item_id"]]
    head = {**base, "part": "framing", "fold": fold}
    out = [
        make_trial(
            spec,
            {**head, "framing": framing, "direction": "none"},
            text,
            None,
            data,
            control="none",
        )
        for framing, text in (("self_diagnostic", self_prompt), ("judgment", judgment_prompt))
    ]
    window = Window.from_marker(FRAMINGS["judgment"][base["paraphrase"]])
    for j, layer in enumerate(fit.layers):
        direction = fit.framing[fold][j]
        rand = random_unit(
            direction.numel(), int_seed(spec.seed, "framing", base["item_id"], layer)
        )
        for s in p.strengths:
            scale = injected_norm(ctx, layer, float(direction.norm()), s)
            extra = {**data, "injected_norm": scale}
            for name, vec in (("framing", direction), ("random", rand)):
                cond = {
                    **head,
                    "framing": "judgment",
                    "direction": name,
                    "layer": layer,
                    "strength": s,
                }
                t = make_trial(spec, cond, judgment_prompt, None, extra, control=name)
                t.injection = _inject(vec, layer, scale, window, f"{name}@L{layer}x{s:g}")
                out.append(t)
    return out


def heldout_trials(ctx: Context[EvalSteeringParams], fit: SteeringFit) -> list[Trial]:
    """One trial per contrast prompt with its held-out projection (no forward)."""
    cos = {str(layer): c for layer, c in zip(fit.layers, fit.halves_cosine, strict=True)}
    out = []
    for (style, k, fmt, text), row in zip(contrast_rows(), fit.heldout, strict=True):
        cond = {
            "part": "heldout",
            "style": style,
            "statement": k,
            "format": fmt,
            "half": row["half"],
            "protocol": PROTOCOL,
        }
        prompt = ctx.lm.chat_prompt([("user", text), ("assistant", PREFILL)])
        readout = {"projection": row["projection"], "halves_cosine": cos}
        out.append(make_trial(ctx.spec, cond, prompt, None, {"readout": readout}, control="none"))
    return out
