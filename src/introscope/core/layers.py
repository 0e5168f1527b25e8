"""Find a model's decoder layers and turn user layer specs into indices.

Every architecture keeps its decoder blocks in an ``nn.ModuleList`` but at a different
attribute path. A small registry maps ``config.model_type`` to that path; an explicit
``layers_path`` overrides it for anything the registry does not know.
"""

from __future__ import annotations

import torch
from torch import nn

from introscope.core.layer_specs import LayerSpec as LayerSpec
from introscope.core.layer_specs import resolve_layer as resolve_layer
from introscope.core.layer_specs import resolve_layers as resolve_layers
from introscope.errors import LayerError

# model_type -> candidate attribute paths (first that resolves wins). Several families wrap
# the text model differently in their multimodal variants, hence more than one path.
LAYER_PATHS: dict[str, tuple[str, ...]] = {
    "llama": ("model.layers",),
    "mistral": ("model.layers",),
    "qwen2": ("model.layers",),
    "qwen3": ("model.layers",),
    "gemma": ("model.layers",),
    "gemma2": ("model.layers",),
    "gemma3": ("model.language_model.layers", "model.layers", "language_model.model.layers"),
    "gemma3_text": ("model.layers",),
    "phi3": ("model.layers",),
    "olmo2": ("model.layers",),
    "gpt2": ("transformer.h",),
    "gpt_neox": ("gpt_neox.layers",),
}


def _get_path(model: nn.Module, path: str) -> nn.Module | None:
    obj: object = model
    for part in path.split("."):
        if not hasattr(obj, part):
            return None
        obj = getattr(obj, part)
    return obj if isinstance(obj, nn.Module) else None


def locate_layers(model: nn.Module, layers_path: str | None = None) -> tuple[nn.ModuleList, str]:
    """Return the decoder-layer list and the attribute path it was found at."""
    config = getattr(model, "config", None)
    model_type = str(getattr(config, "model_type", "unknown"))
    if layers_path is not None:
        candidates: tuple[str, ...] = (layers_path,)
    elif model_type in LAYER_PATHS:
        candidates = LAYER_PATHS[model_type]
    else:
        raise LayerError(
            f"introscope does not know where architecture '{model_type}' keeps its decoder "
            f"layers; pass layers_path (for example 'model.layers') to name the nn.ModuleList."
        )
    for path in candidates:
        found = _get_path(model, path)
        if isinstance(found, nn.ModuleList) and len(found) > 0:
            return found, path
    raise LayerError(
        f"No decoder-layer list at {' or '.join(repr(p) for p in candidates)} in this "
        f"'{model_type}' model; pass layers_path naming its nn.ModuleList of decoder blocks."
    )


def block_output(output: object) -> torch.Tensor:
    """The hidden-state tensor in a decoder block's output (a tensor or a tuple's first item)."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, tuple) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    raise TypeError(f"Unexpected decoder-block output type {type(output).__name__}.")


def replace_block_output(output: object, hidden: torch.Tensor) -> object:
    """Put ``hidden`` back where :func:`block_output` found it."""
    if isinstance(output, torch.Tensor):
        return hidden
    assert isinstance(output, tuple)
    return (hidden, *output[1:])
