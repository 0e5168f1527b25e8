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

from introscope.store.arrays import TrialArrays, write_batch_arrays
from introscope.store.database import RunStore
from introscope.store.files import (
    atomic_write_text,
    export_run,
    load_run,
    mark_complete,
    read_manifest,
    read_run_vectors,
    write_manifest,
)
from introscope.store.records import (
    COLUMNS,
    DB_NAME,
    JSON_COLUMNS,
    MANIFEST_NAME,
    VECTORS_NAME,
    TrialRecord,
    canonical_json,
    decode_json_columns,
    prompt_hash,
    stable_hash,
)

__all__ = [
    "COLUMNS",
    "DB_NAME",
    "JSON_COLUMNS",
    "MANIFEST_NAME",
    "VECTORS_NAME",
    "RunStore",
    "TrialArrays",
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
    "write_batch_arrays",
    "write_manifest",
]
