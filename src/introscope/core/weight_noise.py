"""Seeded Gaussian noise on the decoder blocks' linear weights, undone bit for bit.

:func:`weight_noise` adds, in place, ``sigma * std(W) * N(0, 1)`` to the weight ``W`` of every
linear layer inside the engine's decoder blocks (``nn.Linear`` and GPT-2's ``Conv1D``; biases,
norms, embeddings and the unembedding are left alone), where ``std(W)`` is that matrix's own
standard deviation, so ``sigma`` is a relative scale that means the same in every matrix.
``sigma == 0`` touches nothing: it is an exact identity, the reference of a noise sweep.

The draw is seeded per matrix from (``seed``, the module's name) with a generator on the
weight's device, so a (sigma, seed) pair gives the same perturbation every time on the same
kind of device (a CPU and a GPU draw differ).

Restoring: before adding noise the exact tensors touched are copied (by default to CPU
memory, so accelerator memory is not doubled; the copy costs as much host memory as the
blocks' linear weights, about the whole model's size for a decoder-only LM), and ``finally``
copies them back, so the model leaves the context bit-identical, after an exception too.

The engine's shared-prefix KV cache (:mod:`introscope.core.prefix`) is cleared on entry and
on exit: keys and values computed with one set of weights must never be reused under
another (a stale prefix would silently mix the unperturbed model into a perturbed run).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from introscope.core.engine import Engine


def noised_weights(blocks: nn.ModuleList) -> list[tuple[str, torch.Tensor]]:
    """(qualified name, weight) of every linear layer inside ``blocks``, in a fixed order."""
    out = []
    for i, block in enumerate(blocks):
        for name, mod in block.named_modules():
            if isinstance(mod, nn.Linear) or type(mod).__name__ == "Conv1D":
                out.append((f"{i}.{name}", mod.weight))
    return out


def matrix_seed(seed: int, name: str) -> int:
    """A 63-bit seed for one matrix, from the run's noise seed and the module's name."""
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


@torch.no_grad()
def perturb_(weight: torch.Tensor, sigma: float, seed: int) -> None:
    """Add ``sigma * std(weight) * N(0, 1)`` to ``weight`` in place (noise drawn in float32)."""
    gen = torch.Generator(device=weight.device)
    gen.manual_seed(seed)
    w = weight.float()
    scale = sigma * float(w.std()) if w.numel() > 1 else 0.0
    noise = torch.randn(w.shape, generator=gen, device=weight.device, dtype=torch.float32)
    weight.copy_((w + scale * noise).to(weight.dtype))


@contextmanager
def weight_noise(
    engine: Engine, sigma: float, seed: int, *, backup_device: str | torch.device = "cpu"
) -> Iterator[int]:
    """Within the context the engine's model has noisy block weights (module docstring);
    yields the number of matrices perturbed (0 for ``sigma == 0``)."""
    if not sigma >= 0 or sigma == float("inf"):
        raise ValueError(f"weight noise sigma must be a finite number >= 0, not {sigma!r}")
    engine.clear_prefix_cache()
    saved: list[tuple[torch.Tensor, torch.Tensor]] = []
    try:
        if sigma > 0:
            for name, weight in noised_weights(engine.lm.layers):
                # The copy first, so that a failure half-way restores what was touched.
                saved.append((weight, weight.detach().to(backup_device, copy=True)))
                perturb_(weight.data, sigma, matrix_seed(seed, name))
        yield len(saved)
    finally:
        with torch.no_grad():
            for weight, copy in saved:
                weight.data.copy_(copy)
        engine.clear_prefix_cache()
