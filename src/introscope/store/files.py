"""Run-directory files beside the database: the manifest (written atomically), exports,
`load_run`, and the run's concept vectors read without torch."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import numpy as np

from introscope.errors import StoreError
from introscope.store.database import RunStore, is_run_dir, not_a_run
from introscope.store.records import (
    COLUMNS,
    JSON_COLUMNS,
    MANIFEST_NAME,
    VECTORS_NAME,
    jsonable,
)

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
    atomic_write_text(path, json.dumps(jsonable(data), indent=2, sort_keys=True) + "\n")
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
    if not is_run_dir(run_dir):  # before any mkdir: never create a directory for a typo
        raise not_a_run(run_dir)
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
        store.execute(
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
