"""Fast mode: the engine trades the last bits of every number for speed (docs/engine.md §7).

Exact mode (the default) computes every row as the unhooked model does, bit for bit. Fast
mode, opt-in (``Engine(lm, fast=True)``, spec ``fast = true``, ``--fast``), runs the model in
bfloat16 where the hardware has fast bfloat16 matrix products (CPUs with AVX-512 BF16 or
AMX, CUDA GPUs with compute capability 8+; float16 on older GPUs), and lets finished rows
leave a decoding batch whatever that does to the kept rows' last bits. Its guarantee is
measured, not assumed (benchmarks/bench_fast.py): greedy token agreement with exact mode
and the log-probability deviation at the readout.
"""

from __future__ import annotations

import copy
from dataclasses import replace

import torch

from introscope.core.layers import locate_layers
from introscope.core.models import LoadedModel

REDUCED = (torch.bfloat16, torch.float16)


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


def fast_dtype_name(device: str | torch.device) -> str:
    """:func:`fast_dtype` as ``load_model``'s ``dtype`` argument (``"auto"`` resolves the
    device as ``load_model`` does)."""
    if str(device) == "auto":
        dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        dev = torch.device(str(device))
    return str(fast_dtype(dev)).replace("torch.", "")


def fast_model(lm: LoadedModel) -> LoadedModel:
    """``lm`` in fast mode's precision: itself when already in reduced precision (or when
    the device has none that is fast), else a converted copy (the caller's model is left
    as it is)."""
    target = fast_dtype(lm.device)
    if lm.dtype in REDUCED or target == lm.dtype:
        return lm
    model = copy.deepcopy(lm.model).to(target)
    model.eval()
    layers, _ = locate_layers(model, lm.info.layers_path)
    info = replace(lm.info, dtype=str(target).replace("torch.", ""))
    return LoadedModel(model=model, tokenizer=lm.tokenizer, info=info, layers=layers)
