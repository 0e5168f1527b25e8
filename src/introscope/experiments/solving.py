"""Solver helpers every slice's torch side shares: injections for a (concept, control) pair,
the spec's layers as indices, and one batched generation with per-trial seeds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from introscope.core.engine import Generation
from introscope.core.layers import LayerSpec
from introscope.core.steering import Injection, Window
from introscope.core.vectors import control_vector
from introscope.errors import VectorError
from introscope.experiments.base import Context, Trial, make_trial


def vector_injection(
    ctx: Context[Any],
    concept: str,
    control: str,
    layer: int,
    strength: float,
    window: Window,
    seed: int,
) -> Injection:
    """The injection for a (concept, control) pair: the concept's own vector, a norm-matched
    random vector, the negated vector, another of the grid's concepts' vector, or a
    covariance-matched random vector (``core.vectors.control_vector``). ``strength`` is in
    the spec's unit (:func:`injection_multiplier`)."""
    vec = control_vector(ctx.vectors, concept, control, seed=seed, pool=ctx.params.concepts)[layer]
    return Injection(
        vec,
        (layer,),
        injection_multiplier(ctx, concept, layer, strength),
        window,
        "add",
        label=f"{control}:{concept}@L{layer}x{strength:g}",
    )


def injection_multiplier(ctx: Context[Any], concept: str, layer: int, strength: float) -> float:
    """The multiplier on the vector for a strength in the spec's unit.

    With ``strength_unit = "residual_norm"`` the injected vector's norm is ``strength`` times
    the mean residual norm at the layer (measured per model over the baseline prompts): the
    concept's vector is rescaled, and its random and negated controls (same norm) with it.
    """
    if ctx.spec.grid.strength_unit == "multiplier":
        return strength
    norm = float(ctx.vectors.get(concept, layer).norm())
    if norm == 0.0:
        raise VectorError(f"The vector of {concept!r} is zero at layer {layer}; it has no size.")
    return strength * ctx.vectors.residual_norm(layer) / norm


def layer_indices(ctx: Context[Any], layers: Sequence[LayerSpec]) -> list[int]:
    """The parameters' layer specs (index, negative index, depth fraction) as indices."""
    return list(ctx.lm.layer_indices(list(layers)))


def generate_batch(
    ctx: Context[Any],
    trials: Sequence[Trial],
    prompts: Sequence[str] | None = None,
    windowed: Sequence[Injection | None] | None = None,
) -> list[Generation]:
    """One batched generation with the spec's sampling settings and per-trial seeds."""
    s = ctx.spec.sampling
    return ctx.engine.generate(
        list(prompts) if prompts is not None else [t.prompt for t in trials],
        list(windowed) if windowed is not None else [t.injection for t in trials],
        max_new_tokens=s.max_new_tokens,
        temperature=s.temperature,
        top_p=s.top_p,
        seeds=[t.seed for t in trials],
    )


def grid_trials(
    ctx: Context[Any],
    concept: str,
    prompt: str,
    window: Window,
    condition: dict[str, Any],
    data: dict[str, Any] | None = None,
    *,
    injection_seed: int | None = None,
) -> list[Trial]:
    """One trial per (layer, strength, control) of the parameters' injection grid for
    ``concept``, in that loop order: the condition is ``condition`` plus the concept and the
    configuration, and every control but 'none' gets its vector injected over ``window``
    (a random vector drawn from ``injection_seed``, the trial's own seed by default)."""
    p = ctx.params
    out = []
    for layer in layer_indices(ctx, p.layers):
        for strength in p.strengths:
            for control in p.controls:
                cond = {
                    **condition,
                    "concept": concept,
                    "layer": layer,
                    "strength": strength,
                    "control": control,
                }
                t = make_trial(
                    ctx.spec, cond, prompt, None, dict(data or {}), concept=concept, control=control
                )
                if control != "none":
                    seed = t.seed if injection_seed is None else injection_seed
                    t.injection = vector_injection(
                        ctx, concept, control, layer, strength, window, seed
                    )
                out.append(t)
    return out


def residual_norms(
    ctx: Context[Any], prompt: str, layers: Sequence[int], window: Window
) -> dict[str, float]:
    """The mean L2 norm of the unperturbed residual stream (decoder-block output) at each of
    ``layers``, over the prompt tokens ``window`` covers: the scale an injection at that
    layer is added to, so ``strength * |v| / |h|`` compares strengths across models. Keys
    are layer indices as strings (as the readout stores them)."""
    # No prefix reuse: a reused prefix is not recomputed, so its positions would be missing.
    (acts,) = ctx.engine.capture([prompt], list(layers), positions=window)
    norms = acts.float().norm(dim=-1).mean(dim=0)  # [n_layers]
    return {str(layer): float(n) for layer, n in zip(layers, norms, strict=True)}
