"""The ``trials`` table's schema (written once), canonical JSON and hashing, and the
:class:`TrialRecord` a runner writes per trial."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa

from introscope.errors import StoreError

DB_NAME = "trials.duckdb"
MANIFEST_NAME = "manifest.json"
VECTORS_NAME = "vectors.safetensors"

JSON_COLUMNS: tuple[str, ...] = ("condition", "injection", "logits", "grades")

_STR, _INT, _BIG, _DBL = pa.string(), pa.int32(), pa.int64(), pa.float64()

#: The ``trials`` table, once: column name, DuckDB type, Arrow type of the written batch.
SCHEMA: tuple[tuple[str, str, pa.DataType], ...] = (
    ("trial_id", "VARCHAR PRIMARY KEY", _STR),
    ("run_id", "VARCHAR NOT NULL", _STR),
    ("experiment", "VARCHAR NOT NULL", _STR),
    ("cell_id", "VARCHAR NOT NULL", _STR),
    ("condition", "JSON NOT NULL", _STR),
    ("prompt", "VARCHAR NOT NULL", _STR),
    ("prompt_hash", "VARCHAR NOT NULL", _STR),
    ("injection", "JSON", _STR),
    ("measure", "VARCHAR NOT NULL CHECK (measure IN ('generation', 'logits'))", _STR),
    ("response", "VARCHAR", _STR),
    ("n_prompt_tokens", "INTEGER", _INT),
    ("n_response_tokens", "INTEGER", _INT),
    ("logits", "JSON", _STR),  # the trial's readout (TrialResult.readout)
    ("grades", "JSON", _STR),
    ("seed", "BIGINT NOT NULL", _BIG),
    ("batch_index", "INTEGER", _INT),
    ("started_at", "TIMESTAMP", pa.timestamp("us")),
    ("duration_s", "DOUBLE", _DBL),
    ("concept", "VARCHAR", _STR),
    ("layer", "INTEGER", _INT),
    ("strength", "DOUBLE", _DBL),
    ("control", "VARCHAR", _STR),
    ("variant", "VARCHAR", _STR),
)

#: Column names of the ``trials`` table, in table order.
COLUMNS: tuple[str, ...] = tuple(name for name, _, _ in SCHEMA)
ARROW_SCHEMA = pa.schema([(name, arrow) for name, _, arrow in SCHEMA])


# --------------------------------------------------------------------------- hashing / JSON


def jsonable(obj: Any) -> Any:
    """Recursively convert ``obj`` to plain JSON types (NaN/inf -> None, numpy -> lists)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted(jsonable(v) for v in obj)
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return jsonable(dataclasses.asdict(obj))
    if hasattr(obj, "tolist"):  # numpy / torch scalars and arrays
        return jsonable(obj.tolist())
    raise StoreError(f"Cannot store a value of type {type(obj).__name__} as JSON.")


def canonical_json(obj: Any) -> str:
    """Canonical JSON text: sorted keys, no whitespace, NaN/inf as null."""
    return json.dumps(jsonable(obj), sort_keys=True, separators=(",", ":"), allow_nan=False)


def stable_hash(obj: Any) -> str:
    """sha256 hex digest of ``canonical_json(obj)``; use it for deterministic trial ids."""
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()


def prompt_hash(text: str) -> str:
    """First 16 hex characters of the sha256 of ``text`` (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def dump_optional(obj: Any) -> str | None:
    return None if obj is None else canonical_json(obj)


def loads_optional(text: Any) -> Any:
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return None
    if isinstance(text, (dict, list)):
        return text
    return json.loads(text)


def decode_json_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with the JSON-text columns (:data:`JSON_COLUMNS`) decoded to Python objects."""
    out = df.copy()
    for col in JSON_COLUMNS:
        if col in out.columns:
            out[col] = pd.Series(
                [loads_optional(v) for v in out[col]], index=out.index, dtype=object
            )
    return out


# --------------------------------------------------------------------------- records


@dataclass
class TrialRecord:
    """One row of the ``trials`` table.

    ``prompt_hash`` is computed from ``prompt`` when left ``None``. The flat columns
    ``concept``, ``layer``, ``strength``, ``control`` and ``variant`` are filled from
    ``condition`` (same key) when left ``None`` and the condition value has the right type.
    """

    trial_id: str
    run_id: str
    experiment: str
    cell_id: str
    condition: dict[str, Any]
    prompt: str
    measure: Literal["generation", "logits"]
    seed: int
    prompt_hash: str | None = None
    injection: dict[str, Any] | None = None
    response: str | None = None
    n_prompt_tokens: int | None = None
    n_response_tokens: int | None = None
    logits: dict[str, Any] | None = None
    grades: dict[str, Any] = field(default_factory=dict)
    batch_index: int | None = None
    started_at: datetime | None = None
    duration_s: float | None = None
    concept: str | None = None
    layer: int | None = None
    strength: float | None = None
    control: str | None = None
    variant: str | None = None

    def to_row(self) -> dict[str, Any]:
        """The row as stored: JSON columns serialised, derived columns filled."""
        cond = self.condition

        def flat(name: str, current: Any, types: tuple[type, ...]) -> Any:
            if current is not None:
                return current
            value = cond.get(name)
            if isinstance(value, bool) or not isinstance(value, types):
                return None
            return value

        started = self.started_at
        if started is not None and started.tzinfo is not None:
            started = started.astimezone(timezone.utc).replace(tzinfo=None)
        strength = flat("strength", self.strength, (int, float))
        return {
            "trial_id": self.trial_id,
            "run_id": self.run_id,
            "experiment": self.experiment,
            "cell_id": self.cell_id,
            "condition": canonical_json(cond),
            "prompt": self.prompt,
            "prompt_hash": self.prompt_hash or prompt_hash(self.prompt),
            "injection": dump_optional(self.injection),
            "measure": self.measure,
            "response": self.response,
            "n_prompt_tokens": self.n_prompt_tokens,
            "n_response_tokens": self.n_response_tokens,
            "logits": dump_optional(self.logits),
            "grades": dump_optional(self.grades),
            "seed": self.seed,
            "batch_index": self.batch_index,
            "started_at": started,
            "duration_s": self.duration_s,
            "concept": flat("concept", self.concept, (str,)),
            "layer": flat("layer", self.layer, (int,)),
            "strength": None if strength is None else float(strength),
            "control": flat("control", self.control, (str,)),
            "variant": flat("variant", self.variant, (str,)),
        }
