"""Layer specs (an index, a negative index or a depth fraction) turned into decoder-layer
indices. Torch-free, so the analysis can resolve a spec's declared layer from the layer
count a run's manifest records."""

from __future__ import annotations

from collections.abc import Sequence

from introscope.errors import LayerError

LayerSpec = int | float | str


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
