"""Per-trial arrays beside a run: written atomically per batch, read back lazily by trial."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from introscope.errors import StoreError
from introscope.store import TrialArrays, write_batch_arrays
from introscope.store.arrays import batch_file


def test_round_trip(tmp_path: Path) -> None:
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.ones((4, 3), dtype=np.float32)
    write_batch_arrays(tmp_path, "spec1", 0, {"t1": {"pre": a, "cot": b}, "t2": {"pre": a + 1}})
    write_batch_arrays(tmp_path, "spec2", 3, {"t3": {"pre": a * 2}})
    assert write_batch_arrays(tmp_path, "spec2", 4, {"t4": {}}) is None
    arrays = TrialArrays(tmp_path)
    assert len(arrays) == 3 and arrays.names("t1") == ["cot", "pre"]
    got = arrays.get("t1", "pre")
    assert got is not None and np.array_equal(got, a) and got.dtype == np.float32
    assert arrays.get("t2", "cot") is None and arrays.get("nope", "pre") is None
    ids, stacked = arrays.stack(["t3", "t9", "t1", "t2"], "pre")
    assert ids == ["t3", "t1", "t2"] and stacked is not None
    assert np.array_equal(stacked, np.stack([a * 2, a, a + 1]))
    assert arrays.stack(["t9"], "pre") == ([], None)
    assert sorted(p.name for p in (tmp_path / "arrays" / "spec1").iterdir()) == [
        batch_file(tmp_path, "spec1", 0).name
    ]


def test_a_rewritten_batch_replaces_its_file(tmp_path: Path) -> None:
    write_batch_arrays(tmp_path, "s", 0, {"t1": {"pre": np.zeros(2)}})
    write_batch_arrays(tmp_path, "s", 0, {"t1": {"pre": np.ones(2)}})
    got = TrialArrays(tmp_path).get("t1", "pre")
    assert got is not None and got.tolist() == [1.0, 1.0]


def test_no_arrays_and_bad_names(tmp_path: Path) -> None:
    assert len(TrialArrays(tmp_path)) == 0 and len(TrialArrays(None)) == 0
    with pytest.raises(StoreError, match="no '/'"):
        write_batch_arrays(tmp_path, "s", 0, {"t1": {"a/b": np.zeros(1)}})
