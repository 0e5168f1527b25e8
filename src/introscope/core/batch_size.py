"""``batch_size = "auto"``: the largest batch that fits memory, capped where more rows stop
helping throughput (docs/engine.md §8 gives the rule and its numbers).

Per row, a batch holds the KV cache of its ``T`` tokens (prompt + new tokens), one decoder
block's transient activations during the prompt pass, and the logits of every position (the
scoring readouts keep them all, in float32):

    row = 2·L·H_kv·d_head·T·b  +  T·(4·d + 2·d_ff)·b + H·T²·b  +  T·V·4

(``L`` layers, ``H_kv`` key/value heads of ``d_head``, ``H`` attention heads, hidden size
``d``, MLP width ``d_ff``, vocabulary ``V``, ``b`` bytes per value of the model's dtype; the
``H·T²`` term is the attention-score matrix of an eager attention). The batch is
``min(cap, floor(fraction · free / row))`` with ``free`` the memory available after the
weights are loaded (``torch.cuda.mem_get_info`` on a GPU, ``MemAvailable`` on a CPU),
``fraction`` one half (the other half is the allocator's slack, the prefix cache and the
rest of the process) and ``cap`` the throughput knee: 32 rows on a CPU (a step there is
dominated by per-row matrix products from about 32 rows on, so more rows buy little, and
finished rows leave the batch anyway), 256 on a GPU (where the fixed per-step cost
dominates far longer).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from introscope.errors import SpecError

MEMORY_FRACTION = 0.5
CPU_CAP = 32
GPU_CAP = 256
MAX_BATCH = 1024  # the spec's own upper bound
PROMPT_TOKENS = 512  # the prompt allowance a spec's generation length is added to
MIB = 1 << 20


@dataclass(frozen=True)
class RowShape:
    """The model dimensions a batch row's memory depends on."""

    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    hidden_size: int
    intermediate_size: int
    vocab_size: int
    bytes_per_value: int

    @classmethod
    def from_config(cls, config: Any, dtype: torch.dtype) -> RowShape:
        """From a transformers config (the text part of a multimodal one)."""
        cfg = config.get_text_config() if hasattr(config, "get_text_config") else config
        hidden = int(_first(cfg, "hidden_size", "n_embd", "d_model"))
        heads = int(_first(cfg, "num_attention_heads", "n_head"))
        kv = getattr(cfg, "num_key_value_heads", None) or heads
        head_dim = getattr(cfg, "head_dim", None) or hidden // heads
        ff = getattr(cfg, "intermediate_size", None) or getattr(cfg, "n_inner", None)
        return cls(
            n_layers=int(_first(cfg, "num_hidden_layers", "n_layer")),
            n_heads=heads,
            n_kv_heads=int(kv),
            head_dim=int(head_dim),
            hidden_size=hidden,
            intermediate_size=int(ff or 4 * hidden),
            vocab_size=int(cfg.vocab_size),
            bytes_per_value=torch.empty((), dtype=dtype).element_size(),
        )

    def kv_bytes(self, n_tokens: int) -> int:
        return 2 * self.n_layers * self.n_kv_heads * self.head_dim * n_tokens * self.bytes_per_value

    def row_bytes(self, n_tokens: int) -> int:
        """One row's memory for ``n_tokens`` tokens (module docstring)."""
        t, b = n_tokens, self.bytes_per_value
        activations = t * (4 * self.hidden_size + 2 * self.intermediate_size) * b
        scores = self.n_heads * t * t * b
        logits = t * self.vocab_size * 4
        return self.kv_bytes(t) + activations + scores + logits


def _first(cfg: Any, *names: str) -> Any:
    for name in names:
        value = getattr(cfg, name, None)
        if value is not None:
            return value
    raise SpecError(
        f'batch_size = "auto" cannot read the model config ({names[0]} is missing); '
        "set batch_size to a number."
    )


def throughput_cap(device_type: str) -> int:
    return GPU_CAP if device_type == "cuda" else CPU_CAP


def choose_batch_size(
    shape: RowShape,
    n_tokens: int,
    free_bytes: int,
    device_type: str,
    *,
    fraction: float = MEMORY_FRACTION,
    cap: int | None = None,
) -> int:
    """The rule: ``min(cap, floor(fraction · free_bytes / row_bytes))``, at least 1; a
    budget that does not hold one row is a :class:`SpecError`."""
    if n_tokens < 1:
        raise SpecError(f'batch_size = "auto" needs a positive token count, not {n_tokens}.')
    row = shape.row_bytes(n_tokens)
    budget = int(fraction * max(free_bytes, 0))
    fits = budget // row
    if fits < 1:
        raise SpecError(
            f'batch_size = "auto": one row of {n_tokens} tokens needs about {row / MIB:,.0f} MiB '
            f"(KV cache {shape.kv_bytes(n_tokens) / MIB:,.0f} MiB, activations and logits the "
            f"rest), more than the {budget / MIB:,.0f} MiB budget ({fraction:g} of "
            f"{free_bytes / MIB:,.0f} MiB free on {device_type}); free memory, lower "
            "max_new_tokens, or set batch_size to a number."
        )
    limit = min(cap if cap is not None else throughput_cap(device_type), MAX_BATCH)
    return max(1, min(fits, limit))


def free_memory(device: torch.device) -> int:
    """Bytes available for new allocations on ``device`` now."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:  # psutil is optional: Linux's own figure
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    raise SpecError('batch_size = "auto" cannot tell the free memory here; set a number.')


def auto_batch_size(model: Any, device: torch.device, dtype: torch.dtype, n_tokens: int) -> int:
    """The rule for a loaded ``model`` (its weights already out of the free memory)."""
    shape = RowShape.from_config(model.config, dtype)
    return choose_batch_size(shape, n_tokens, free_memory(device), device.type)
