"""A KV cache that grows in place during decoding.

Hugging Face's ``DynamicLayer`` appends each step's keys/values with ``torch.cat``, which
copies the whole cache of every layer at every decoding step. On CPU at batch 32 that copy
was about a fifth of a decoding step of the bundled model (benchmarks/RESULTS.md).
:func:`reserve` swaps each plain dynamic layer for one that holds a preallocated buffer and
exposes the filled part as a view, so a step writes only the new column.

The attention code sees the same key/value values with the same shapes (only the strides
differ), so outputs are bit-identical to the concatenating cache;
tests/core/test_kv_cache.py checks this, and the engine's greedy output against plain
``generate``. Layers of any other type (sliding-window, static,
quantized) are left as they are.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from transformers.cache_utils import DynamicLayer


class GrowingLayer(DynamicLayer):
    """A ``DynamicLayer`` whose keys/values are views into preallocated buffers."""

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, extra: int) -> None:
        super().__init__()
        b, h, n, d = keys.shape
        self._keys_buf = keys.new_empty(b, h, n + extra, d)
        self._values_buf = values.new_empty(b, h, n + extra, values.shape[-1])
        self._keys_buf[:, :, :n] = keys
        self._values_buf[:, :, :n] = values
        self.keys = self._keys_buf[:, :, :n]
        self.values = self._values_buf[:, :, :n]
        self.device = keys.device
        self.is_initialized = True

    @property
    def capacity(self) -> int:
        return int(self._keys_buf.shape[-2])

    def _writes_in_place(self, m: int) -> bool:
        """True while keys/values are still the leading views of the buffers, with room."""
        k, v = self.keys, self.values
        return (
            self.is_initialized
            and k is not None
            and v is not None
            and k.data_ptr() == self._keys_buf.data_ptr()
            and v.data_ptr() == self._values_buf.data_ptr()
            and k.shape[0] == self._keys_buf.shape[0]
            and v.shape[0] == self._values_buf.shape[0]
            and k.shape[-2] + m <= self.capacity
        )

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self._writes_in_place(key_states.shape[-2]):
            # Out of room (a caller asked for more than it reserved), or something replaced
            # the tensors (reset, batch_select_indices...): behave like DynamicLayer.
            return super().update(key_states, value_states, *args, **kwargs)
        assert self.keys is not None and self.values is not None
        n = self.keys.shape[-2]
        m = key_states.shape[-2]
        self._keys_buf[:, :, n : n + m] = key_states
        self._values_buf[:, :, n : n + m] = value_states
        self.keys = self._keys_buf[:, :, : n + m]
        self.values = self._values_buf[:, :, : n + m]
        return self.keys, self.values

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        """Keep batch rows ``indices`` (finished rows leaving a decoding batch): new buffers
        of that many rows with the same spare room."""
        if not self._writes_in_place(0):
            super().batch_select_indices(indices)
            return
        assert self.keys is not None and self.values is not None
        n = self.keys.shape[-2]
        self._keys_buf = self._keys_buf.index_select(0, indices)
        self._values_buf = self._values_buf.index_select(0, indices)
        self.keys = self._keys_buf[:, :, :n]
        self.values = self._values_buf[:, :, :n]


def _growable(layer: Any) -> bool:
    """A plain dynamic layer (or a growing one) holding 4-D keys/values of some tokens."""
    keys, values = layer.keys, layer.values
    return (
        type(layer) in (DynamicLayer, GrowingLayer)
        and getattr(layer, "is_initialized", False)
        and keys is not None
        and values is not None
        and keys.dim() == 4
        and keys.numel() > 0
    )


def reserve(cache: Any, extra: int) -> None:
    """Give every plain dynamic layer of ``cache`` room for ``extra`` more tokens in place.

    Layers already holding that much spare room, uninitialised layers and layers of other
    types are left alone; caches without a per-layer ``layers`` list are ignored.
    """
    layers = getattr(cache, "layers", None)
    if not isinstance(layers, list) or extra <= 0:
        return
    for i, layer in enumerate(layers):
        if isinstance(layer, GrowingLayer) and layer._writes_in_place(extra):
            continue
        if _growable(layer):
            layers[i] = GrowingLayer(layer.keys, layer.values, extra)


def expanded(cache: Any, batch: int, extra: int) -> Any:
    """A copy of the batch-1 ``cache`` for ``batch`` rows, every plain dynamic layer with room
    for ``extra`` more tokens: one broadcasting copy per layer, where deep-copying, repeating
    and then reserving would copy three times. Other layer types are deep-copied and
    repeated as Hugging Face does it."""
    layers = []
    for layer in cache.layers:
        if _growable(layer) and layer.keys.shape[0] == 1:
            k = layer.keys.expand(batch, -1, -1, -1)
            layers.append(GrowingLayer(k, layer.values.expand(batch, -1, -1, -1), max(extra, 0)))
        else:
            other = copy.deepcopy(layer)
            if batch > 1:
                other.batch_repeat_interleave(batch)
            layers.append(other)
    out = copy.copy(cache)  # shares only the cache's settings, not its layers
    out.layers = layers
    return out
