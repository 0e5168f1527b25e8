"""One embedded DuckDB database per run directory.

A run directory holds ``trials.duckdb`` (table ``trials``, one row per trial) and
``manifest.json`` (run-level metadata with a ``status`` of ``"running"`` or ``"complete"``).

Reading a run back is one call::

    from introscope.store import load_run
    df = load_run("runs/my-run")          # pandas; JSON columns decoded to dicts/lists

Design notes:

* **Atomic batches.** :meth:`RunStore.write_batch` inserts every row of a batch inside one
  transaction (``BEGIN`` ... ``COMMIT``, ``ROLLBACK`` on any error), so a run killed mid-sweep
  (even by SIGKILL) holds only whole batches; resuming skips :meth:`RunStore.completed_ids`.
* **JSON columns** (``condition``, ``injection``, ``logits``, ``grades``) are DuckDB ``JSON``.
  :meth:`RunStore.to_pandas` and :func:`load_run` decode them to Python objects by default
  (``decode_json=False`` keeps the JSON text; :func:`decode_json_columns` decodes later).
  Non-finite floats (NaN, inf) are stored as JSON ``null``; numpy scalars/arrays are
  converted with ``.tolist()``.
* **Timestamps** (``started_at``) are stored as naive UTC; aware datetimes are converted.
* **Concurrency.** One writer process per run directory (DuckDB holds a file lock).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from introscope.errors import StoreError

DB_NAME = "trials.duckdb"
MANIFEST_NAME = "manifest.json"

JSON_COLUMNS: tuple[str, ...] = ("condition", "injection", "logits", "grades")

_SCHEMA: tuple[tuple[str, str], ...] = (
    ("trial_id", "VARCHAR PRIMARY KEY"),
    ("run_id", "VARCHAR NOT NULL"),
    ("experiment", "VARCHAR NOT NULL"),
    ("cell_id", "VARCHAR NOT NULL"),
    ("condition", "JSON NOT NULL"),
    ("prompt", "VARCHAR NOT NULL"),
    ("prompt_hash", "VARCHAR NOT NULL"),
    ("injection", "JSON"),
    ("measure", "VARCHAR NOT NULL CHECK (measure IN ('generation', 'logits'))"),
    ("response", "VARCHAR"),
    ("n_prompt_tokens", "INTEGER"),
    ("n_response_tokens", "INTEGER"),
    ("logits", "JSON"),
    ("grades", "JSON"),
    ("seed", "BIGINT NOT NULL"),
    ("batch_index", "INTEGER"),
    ("started_at", "TIMESTAMP"),
    ("duration_s", "DOUBLE"),
    ("concept", "VARCHAR"),
    ("layer", "INTEGER"),
    ("strength", "DOUBLE"),
    ("control", "VARCHAR"),
    ("variant", "VARCHAR"),
)

#: Column names of the ``trials`` table, in table order.
COLUMNS: tuple[str, ...] = tuple(name for name, _ in _SCHEMA)

_ARROW_SCHEMA = pa.schema(
    [
        ("trial_id", pa.string()),
        ("run_id", pa.string()),
        ("experiment", pa.string()),
        ("cell_id", pa.string()),
        ("condition", pa.string()),
        ("prompt", pa.string()),
        ("prompt_hash", pa.string()),
        ("injection", pa.string()),
        ("measure", pa.string()),
        ("response", pa.string()),
        ("n_prompt_tokens", pa.int32()),
        ("n_response_tokens", pa.int32()),
        ("logits", pa.string()),
        ("grades", pa.string()),
        ("seed", pa.int64()),
        ("batch_index", pa.int32()),
        ("started_at", pa.timestamp("us")),
        ("duration_s", pa.float64()),
        ("concept", pa.string()),
        ("layer", pa.int32()),
        ("strength", pa.float64()),
        ("control", pa.string()),
        ("variant", pa.string()),
    ]
)


# --------------------------------------------------------------------------- hashing / JSON


def _jsonable(obj: Any) -> Any:
    """Recursively convert ``obj`` to plain JSON types (NaN/inf -> None, numpy -> lists)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted(_jsonable(v) for v in obj)
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _jsonable(dataclasses.asdict(obj))
    if hasattr(obj, "tolist"):  # numpy / torch scalars and arrays
        return _jsonable(obj.tolist())
    raise StoreError(f"Cannot store a value of type {type(obj).__name__} as JSON.")


def canonical_json(obj: Any) -> str:
    """Canonical JSON text: sorted keys, no whitespace, NaN/inf as null."""
    return json.dumps(_jsonable(obj), sort_keys=True, separators=(",", ":"), allow_nan=False)


def stable_hash(obj: Any) -> str:
    """sha256 hex digest of ``canonical_json(obj)``; use it for deterministic trial ids."""
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()


def prompt_hash(text: str) -> str:
    """First 16 hex characters of the sha256 of ``text`` (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _dump_optional(obj: Any) -> str | None:
    return None if obj is None else canonical_json(obj)


def _loads_optional(text: Any) -> Any:
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
                [_loads_optional(v) for v in out[col]], index=out.index, dtype=object
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
            "injection": _dump_optional(self.injection),
            "measure": self.measure,
            "response": self.response,
            "n_prompt_tokens": self.n_prompt_tokens,
            "n_response_tokens": self.n_response_tokens,
            "logits": _dump_optional(self.logits),
            "grades": _dump_optional(self.grades),
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


# --------------------------------------------------------------------------- the store


def _is_run_dir(run_dir: Path) -> bool:
    return (run_dir / DB_NAME).exists() or (run_dir / MANIFEST_NAME).exists()


def _not_a_run(run_dir: Path) -> StoreError:
    return StoreError(
        f"{run_dir} is not an introscope run directory (no {DB_NAME} or {MANIFEST_NAME})."
    )


class RunStore:
    """The ``trials`` table of one run directory.

    ``RunStore(run_dir)`` creates the directory and database if needed (writer).
    ``RunStore(run_dir, read_only=True)`` requires an existing run and raises
    :class:`StoreError` otherwise; a run with a manifest but no database yet reads as empty.
    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, run_dir: Path | str, *, read_only: bool = False) -> None:
        self.run_dir = Path(run_dir)
        self.read_only = read_only
        db_path = self.run_dir / DB_NAME
        if read_only:
            if not _is_run_dir(self.run_dir):
                raise _not_a_run(self.run_dir)
            target = str(db_path) if db_path.exists() else ":memory:"
            if target == ":memory:":
                self._con = duckdb.connect(":memory:")
                self._create_schema()
            else:
                self._con = self._connect(target, read_only=True)
        else:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._con = self._connect(str(db_path), read_only=False)
            self._create_schema()

    @staticmethod
    def _connect(path: str, *, read_only: bool) -> duckdb.DuckDBPyConnection:
        try:
            return duckdb.connect(path, read_only=read_only)
        except duckdb.Error as exc:
            raise StoreError(f"Could not open the run database {path}: {exc}") from exc

    def _create_schema(self) -> None:
        cols = ",\n  ".join(f"{name} {typ}" for name, typ in _SCHEMA)
        self._con.execute(f"CREATE TABLE IF NOT EXISTS trials (\n  {cols}\n)")

    # -- lifecycle
    def close(self) -> None:
        """Close the connection (idempotent)."""
        with contextlib.suppress(duckdb.Error):
            self._con.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RunStore({str(self.run_dir)!r}, read_only={self.read_only})"

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        self._con.execute("BEGIN TRANSACTION")
        try:
            yield self._con
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        else:
            self._con.execute("COMMIT")

    # -- writing
    def write_batch(self, records: Sequence[TrialRecord], *, replace: bool = False) -> int:
        """Insert all ``records`` in one transaction; return the number of rows written.

        Either every row lands or none does. An existing ``trial_id`` (or a duplicate within
        the batch) raises :class:`StoreError` unless ``replace=True``, which overwrites rows.
        """
        if not records:
            return 0
        rows = [r.to_row() for r in records]
        ids = [row["trial_id"] for row in rows]
        if len(set(ids)) != len(ids):
            raise StoreError("A batch contains the same trial_id more than once.")
        try:
            table = pa.Table.from_pylist(rows, schema=_ARROW_SCHEMA)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise StoreError(f"Batch rejected, a field has the wrong type: {exc}") from exc
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        try:
            with self._transaction() as con:
                con.register("_batch", table)
                try:
                    con.execute(f"{verb} INTO trials BY NAME SELECT * FROM _batch")
                finally:
                    con.unregister("_batch")
        except duckdb.Error as exc:
            raise StoreError(f"Batch rejected, nothing was written: {exc}") from exc
        return len(rows)

    def update_grades(self, grades: Mapping[str, Mapping[str, Any]], *, merge: bool = True) -> int:
        """Set grades for existing trials (``trial_id -> {grader: {criterion: value}}``).

        With ``merge=True`` each grader's entry replaces that grader's previous entry and other
        graders are kept; with ``merge=False`` the whole grades object is replaced. All updates
        happen in one transaction; an unknown trial_id raises :class:`StoreError` and nothing
        changes. Returns the number of trials updated.
        """
        if not grades:
            return 0
        ids = list(grades)
        with self._transaction() as con:
            existing = dict(
                con.execute(
                    "SELECT trial_id, grades FROM trials WHERE trial_id IN (SELECT unnest(?))",
                    [ids],
                ).fetchall()
            )
            missing = [i for i in ids if i not in existing]
            if missing:
                raise StoreError(f"Cannot grade unknown trial id(s): {', '.join(missing[:5])}.")
            new_rows = []
            for tid, new in grades.items():
                merged: dict[str, Any] = dict(_loads_optional(existing[tid]) or {}) if merge else {}
                merged.update(new)
                new_rows.append({"trial_id": tid, "grades": canonical_json(merged)})
            upd = pa.Table.from_pylist(
                new_rows, schema=pa.schema([("trial_id", pa.string()), ("grades", pa.string())])
            )
            con.register("_upd", upd)
            try:
                con.execute(
                    "UPDATE trials SET grades = _upd.grades FROM _upd "
                    "WHERE trials.trial_id = _upd.trial_id"
                )
            finally:
                con.unregister("_upd")
        return len(ids)

    # -- reading
    def completed_ids(self) -> set[str]:
        """The trial ids already stored (skip these when resuming)."""
        return {r[0] for r in self._con.execute("SELECT trial_id FROM trials").fetchall()}

    def count(self) -> int:
        """Number of stored trials."""
        row = self._con.execute("SELECT count(*) FROM trials").fetchone()
        return int(row[0]) if row else 0

    def to_pandas(self, where: str | None = None, *, decode_json: bool = True) -> pd.DataFrame:
        """All trials (optionally filtered by a trusted SQL ``where`` clause) ordered by trial_id.

        JSON columns are decoded to Python objects unless ``decode_json=False``.
        Example: ``store.to_pandas("concept = 'ocean' AND layer = 15")``.
        """
        sql = "SELECT * FROM trials"
        if where:
            sql += f" WHERE {where}"
        sql += " ORDER BY trial_id"
        df = self._con.execute(sql).df()
        return decode_json_columns(df) if decode_json else df

    def sql(self, query: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """Run an arbitrary query against the run's database and return a DataFrame."""
        return self._con.execute(query, params).df()


# --------------------------------------------------------------------------- manifest


def atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_manifest(run_dir: Path | str, manifest: Mapping[str, Any]) -> Path:
    """Write ``run_dir/manifest.json`` atomically (temp file + ``os.replace``).

    ``status`` defaults to ``"running"`` when the manifest does not set it.
    """
    data = dict(manifest)
    data.setdefault("status", "running")
    if data["status"] not in ("running", "complete"):
        raise StoreError(
            f"Manifest status must be 'running' or 'complete', not {data['status']!r}."
        )
    path = Path(run_dir) / MANIFEST_NAME
    atomic_write_text(path, json.dumps(_jsonable(data), indent=2, sort_keys=True) + "\n")
    return path


def read_manifest(run_dir: Path | str) -> dict[str, Any]:
    """Read ``run_dir/manifest.json``; :class:`StoreError` if it is missing or malformed."""
    path = Path(run_dir) / MANIFEST_NAME
    if not path.exists():
        raise StoreError(f"{run_dir} has no {MANIFEST_NAME}, so it is not an introscope run.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise StoreError(f"{path} is not valid JSON ({exc.msg}).") from exc
    if not isinstance(data, dict):
        raise StoreError(f"{path} does not contain a JSON object.")
    return data


def mark_complete(run_dir: Path | str, end_time: datetime | None = None) -> dict[str, Any]:
    """Set ``status="complete"`` and ``end_time`` (ISO 8601; now, UTC, by default)."""
    data = read_manifest(run_dir)
    data["status"] = "complete"
    data["end_time"] = (end_time or datetime.now(timezone.utc)).isoformat()
    write_manifest(run_dir, data)
    return data


# --------------------------------------------------------------------------- export / load


def export_run(
    run_dir: Path | str,
    fmt: Literal["parquet", "csv", "jsonl"],
    out: Path | str | None = None,
) -> Path:
    """Export the ``trials`` table (ordered by trial_id) to ``out`` (default ``run_dir/trials.<fmt>``).

    Parquet and CSV store the JSON columns as JSON text (decode with
    :func:`decode_json_columns`); JSONL embeds them as nested JSON values.
    """
    if fmt not in ("parquet", "csv", "jsonl"):
        raise StoreError(f"Unknown export format {fmt!r}; use parquet, csv or jsonl.")
    run_dir = Path(run_dir)
    if not _is_run_dir(run_dir):  # before any mkdir: never create a directory for a typo
        raise _not_a_run(run_dir)
    out_path = Path(out) if out is not None else run_dir / f"trials.{fmt}"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        select = "*"
        options = "FORMAT json"
    else:
        select = ", ".join(
            f"CAST({c} AS VARCHAR) AS {c}" if c in JSON_COLUMNS else c for c in COLUMNS
        )
        options = "FORMAT parquet" if fmt == "parquet" else "FORMAT csv, HEADER true"
    target = str(out_path).replace("'", "''")
    with RunStore(run_dir, read_only=True) as store:
        store._con.execute(
            f"COPY (SELECT {select} FROM trials ORDER BY trial_id) TO '{target}' ({options})"
        )
    return out_path


def load_run(
    run_dir: Path | str,
    *,
    where: str | None = None,
    backend: Literal["pandas", "polars"] = "pandas",
    decode_json: bool = True,
) -> Any:
    """Read a run's trials back: the one documented call.

    ``backend="pandas"`` (default) returns a ``pandas.DataFrame`` with JSON columns decoded to
    Python objects (unless ``decode_json=False``). ``backend="polars"`` returns a
    ``polars.DataFrame`` with JSON columns kept as JSON text (``pl.col(c).str.json_decode()``).
    """
    if backend not in ("pandas", "polars"):
        raise StoreError(f"Unknown backend {backend!r}; use 'pandas' or 'polars'.")
    if backend == "polars":
        try:
            import polars as pl
        except ImportError as exc:
            raise StoreError("backend='polars' needs polars: pip install polars.") from exc
        with RunStore(run_dir, read_only=True) as store:
            return pl.from_pandas(store.to_pandas(where, decode_json=False))
    with RunStore(run_dir, read_only=True) as store:
        return store.to_pandas(where, decode_json=decode_json)


VECTORS_NAME = "vectors.safetensors"


def read_run_vectors(run_dir: Path | str) -> dict[str, np.ndarray] | None:
    """The run's concept vectors (``vectors.safetensors``) as ``name -> [n_layers, d]`` numpy
    arrays, without torch; None when the run directory has no vector file."""
    from safetensors import safe_open

    path = Path(run_dir) / VECTORS_NAME
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="np") as f:
            meta = f.metadata() or {}
            names = json.loads(meta["names"])
            return {n: f.get_tensor(f"vec.{i}") for i, n in enumerate(names)}
    except (OSError, KeyError, ValueError) as exc:
        raise StoreError(f"Could not read the run's vectors {path}: {exc}") from exc


__all__ = [
    "COLUMNS",
    "DB_NAME",
    "JSON_COLUMNS",
    "MANIFEST_NAME",
    "RunStore",
    "TrialRecord",
    "atomic_write_text",
    "canonical_json",
    "decode_json_columns",
    "export_run",
    "load_run",
    "mark_complete",
    "prompt_hash",
    "read_manifest",
    "read_run_vectors",
    "stable_hash",
    "write_manifest",
]
