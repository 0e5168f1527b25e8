"""The battery: every shipped experiment in one run directory, on one loaded model."""

from __future__ import annotations

from importlib import resources
from typing import Any

import tomllib

from introscope.errors import SpecError
from introscope.spec import Spec, validate_spec


def battery_specs(
    *,
    model: str = "bundled",
    scale: float = 1.0,
    seed: int = 0,
    device: str = "auto",
    dtype: str = "auto",
    only: list[str] | None = None,
) -> list[Spec]:
    """The battery's specs. ``scale`` multiplies concept counts (and no-injection trials)."""
    if scale <= 0:
        raise SpecError("--scale must be positive.")
    text = resources.files("introscope").joinpath("presets/battery.toml").read_text()
    tables: dict[str, Any] = tomllib.loads(text)
    if only:
        unknown = [n for n in only if n not in tables]
        if unknown:
            raise SpecError(f"Unknown battery part {unknown[0]!r}; parts: {', '.join(tables)}.")
        tables = {k: v for k, v in tables.items() if k in only}
    specs = []
    for name, table in tables.items():
        data = {
            **table,
            "name": name,
            "model": model,
            "seed": seed,
            "device": device,
            "dtype": dtype,
        }
        grid = dict(data.get("grid", {}))
        if "n_concepts" in grid:
            grid["n_concepts"] = max(2, round(grid["n_concepts"] * scale))
        data["grid"] = grid
        if data.get("control_trials"):
            data["control_trials"] = max(1, round(data["control_trials"] * scale))
        specs.append(validate_spec(data, f"battery part {name}"))
    return specs
