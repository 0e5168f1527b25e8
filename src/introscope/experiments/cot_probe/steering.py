"""The causal check of the probe experiment: steer along the probe's direction before the
chain is written and see whether the final answer moves (``docs/protocols.md`` §6a).

Each family's items are split (deterministically, by a hash of the seed and the item id)
into *fit* items and *steered* items. On the fit items the model writes its chains; a
logistic probe of their final answers on the activation before the chain, at the steering
layer, gives class directions in activation space. Every steered item is read by that probe
before anything is generated: the direction goes from the label it decodes (its *source*)
to the next most probable of the item's labels (its *target*). Three directions per item
and strength, all of the same norm (``strength`` times the mean activation norm at that
layer over the fit items): the probe's, a random one, and a random one orthogonal to the
probe's. Each is added over the tokens of the opener ("Let's think step by step."), so only
the activations before the chain are changed.

Planning runs the model (the fit items' chains), so the fit is kept in
``run_dir/arrays/<spec>/steering.safetensors`` and a resumed run steers with the very same
directions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from introscope.core.steering import Injection, Window
from introscope.experiments.base import Context, Trial, make_trial
from introscope.experiments.cot.chains import run_chains
from introscope.experiments.cot.engine_reasoner import EngineReasoner
from introscope.experiments.cot.format import labels
from introscope.experiments.cot.params import item_condition
from introscope.experiments.cot.probes import LinearProbe, best_layer, fit_probe
from introscope.experiments.cot.prompts import OPENER, reasoning_prompt
from introscope.experiments.cot_probe.params import CotProbeParams
from introscope.experiments.solving import layer_indices
from introscope.items import Item
from introscope.store import stable_hash
from introscope.store.arrays import arrays_dir

DIRECTIONS: tuple[str, ...] = ("probe", "random", "orthogonal")
FIT_FILE = "steering.safetensors"


def split_items(
    items: tuple[Item, ...], fraction: float, seed: int
) -> tuple[list[Item], list[Item]]:
    """(fit, steered): per family, the items ordered by a hash of (seed, id), the first
    ``fraction`` (at least one, and at least one left when the family has two) to fit."""
    fams: dict[str, list[Item]] = {}
    for it in items:
        fams.setdefault(it.family, []).append(it)
    fit: list[Item] = []
    for members in fams.values():
        ordered = sorted(members, key=lambda it: stable_hash([seed, "steer-fit", it.id]))
        k = max(1, round(fraction * len(ordered)))
        if len(ordered) >= 2:
            k = min(k, len(ordered) - 1)
        fit += ordered[:k]
    chosen = {it.id for it in fit}
    return [it for it in items if it.id in chosen], [it for it in items if it.id not in chosen]


@dataclass(frozen=True)
class SteeringFit:
    layer: int
    probe: LinearProbe
    norm: float  # mean activation norm at the layer over the fit items
    plans: dict[str, tuple[str, str]]  # steered item id -> (source, target)


def _path(ctx: Context[Any]) -> Path | None:
    return None if ctx.run_dir is None else arrays_dir(ctx.run_dir, ctx.spec.name) / FIT_FILE


def _save(path: Path, fit: SteeringFit, key: str) -> None:
    from safetensors.numpy import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "key": key,
        "layer": str(fit.layer),
        "norm": repr(fit.norm),
        "classes": json.dumps(list(fit.probe.classes)),
        "plans": json.dumps(fit.plans, sort_keys=True),
    }
    save_file({"weights": fit.probe.weights, "bias": fit.probe.bias}, str(path), metadata=meta)


def _load(path: Path, key: str) -> SteeringFit | None:
    from safetensors import safe_open

    if not path.is_file():
        return None
    with safe_open(str(path), framework="np") as f:
        meta = f.metadata() or {}
        if meta.get("key") != key:
            return None
        probe = LinearProbe(
            tuple(json.loads(meta["classes"])), f.get_tensor("weights"), f.get_tensor("bias")
        )
    plans = {k: (v[0], v[1]) for k, v in json.loads(meta["plans"]).items()}
    return SteeringFit(int(meta["layer"]), probe, float(meta["norm"]), plans)


def fit_steering(
    ctx: Context[CotProbeParams], fit: list[Item], steered: list[Item], seeds: dict[str, int]
) -> SteeringFit | None:
    """Fit the probe on the fit items' chains and plan each steered item (None when the
    fit items' final answers take a single label, so no direction exists)."""
    p = ctx.params
    reasoner = EngineReasoner(ctx)
    prompts = [reasoning_prompt(ctx.lm, it) for it in fit]
    chains = run_chains(reasoner, fit, prompts, [seeds[it.id] for it in fit])
    keep = [k for k, c in enumerate(chains) if c.answer is not None]
    y = [str(chains[k].answer) for k in keep]
    if len(set(y)) < 2:
        return None
    if p.steer_layer is not None:
        layers = [layer_indices(ctx, [p.steer_layer])[0]]
    else:
        layers = sorted(set(layer_indices(ctx, p.layers)))
    x = reasoner.capture_last([prompts[k] for k in keep], layers)
    allowed = [frozenset(labels(fit[k])) for k in keep]
    li = best_layer(x, y, [fit[k].family for k in keep], allowed)
    probe = fit_probe(x[:, li], y)
    norm = float(np.linalg.norm(x[:, li], axis=1).mean())
    xe = reasoner.capture_last([reasoning_prompt(ctx.lm, it) for it in steered], [layers[li]])
    plans: dict[str, tuple[str, str]] = {}
    for it, probs in zip(
        steered,
        probe.probabilities(xe[:, 0], [frozenset(labels(it)) for it in steered]),
        strict=True,
    ):
        if len(probs) < 2:
            continue  # the probe knows fewer than two of this item's labels
        ranked = sorted(probs, key=lambda k: -probs[k])
        plans[it.id] = (ranked[0], ranked[1])
    return SteeringFit(layers[li], probe, norm, plans)


def direction_vector(
    fit: SteeringFit, kind: str, source: str, target: str, seed: int
) -> np.ndarray:
    """A unit vector: the probe's source-to-target direction, a random one, or a random one
    orthogonal to the probe's (drawn from the trial's seed)."""
    u = fit.probe.direction(source, target)
    if kind == "probe":
        return u
    r = np.random.default_rng(seed).standard_normal(len(u))
    if kind == "orthogonal":
        r = r - (r @ u) * u
    return r / np.linalg.norm(r)


def steering_trials(ctx: Context[CotProbeParams], probe_trials: list[Trial]) -> list[Trial]:
    """The steering trials of the spec's items (none when no direction can be fitted)."""
    p, spec = ctx.params, ctx.spec
    fit_items, steered = split_items(p.items, p.steer_fit_fraction, spec.seed)
    seeds = {t.condition["item"]: t.seed for t in probe_trials}
    key = stable_hash(
        [
            ctx.lm.info.weights_hash,
            [it.id for it in fit_items],
            [it.id for it in steered],
            p.layers,
            p.steer_layer,
            spec.sampling.model_dump(),
            spec.seed,
        ]
    )
    path = _path(ctx)
    fit = _load(path, key) if path is not None else None
    if fit is None:
        fit = fit_steering(ctx, fit_items, steered, seeds)
        if fit is None:
            return []
        if path is not None:
            _save(path, fit, key)
    prompt_of = {t.condition["item"]: t for t in probe_trials}
    out = []
    for it in steered:
        if it.id not in fit.plans:
            continue
        source, target = fit.plans[it.id]
        base = prompt_of[it.id]
        for strength in p.steer_strengths:
            for kind in DIRECTIONS:
                cond = item_condition(it, kind="steer", direction=kind, strength=strength)
                t = make_trial(spec, cond, base.prompt, None, control=kind)
                vec = direction_vector(fit, kind, source, target, t.seed)
                scale = strength * fit.norm
                t.injection = Injection(
                    torch.tensor(vec, dtype=torch.float32),
                    (fit.layer,),
                    scale,
                    Window.span_marker(OPENER),
                    "add",
                    label=f"{kind}:{it.id}@L{fit.layer}x{strength:g}",
                )
                t.data = {"source": source, "target": target, "layer": fit.layer, "scale": scale}
                out.append(t)
    return out
