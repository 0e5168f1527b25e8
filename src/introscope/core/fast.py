"""Fast mode: the engine trades the last bits of every number for speed (docs/engine.md §7).

Exact mode (the default) computes every row as the unhooked model does, bit for bit. Fast
mode, opt-in (``Engine(lm, fast=True)``, spec ``fast = true``, ``--fast``), runs the model in
bfloat16 where the hardware has fast bfloat16 matrix products (CPUs with AVX-512 BF16 or
AMX, CUDA GPUs with compute capability 8+; float16 on older GPUs), and lets finished rows
leave a decoding batch whatever that does to the kept rows' last bits. Its guarantee is
measured, not assumed (benchmarks/bench_fast.py): greedy token agreement with exact mode
and the log-probability deviation at the readout.

Fast mode converts a float32 model to :data:`FAST_PRECISION`. Besides the whole model in
reduced precision (``"reduced"``), :func:`mixed_model` builds the mixed-precision variants
``bench_fast.py`` measures: only the decoder blocks' linear layers
(``"blocks"``) or only their MLP's (``"mlp"``) multiply in reduced precision, while the
residual stream, norms, attention softmax and output head stay in float32; ``"weights"``
keeps float32 arithmetic on weights rounded to bfloat16 (the error of storing weights in
bfloat16 alone).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Literal

import torch
from torch import nn

from introscope.core.layers import locate_layers
from introscope.core.models import LoadedModel

REDUCED = (torch.bfloat16, torch.float16)

Precision = Literal["reduced", "blocks", "mlp", "weights"]
PRECISIONS: tuple[Precision, ...] = ("reduced", "blocks", "mlp", "weights")
# Submodule names of the feed-forward part of a decoder block across the supported families.
MLP_NAMES = ("mlp", "feed_forward", "ffn")


def fast_dtype(device: torch.device) -> torch.dtype:
    """The reduced precision fast mode runs in on ``device`` (float32 where none is fast)."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu":
        try:
            ok = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            ok = False
        return torch.bfloat16 if ok else torch.float32
    return torch.float16


# The precision fast mode uses where the hardware has a fast reduced one: the decoder blocks'
# matrix products in it, the residual stream, norms, attention softmax and output head in
# float32. On the battery's prompts it kept every greedy token of exact mode where bfloat16
# everywhere kept 73% (benchmarks/RESULTS.md, issue 15; declared, not tuned on held-out data).
FAST_PRECISION: Precision = "blocks"


def fast_model(lm: LoadedModel) -> LoadedModel:
    """``lm`` in fast mode's precision: itself when already in reduced precision (or when
    the device has none that is fast), else a copy in :data:`FAST_PRECISION` (the caller's
    model is left as it is)."""
    target = fast_dtype(lm.device)
    if lm.dtype in REDUCED or target == lm.dtype:
        return lm
    return mixed_model(lm, FAST_PRECISION, target)


class ReducedLinear(nn.Module):
    """A linear layer whose product runs in ``dtype`` (weights stored in it) and whose output
    returns in the input's precision. ``compute_in_input_dtype``: the weights are only
    stored in ``dtype`` and the product runs in the input's precision."""

    def __init__(self, linear: nn.Linear, dtype: torch.dtype, *, compute_in_input_dtype: bool):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.compute_dtype = dtype
        self.weights_only = compute_in_input_dtype
        self.weight = nn.Parameter(linear.weight.detach().to(dtype), requires_grad=False)
        self.bias = (
            None
            if linear.bias is None
            else nn.Parameter(linear.bias.detach().to(dtype), requires_grad=False)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.weights_only:
            bias = None if self.bias is None else self.bias.to(x.dtype)
            return nn.functional.linear(x, self.weight.to(x.dtype), bias)
        out = nn.functional.linear(x.to(self.compute_dtype), self.weight, self.bias)
        return out.to(x.dtype)


def mixed_model(
    lm: LoadedModel, precision: Precision, dtype: torch.dtype = torch.bfloat16
) -> LoadedModel:
    """A copy of the float32 ``lm`` in one of the :data:`PRECISIONS` (module docstring);
    ``"reduced"`` is the whole model in ``dtype``."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; known: {', '.join(PRECISIONS)}")
    if lm.dtype != torch.float32:
        raise ValueError(f"mixed precision starts from a float32 model, not {lm.dtype}")
    model = copy.deepcopy(lm.model)
    if precision == "reduced":
        model.to(dtype)
        return _rewrap(lm, model.eval(), str(dtype).replace("torch.", ""))
    layers, _ = locate_layers(model, lm.info.layers_path)
    n = 0
    for layer in layers:
        for name, mod in list(layer.named_modules()):
            if not isinstance(mod, nn.Linear):
                continue
            if precision == "mlp" and name.split(".")[0] not in MLP_NAMES:
                continue
            parent = layer.get_submodule(name.rpartition(".")[0]) if "." in name else layer
            reduced = ReducedLinear(mod, dtype, compute_in_input_dtype=precision == "weights")
            setattr(parent, name.rpartition(".")[2], reduced)
            n += 1
    if n == 0:
        raise ValueError(f"no linear layer of the decoder blocks matches precision {precision!r}")
    return _rewrap(lm, model.eval(), f"float32+{precision}-{str(dtype).replace('torch.', '')}")


def _rewrap(lm: LoadedModel, model: nn.Module, dtype_name: str) -> LoadedModel:
    layers, _ = locate_layers(model, lm.info.layers_path)
    info = replace(lm.info, dtype=dtype_name)
    return LoadedModel(model=model, tokenizer=lm.tokenizer, info=info, layers=layers)


class CompiledForward:
    """A decoder block's ``forward`` through ``torch.compile`` (inductor), falling back to
    the eager ``forward`` with one warning if compiling fails. The forward hooks the engine
    steers with stay outside the compiled code (they run in the module's ``__call__``).
    Compiled code fuses operations and so changes the last bits of the results: a fast-mode
    option only (docs/engine.md §7).

    Transformers' blocks read their ``layer_idx`` as a constant, so dynamo compiles one graph
    per block and phase (prompt pass, decoding step): ``recompile_limit`` is raised to hold
    them all (its default, 8, would leave the upper blocks uncompiled)."""

    def __init__(self, eager: Callable[..., Any], n_layers: int) -> None:
        self.eager = eager
        self.compiled: Callable[..., Any] = torch.compile(eager, dynamic=True)
        self.limit = 4 * n_layers + 8
        self.failure: str | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.failure is None:
            try:
                with torch._dynamo.config.patch(recompile_limit=self.limit):
                    return self.compiled(*args, **kwargs)
            except Exception as exc:  # any compiler failure: run on, uncompiled
                first = (str(exc).strip().splitlines() or [""])[0][:300]
                self.failure = f"{type(exc).__name__}: {first}"
                warnings.warn(
                    f"torch.compile failed on a decoder block ({self.failure}); fast mode "
                    "continues with the uncompiled block.",
                    RuntimeWarning,
                    stacklevel=2,
                )
        return self.eager(*args, **kwargs)


def compiled_model(lm: LoadedModel, *, owned: bool) -> LoadedModel:
    """``lm`` with every decoder block's forward compiled (:class:`CompiledForward`); a
    copy unless ``owned`` (the model is already a copy only this engine uses)."""
    if not owned:
        lm = _rewrap(lm, copy.deepcopy(lm.model).eval(), lm.info.dtype)
    for layer in lm.layers:
        layer.forward = CompiledForward(layer.forward, len(lm.layers))
    return lm
