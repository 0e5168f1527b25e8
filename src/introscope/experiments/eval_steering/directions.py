"""The directions the steering experiment injects, and the held-out check of the awareness
direction (torch side).

* **Awareness direction**: the format-balanced test-minus-deployment mean difference over the
  contrast statements of :mod:`introscope.experiments.eval_framing.awareness` (the same
  prompts and the same construction as the eval_framing slice's direction), at each
  injection layer, from the last token's activation.
* **Held-out check**: the contrast statements are split in two halves by statement (even
  and odd statement number within each style, both formats of a statement in the same half);
  each half gives its own direction, and every prompt is projected onto the direction of the
  half it is *not* in (minus that half's mean). The two halves' directions' cosine is kept.
* **Framing direction**: per item, the mean over paraphrases and formats of the last-token
  activation under the self-diagnostic framing minus under the judgment framing (same item,
  paraphrase and format). Items fall into two folds (:func:`assign_folds`); the direction
  applied to an item is the mean of the *other* fold's per-item differences
  (:func:`cross_fit`), so no item is steered by a direction built from its own activations.
* **Random directions**: unit Gaussian directions drawn from a seed
  (:func:`random_unit`).

Computing the fit runs the model, so it is kept in ``run_dir/arrays/<spec>/`` and a
resumed run injects the very same vectors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from introscope.experiments.base import Context
from introscope.experiments.eval_framing.awareness import contrast_prompts
from introscope.experiments.eval_framing.framings import PREFILL
from introscope.store import stable_hash
from introscope.store.arrays import arrays_dir

FIT_FILE = "eval_steering_fit.safetensors"
FOLDS = 2


def contrast_rows() -> list[tuple[str, int, str, str]]:
    """(style, statement number, format, user text) of every contrast prompt: the k-th
    prompt of a (style, format) is statement k."""
    seen: dict[tuple[str, str], int] = {}
    out = []
    for style, fmt, text in contrast_prompts():
        k = seen.get((style, fmt), 0)
        seen[(style, fmt)] = k + 1
        out.append((style, k, fmt, text))
    return out


def statement_half(statement: int) -> int:
    """The held-out half a contrast statement belongs to (even / odd statement number)."""
    return statement % 2


def balanced_difference(
    acts: torch.Tensor, rows: Sequence[tuple[str, int, str, str]], keep: Sequence[bool]
) -> tuple[torch.Tensor, torch.Tensor]:
    """(test-minus-deployment difference taken within each format and averaged, the kept
    rows' mean), each ``[n_layers, d]``, over the rows where ``keep`` is true."""

    def m(style: str, fmt: str) -> torch.Tensor:
        idx = [i for i, r in enumerate(rows) if keep[i] and r[0] == style and r[2] == fmt]
        return acts[idx].mean(0)

    fmts = sorted({r[2] for r in rows})
    diff = torch.stack([m("test", f) - m("deployment", f) for f in fmts]).mean(0)
    kept = [i for i in range(len(rows)) if keep[i]]
    return diff, acts[kept].mean(0)


def unit(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def heldout_check(
    acts: torch.Tensor, rows: Sequence[tuple[str, int, str, str]]
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """(per prompt: its projection ``[n_layers]`` on the other half's unit direction, minus
    that half's mean; the two halves' directions' cosine ``[n_layers]``)."""
    halves = [statement_half(r[1]) for r in rows]
    fits = [balanced_difference(acts, rows, [h == k for h in halves]) for k in range(2)]
    proj = []
    for i, h in enumerate(halves):
        diff, mean = fits[1 - h]
        proj.append(((acts[i] - mean) * unit(diff)).sum(-1))
    cos = torch.nn.functional.cosine_similarity(fits[0][0], fits[1][0], dim=-1)
    return proj, cos


def assign_folds(items: Sequence[tuple[str, str]], seed: int) -> dict[str, int]:
    """item id -> fold (0 or 1): within each kind, items ordered by a hash of (seed, id)
    alternate between the folds, so both folds hold both kinds."""
    out: dict[str, int] = {}
    n = 0
    for kind in dict.fromkeys(k for _, k in items):
        ids = sorted(
            (i for i, k in items if k == kind), key=lambda i: stable_hash([seed, "fold", i])
        )
        for item_id in ids:
            out[item_id] = n % FOLDS
            n += 1
    return out


def cross_fit(
    diffs: Mapping[str, torch.Tensor], folds: Mapping[str, int]
) -> dict[int, tuple[torch.Tensor, tuple[str, ...]]]:
    """fold -> (mean of the per-item differences of the items *outside* the fold, those
    items' ids): the direction applied to the fold's items."""
    out = {}
    for f in sorted(set(folds.values())):
        others = tuple(i for i in diffs if folds[i] != f)
        if not others:
            raise ValueError(f"Fold {f} has no items outside it to build its direction from.")
        out[f] = (torch.stack([diffs[i] for i in others]).mean(0), others)
    return out


def random_unit(d: int, seed: int) -> torch.Tensor:
    """A unit direction drawn from a standard normal with ``seed`` (float32)."""
    r = np.random.default_rng(seed).standard_normal(d)
    return torch.tensor(r / np.linalg.norm(r), dtype=torch.float32)


@dataclass(frozen=True)
class SteeringFit:
    layers: list[int]
    aware: torch.Tensor  # [n_layers, d], the test-minus-deployment difference
    heldout: list[dict[str, Any]]  # one row per contrast prompt
    halves_cosine: list[float]  # per layer
    folds: dict[str, int]
    framing: dict[int, torch.Tensor]  # fold -> [n_layers, d]
    built_from: dict[int, tuple[str, ...]]  # fold -> the items its direction is built from


@dataclass(frozen=True)
class FramingPrompts:
    """The unsteered prompts of one item whose activations build the framing direction."""

    item_id: str
    kind: str
    self_diagnostic: list[str]  # one per paraphrase x format
    judgment: list[str]  # the same paraphrases and formats, in the same order


def _path(ctx: Context[Any]) -> Path | None:
    return None if ctx.run_dir is None else arrays_dir(ctx.run_dir, ctx.spec.name) / FIT_FILE


def capture_last(ctx: Context[Any], prompts: Sequence[str], layers: list[int]) -> torch.Tensor:
    """Last-token activations ``[N, n_layers, d]`` of ``prompts`` in batches of the spec's
    batch size (float32)."""
    size = max(1, ctx.spec.fixed_batch_size)
    parts = [
        ctx.engine.capture_last(list(prompts[i : i + size]), layers).float()
        for i in range(0, len(prompts), size)
    ]
    return torch.cat(parts)


def _capture(
    ctx: Context[Any], items: Sequence[FramingPrompts], layers: list[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    texts = [t for *_, t in contrast_rows()]
    contrast = capture_last(
        ctx, [ctx.lm.chat_prompt([("user", t), ("assistant", PREFILL)]) for t in texts], layers
    )
    acts = capture_last(
        ctx, [p for it in items for p in (*it.self_diagnostic, *it.judgment)], layers
    )
    diffs, at = [], 0
    for it in items:
        n = len(it.self_diagnostic)
        a, b = acts[at : at + n], acts[at + n : at + 2 * n]
        diffs.append((a - b).mean(0))
        at += 2 * n
    return contrast, torch.stack(diffs)


def fit_steering(
    ctx: Context[Any], items: Sequence[FramingPrompts], layers: list[int]
) -> SteeringFit:
    """The fit for ``items`` at ``layers``: read from the run directory when a fit with the
    same key is there, else computed (one forward per contrast prompt and per unsteered
    framing prompt) and saved."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    key = stable_hash(
        [ctx.lm.info.weights_hash, layers, [(it.item_id, it.self_diagnostic) for it in items]]
    )
    path = _path(ctx)
    tensors: dict[str, torch.Tensor] | None = None
    if path is not None and path.is_file():
        with safe_open(str(path), framework="pt") as f:
            if (f.metadata() or {}).get("key") == key:
                tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (not a dict)
    if tensors is None:
        contrast, diffs = _capture(ctx, items, layers)
        tensors = {"contrast": contrast.contiguous(), "framing_diffs": diffs.contiguous()}
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            save_file(tensors, str(path), metadata={"key": key})
    return build_fit(tensors["contrast"], tensors["framing_diffs"], items, layers, ctx.spec.seed)


def build_fit(
    contrast: torch.Tensor,
    framing_diffs: torch.Tensor,
    items: Sequence[FramingPrompts],
    layers: list[int],
    seed: int,
) -> SteeringFit:
    """The directions from the captured activations (contrast prompts ``[N, n, d]``, per-item
    self-diagnostic minus judgment ``[items, n, d]``)."""
    rows = contrast_rows()
    aware, _ = balanced_difference(contrast, rows, [True] * len(rows))
    proj, cos = heldout_check(contrast, rows)
    heldout = [
        {
            "style": style,
            "statement": k,
            "format": fmt,
            "half": statement_half(k),
            "projection": {str(layer): float(proj[i][j]) for j, layer in enumerate(layers)},
        }
        for i, (style, k, fmt, _) in enumerate(rows)
    ]
    folds = assign_folds([(it.item_id, it.kind) for it in items], seed)
    diffs = {it.item_id: framing_diffs[i] for i, it in enumerate(items)}
    fitted = cross_fit(diffs, folds)
    return SteeringFit(
        layers=layers,
        aware=aware,
        heldout=heldout,
        halves_cosine=[float(c) for c in cos],
        folds=folds,
        framing={f: v for f, (v, _) in fitted.items()},
        built_from={f: ids for f, (_, ids) in fitted.items()},
    )
