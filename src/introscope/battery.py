"""The battery: every slice's battery parts in one run directory, on one loaded model.

Each slice ships its parts in ``battery.toml`` inside its package (one table per part, each
a full spec); the battery runs them in registry order.
"""

from __future__ import annotations

from typing import Any

import tomllib

from introscope.errors import SpecError
from introscope.experiments import REGISTRY
from introscope.spec import Spec, validate_spec


def battery_tables() -> dict[str, dict[str, Any]]:
    """Every battery part, name -> its TOML table, in registry order."""
    tables: dict[str, dict[str, Any]] = {}
    for exp in REGISTRY:
        text = exp.battery_text()
        if text is None:
            continue
        for name, table in tomllib.loads(text).items():
            if name in tables:
                raise SpecError(f"Two slices declare the battery part {name!r}.")
            tables[name] = table
    return tables


def battery_specs(
    *,
    model: str = "bundled",
    scale: float = 1.0,
    seed: int = 0,
    device: str = "auto",
    dtype: str = "auto",
    only: list[str] | None = None,
    fast: bool = False,
) -> list[Spec]:
    """The battery's specs. ``scale`` multiplies concept counts (and no-injection trials)."""
    if not scale > 0 or scale == float("inf"):
        raise SpecError("--scale must be a positive finite number.")
    tables = battery_tables()
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
            "fast": fast,
        }
        grid = dict(data.get("grid", {}))
        if "n_concepts" in grid:
            grid["n_concepts"] = max(2, round(grid["n_concepts"] * scale))
        data["grid"] = grid
        if data.get("control_trials"):
            data["control_trials"] = max(1, round(data["control_trials"] * scale))
        specs.append(validate_spec(data, f"battery part {name}"))
    return specs
