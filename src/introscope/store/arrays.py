"""Per-trial arrays (activations) beside the run's database, as safetensors files.

A solver returns large arrays in :attr:`TrialResult.arrays`; the runner writes each batch's
arrays to ``run_dir/arrays/<spec>/batch-<index>.safetensors`` (tensor ``<trial id>/<name>``)
*before* the batch's rows are committed, so every stored trial has its arrays, and a batch
recomputed after a crash overwrites its own file. Files are written to a temporary name and
renamed, so a reader never sees half a file.

:class:`TrialArrays` reads them back without torch (numpy), opening a file only when one of
its tensors is asked for.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from introscope.errors import StoreError

ARRAYS_DIR = "arrays"
BATCH_PREFIX = "batch-"


def arrays_dir(run_dir: Path | str, spec_name: str | None = None) -> Path:
    base = Path(run_dir) / ARRAYS_DIR
    return base if spec_name is None else base / spec_name


def batch_file(run_dir: Path | str, spec_name: str, batch_index: int) -> Path:
    return arrays_dir(run_dir, spec_name) / f"{BATCH_PREFIX}{batch_index:06d}.safetensors"


def write_batch_arrays(
    run_dir: Path | str,
    spec_name: str,
    batch_index: int,
    arrays: Mapping[str, Mapping[str, Any]],
) -> Path | None:
    """Write ``trial id -> {name: array}`` of one batch (None when no trial has arrays)."""
    from safetensors.numpy import save_file

    tensors = {
        f"{trial_id}/{name}": np.ascontiguousarray(np.asarray(value))
        for trial_id, named in arrays.items()
        for name, value in named.items()
    }
    if not tensors:
        return None
    for key in tensors:
        if key.count("/") != 1:
            raise StoreError(f"Array name {key!r} may hold no '/' besides the trial id's.")
    path = batch_file(run_dir, spec_name, batch_index)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


class TrialArrays:
    """Every per-trial array of a run directory, indexed by trial id (tensors load lazily).

    ``get(trial_id, name)`` returns the array or None; ``names(trial_id)`` lists a trial's
    arrays. A directory without arrays is an empty index.
    """

    def __init__(self, run_dir: Path | str | None) -> None:
        self.index: dict[str, dict[str, Path]] = {}
        if run_dir is None:
            return
        base = arrays_dir(run_dir)
        if not base.is_dir():
            return
        from safetensors import safe_open

        for path in sorted(base.glob(f"*/{BATCH_PREFIX}*.safetensors")):
            try:
                with safe_open(str(path), framework="np") as f:
                    keys = list(f.keys())
            except (OSError, ValueError) as exc:
                raise StoreError(f"Could not read the array file {path}: {exc}") from exc
            for key in keys:
                trial_id, _, name = key.partition("/")
                self.index.setdefault(trial_id, {})[name] = path

    def __len__(self) -> int:
        return len(self.index)

    def names(self, trial_id: str) -> list[str]:
        return sorted(self.index.get(trial_id, {}))

    def get(self, trial_id: str, name: str) -> np.ndarray | None:
        path = self.index.get(trial_id, {}).get(name)
        if path is None:
            return None
        from safetensors import safe_open

        with safe_open(str(path), framework="np") as f:
            return np.asarray(f.get_tensor(f"{trial_id}/{name}"))

    def stack(self, trial_ids: Iterable[str], name: str) -> tuple[list[str], np.ndarray | None]:
        """The trials among ``trial_ids`` that have array ``name`` (in order) and their
        arrays stacked on a new first axis (None when none has it)."""
        kept: list[str] = []
        values: list[np.ndarray] = []
        by_file: dict[Path, list[str]] = {}
        for t in trial_ids:
            path = self.index.get(t, {}).get(name)
            if path is not None:
                by_file.setdefault(path, []).append(t)
        loaded: dict[str, np.ndarray] = {}
        from safetensors import safe_open

        for path, ids in by_file.items():
            with safe_open(str(path), framework="np") as f:
                for t in ids:
                    loaded[t] = np.asarray(f.get_tensor(f"{t}/{name}"))
        for t in trial_ids:
            if t in loaded:
                kept.append(t)
                values.append(loaded[t])
        return kept, (np.stack(values) if values else None)
