"""Sentence features from the model (torch side): the mean residual-stream activation over
a sentence's tokens at the declared layers, the next-token entropy after its last token
(the logit lens at the last layer, which is the model's own distribution) and its length
in tokens. The bank's features are kept in ``run_dir/arrays/<spec>.safetensors`` so a
resumed run labels sentences exactly as the first one did."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.numpy import load_file, save_file

from introscope.core.lens import entropy, lens_logprobs
from introscope.core.steering import Window
from introscope.experiments.base import Context
from introscope.experiments.neurofeedback.axes import Features


def text_features(
    ctx: Context[Any], prompts: Sequence[str], windows: Sequence[Window], layers: Sequence[int]
) -> Features:
    """Features of the span ``windows[i]`` of ``prompts[i]``, in batches of the spec's size."""
    last = ctx.lm.n_layers - 1
    read = sorted(set(layers) | {last})
    acts, ent, length = [], [], []
    bs = ctx.spec.fixed_batch_size
    for k in range(0, len(prompts), bs):
        spans = ctx.engine.capture(
            list(prompts[k : k + bs]), read, positions=list(windows[k : k + bs]), reuse_prefix=True
        )
        for a in spans:  # [n_tok, len(read), d]
            acts.append(torch.stack([a[:, read.index(j)].mean(0) for j in layers]).cpu().numpy())
            lp = lens_logprobs(ctx.lm, a[-1, read.index(last)][None])
            ent.append(float(entropy(lp)[0]))
            length.append(a.shape[0])
    return Features(np.stack(acts), np.asarray(ent), np.asarray(length, dtype=float))


def last_span(prompt: str, text: str) -> Window:
    """The tokens of the last occurrence of ``text`` in ``prompt`` (a system prompt or the
    examples may contain it earlier)."""
    n, at = 0, prompt.find(text)
    while prompt.find(text, at + 1) >= 0:
        at = prompt.find(text, at + 1)
        n += 1
    return Window.span_marker(text, n)


def standalone(ctx: Context[Any], texts: Sequence[str], layers: Sequence[int]) -> Features:
    """Features of each text as the whole user message of a chat prompt."""
    prompts = [ctx.lm.chat_prompt(t) for t in texts]
    windows = [last_span(p, t) for p, t in zip(prompts, texts, strict=True)]
    return text_features(ctx, prompts, windows, layers)


def arrays_path(ctx: Context[Any]) -> Path | None:
    return None if ctx.run_dir is None else ctx.run_dir / "arrays" / f"{ctx.spec.name}.safetensors"


def bank_features(ctx: Context[Any], texts: Sequence[str], layers: Sequence[int]) -> Features:
    """The bank's features, from the run directory when this spec stored them for this
    model and these layers, else computed (and stored)."""
    path = arrays_path(ctx)
    meta = {"weights_hash": ctx.lm.info.weights_hash, "layers": json.dumps(list(layers))}
    if path is not None and path.is_file():
        from safetensors import safe_open

        with safe_open(str(path), "np") as fh:
            stored = fh.metadata() or {}
        arr = load_file(str(path))
        if stored == meta and arr["acts"].shape[0] == len(texts):
            return Features(arr["acts"], arr["entropy"], arr["length"])
    f = standalone(ctx, texts, layers)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file(
            {"acts": f.acts.astype(np.float32), "entropy": f.entropy, "length": f.length},
            str(path),
            metadata=meta,
        )
        f = Features(f.acts.astype(np.float32), f.entropy, f.length)
    return f
