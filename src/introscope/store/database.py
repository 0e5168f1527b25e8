"""The ``trials`` table of one run directory (:class:`RunStore`): atomic batch writes,
grade updates, reads."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from introscope.errors import StoreError
from introscope.store.records import (
    ARROW_SCHEMA,
    DB_NAME,
    MANIFEST_NAME,
    SCHEMA,
    TrialRecord,
    canonical_json,
    decode_json_columns,
    loads_optional,
)


def is_run_dir(run_dir: Path) -> bool:
    return (run_dir / DB_NAME).exists() or (run_dir / MANIFEST_NAME).exists()


def not_a_run(run_dir: Path) -> StoreError:
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
            if not is_run_dir(self.run_dir):
                raise not_a_run(self.run_dir)
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
        cols = ",\n  ".join(f"{name} {typ}" for name, typ, _arrow in SCHEMA)
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
            table = pa.Table.from_pylist(rows, schema=ARROW_SCHEMA)
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
                merged: dict[str, Any] = dict(loads_optional(existing[tid]) or {}) if merge else {}
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

    def execute(self, statement: str) -> None:
        """Run a trusted SQL statement that returns nothing (an export's ``COPY``)."""
        self._con.execute(statement)

    def sql(self, query: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """Run an arbitrary query against the run's database and return a DataFrame."""
        return self._con.execute(query, params).df()
