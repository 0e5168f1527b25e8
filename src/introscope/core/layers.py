"""Find a model's decoder layers and turn user layer specs into indices.

Every architecture keeps its decoder blocks in an ``nn.ModuleList`` but at a different
attribute path. A small registry maps ``config.model_type`` to that path; an explicit
``layers_path`` overrides it for anything the registry does not know.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

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

LayerSpec = int | float | str


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


def resolve_layer(spec: LayerSpec, n_layers: int) -> int:
    """Turn a layer spec into a non-negative decoder-layer index.

    Accepted: an int (negative counts from the end), a float in [0, 1] meaning a depth
    fraction (0.67 -> the nearest layer to 67% of the way from the first to the last), or a
    string holding either ("12", "-1", "0.67", "67%").
    """
    value: int | float
    if isinstance(spec, bool):
        raise LayerError(f"Layer spec {spec!r} is not a layer index or depth fraction.")
    if isinstance(spec, str):
        text = spec.strip()
        try:
            if text.endswith("%"):
                value = float(text[:-1]) / 100.0
            elif any(c in text for c in ".eE"):
                value = float(text)
            else:
                value = int(text)
        except ValueError:
            raise LayerError(
                f"Layer spec {spec!r} is neither an index (e.g. 12, -1) nor a depth "
                f"fraction (e.g. 0.67 or 67%)."
            ) from None
    elif isinstance(spec, int | float):
        value = spec
    else:
        raise LayerError(f"Layer spec {spec!r} is not a layer index or depth fraction.")

    if isinstance(value, float):
        if not (0.0 <= value <= 1.0) or value != value:
            raise LayerError(
                f"Depth fraction {value} is outside [0, 1]; use an integer for a layer index."
            )
        return round(value * (n_layers - 1))
    if not -n_layers <= value < n_layers:
        raise LayerError(
            f"Layer {value} is out of range: this model has {n_layers} decoder layers "
            f"(valid indices {-n_layers}..{n_layers - 1})."
        )
    return value % n_layers


def resolve_layers(specs: LayerSpec | Sequence[LayerSpec], n_layers: int) -> tuple[int, ...]:
    """Resolve one spec or several (order kept, duplicates removed)."""
    items: Sequence[LayerSpec] = [specs] if isinstance(specs, int | float | str) else specs
    out: list[int] = []
    for s in items:
        idx = resolve_layer(s, n_layers)
        if idx not in out:
            out.append(idx)
    if not out:
        raise LayerError("No layer was given.")
    return tuple(out)


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
