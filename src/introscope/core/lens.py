"""The logit lens: a layer's residual stream read through the model's own final norm and
unembedding, as if the network stopped there.

Applied to the last decoder block's output this is exactly the model's next-token
distribution (the final norm and the unembedding are what the model applies); at earlier
layers it shows how far the prediction has formed. Its entropy per layer is one of the
hidden-state variables of the metacognition suite.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from introscope.core.models import LoadedModel
from introscope.errors import LayerError

#: Where architectures keep the norm applied after the last block (first that resolves wins).
FINAL_NORM_PATHS: tuple[str, ...] = (
    "model.norm",
    "model.language_model.norm",
    "language_model.model.norm",
    "transformer.ln_f",
    "gpt_neox.final_layer_norm",
)


def final_norm(model: nn.Module) -> nn.Module:
    """The model's final norm module."""
    for path in FINAL_NORM_PATHS:
        obj: Any = model
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if isinstance(obj, nn.Module):
            return obj
    raise LayerError(
        f"introscope does not know where {type(model).__name__} keeps its final norm "
        f"(tried {', '.join(FINAL_NORM_PATHS)})."
    )


@torch.inference_mode()
def lens_logprobs(lm: LoadedModel, hidden: torch.Tensor) -> torch.Tensor:
    """Log-probabilities ``[..., vocab]`` of residual-stream vectors ``[..., d]`` read through
    the final norm and the unembedding (and the final logit soft-capping of families that
    have one)."""
    model = lm.model
    x = hidden.to(device=lm.device, dtype=lm.dtype)
    logits = model.get_output_embeddings()(final_norm(model)(x)).float()
    cap = getattr(model.config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return torch.log_softmax(logits, dim=-1)


def entropy(logprobs: torch.Tensor) -> torch.Tensor:
    """Entropy in nats of each distribution along the last axis."""
    return -(logprobs.exp() * logprobs).sum(-1)


def layer_entropies(lm: LoadedModel, activations: torch.Tensor) -> torch.Tensor:
    """Logit-lens entropy ``[B, L]`` of captured activations ``[B, L, d]`` (one layer at a
    time, so the vocabulary-sized intermediate stays ``[B, vocab]``)."""
    return torch.stack(
        [entropy(lens_logprobs(lm, activations[:, j])) for j in range(activations.shape[1])],
        dim=1,
    )
