"""Finished rows leave the decoding batch (docs/engine.md §4).

A row that produced its end-of-sequence token still costs a full row of every matrix
product at every later step. :func:`select_rows` drops such rows from the KV cache, so long
rows do not carry dead ones.

Dropping rows changes the number of rows ``m`` of every matrix product, and a BLAS may pick
another kernel for another ``m`` (MKL on this project's CPU does below 4 rows with one
thread and below 12 with two: the last bits of a row's result change). A row's logits must
not depend on whether its batchmates finished, so :func:`row_floor` measures once per
(device, dtype, threads, batch size, layer shapes) the fewest rows a batch may shrink to
while every linear layer of the model gives each kept row the very bits it gives it in the
full batch; a batch never shrinks below that floor (finished rows fill up to it). The other
operations of a decoder block (attention, norms, elementwise) work row by row.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from transformers.cache_utils import DynamicLayer

from introscope.core.kv_cache import GrowingLayer

_FLOORS: dict[tuple[Any, ...], int] = {}


def _linear_shapes(model: nn.Module) -> dict[tuple[int, int], nn.Module]:
    """One module per distinct (in, out) shape of the model's linear layers (GPT-2's
    ``Conv1D`` included)."""
    found: dict[tuple[int, int], nn.Module] = {}
    for mod in model.modules():
        w = getattr(mod, "weight", None)
        if not isinstance(w, torch.Tensor) or w.dim() != 2:
            continue
        if isinstance(mod, nn.Linear):
            found.setdefault((mod.in_features, mod.out_features), mod)
        elif type(mod).__name__ == "Conv1D":
            found.setdefault((int(w.shape[0]), int(w.shape[1])), mod)
    return found


def row_floor(model: nn.Module, batch: int) -> int:
    """The fewest rows a decoding batch of ``batch`` rows may shrink to with every linear
    layer computing each kept row bit for bit as in the full batch (``batch`` if none)."""
    shapes = _linear_shapes(model)
    if not shapes:
        return batch
    w = next(iter(shapes.values())).weight
    assert isinstance(w, torch.Tensor)
    key = (w.device, w.dtype, torch.get_num_threads(), batch, tuple(sorted(shapes)))
    if key in _FLOORS:
        return _FLOORS[key]
    gen = torch.Generator().manual_seed(0)
    floor = 1
    with torch.inference_mode():
        for (n_in, _), mod in shapes.items():
            mw = mod.weight
            assert isinstance(mw, torch.Tensor)  # (a model spread over devices: each its own)
            x = torch.randn(batch, 1, n_in, generator=gen).to(device=mw.device, dtype=mw.dtype)
            full = mod(x)
            for m in range(batch - 1, floor - 1, -1):
                rows = torch.randperm(batch, generator=gen)[:m].sort().values.to(mw.device)
                if not torch.equal(mod(x[rows]), full[rows]):
                    floor = m + 1
                    break
    _FLOORS[key] = min(floor, batch)
    return _FLOORS[key]


def can_select_rows(cache: Any) -> bool:
    """Whether every layer of ``cache`` is a plain dynamic (or growing) layer whose rows can
    be selected."""
    layers = getattr(cache, "layers", None)
    return (
        isinstance(layers, list)
        and bool(layers)
        and all(type(x) in (DynamicLayer, GrowingLayer) for x in layers)
    )


def select_rows(cache: Any, rows: torch.Tensor) -> None:
    """Keep only batch ``rows`` (sorted indices) of every layer of ``cache``, in place."""
    for layer in cache.layers:
        layer.batch_select_indices(rows)


def kept_rows(live: torch.Tensor, floor: int) -> torch.Tensor:
    """Indices (ascending) of the rows to keep: every live row, and finished rows from the
    front as filler up to ``floor`` rows."""
    idx = live.nonzero()[:, 0]
    short = floor - int(idx.numel())
    if short > 0:
        dead = (~live).nonzero()[:short, 0]
        idx = torch.cat([idx, dead]).sort().values
    return idx
