"""One forward call of the model with explicit positions and KV cache.

Transformers versions differ in the name of the cache argument (``cache`` or
``past_key_values``) and in whether the model can keep only the last position's logits
(``logits_to_keep``); :class:`ModelForward` reads the signature once.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch


class ModelForward:
    """Calls a causal LM with explicit ``position_ids`` and cache, whatever its version."""

    def __init__(self, model: Any) -> None:
        self.model = model
        params = inspect.signature(model.forward).parameters
        self.cache_kw = "cache" if "cache" in params else "past_key_values"
        self.has_logits_to_keep = "logits_to_keep" in params

    def __call__(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        position_ids: torch.Tensor,
        cache: Any,
        *,
        use_cache: bool,
        last_only: bool,
        keep: int = 0,
    ) -> Any:
        """The model output; ``last_only`` keeps only the last position's logits where the
        model can skip the others, ``keep`` (> 0) the last ``keep`` positions' (the output
        head is a large part of a forward pass: a caller that scores a short continuation
        needs its columns only)."""
        kwargs: dict[str, Any] = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "position_ids": position_ids,
            "use_cache": use_cache,
            self.cache_kw: cache,
        }
        if self.has_logits_to_keep and (last_only or keep > 0):
            kwargs["logits_to_keep"] = 1 if last_only else keep
        return self.model(**kwargs)


def output_cache(out: Any) -> Any:
    """The KV cache a forward call returned (``None`` if it kept none)."""
    return getattr(out, "cache", None) or getattr(out, "past_key_values", None)
