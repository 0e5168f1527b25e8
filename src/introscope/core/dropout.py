"""Dropout masks that depend only on (row seed, layer, token position, dimension).

The bundled model trains with dropout 0, so "sensitivity to dropout" needs dropout applied
from outside: an :class:`~introscope.core.steering.Injection` in mode ``dropout`` zeroes each
residual-stream coordinate with probability p and scales the rest by 1 / (1 - p). The mask is
a counter-based hash of the row's seed, the layer, the *true* token position and the
dimension, never a draw from a shared generator, so a row gets the same mask whatever its
batchmates, padding, prefix reuse or KV-cache mode, on any device.

The hash is the "lowbias32" integer mixer (Wellons) with multipliers below 2**31, so every
product of a 32-bit value fits in int64 without overflow.
"""

from __future__ import annotations

import torch

MASK32 = 0xFFFFFFFF
_M1 = 0x7FEB352D
_M2 = 0x2C1B3C6D  # < 2**31, so (x < 2**32) * _M2 < 2**63
_LAYER_SALT = 0x27D4EB2F
_DIM_SALT = 0x165667B1


def mix32(x: torch.Tensor) -> torch.Tensor:
    """A 32-bit avalanche hash of int64 values in [0, 2**32)."""
    x = x ^ (x >> 16)
    x = (x * _M1) & MASK32
    x = x ^ (x >> 15)
    x = (x * _M2) & MASK32
    return x ^ (x >> 16)


def uniform_noise(
    seeds: torch.Tensor, layer: int, positions: torch.Tensor, width: int
) -> torch.Tensor:
    """Uniform values in [0, 1) of shape ``[B, T, width]``: one per (row seed ``seeds[b]``,
    ``layer``, true position ``positions[b, t]``, dimension)."""
    row = mix32((seeds.long() & MASK32) ^ ((layer * _LAYER_SALT) & MASK32))  # [B]
    pos = mix32(row[:, None] ^ (positions.long() & MASK32))  # [B, T]
    dims = torch.arange(width, device=positions.device, dtype=torch.long)
    h = mix32(pos[..., None] ^ mix32((dims * _DIM_SALT) & MASK32)[None, None, :])
    return (h >> 8).float() / float(1 << 24)  # 24 bits: exact in float32, never 1.0


def dropped(
    hidden: torch.Tensor,
    seeds: torch.Tensor,
    rates: torch.Tensor,
    layer: int,
    positions: torch.Tensor,
) -> torch.Tensor:
    """``hidden`` ``[B, T, d]`` with inverted dropout at rate ``rates[b]`` per row: each
    coordinate kept when its noise is at least the rate, then scaled by 1 / (1 - rate)."""
    noise = uniform_noise(seeds, layer, positions, hidden.shape[-1])
    keep = noise >= rates.float()[:, None, None]
    scale = (1.0 / (1.0 - rates.float())).to(hidden.dtype)[:, None, None]
    return torch.where(keep, hidden * scale, torch.zeros_like(hidden))
