from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest

from introscope.errors import StoreError
from introscope.store import (
    COLUMNS,
    RunStore,
    TrialRecord,
    decode_json_columns,
    export_run,
    load_run,
    mark_complete,
    prompt_hash,
    read_manifest,
    stable_hash,
    write_manifest,
)


def make_record(i: int, **overrides: object) -> TrialRecord:
    condition = {"concept": f"c{i % 3}", "layer": 10 + i % 2, "strength": 4.0, "control": "none"}
    fields: dict[str, object] = {
        "trial_id": stable_hash({"condition": condition, "seed": i}),
        "run_id": "run-1",
        "experiment": "injected_thoughts",
        "cell_id": f"cell-{i % 3}",
        "condition": condition,
        "prompt": f"Do you detect an injected thought? ({i})",
        "measure": "generation",
        "seed": i,
        "injection": {"vector": f"c{i % 3}", "layers": [10], "strength": 4.0, "mode": "add"},
        "response": f"response {i}",
        "n_prompt_tokens": 20,
        "n_response_tokens": 5,
        "logits": {"p_yes": 0.25, "ranks": [1, 2]},
        "grades": {"rules": {"affirmative": bool(i % 2)}},
        "batch_index": i // 4,
        "started_at": datetime(2025, 1, 1, 12, 0, i % 60),
        "duration_s": 0.5,
    }
    fields.update(overrides)
    return TrialRecord(**fields)  # type: ignore[arg-type]


def test_hashes_are_deterministic() -> None:
    assert stable_hash({"b": 1, "a": [1, 2]}) == stable_hash({"a": [1, 2], "b": 1})
    assert stable_hash({"a": 1}) != stable_hash({"a": 2})
    assert len(stable_hash({})) == 64
    assert prompt_hash("hi") == prompt_hash("hi") and len(prompt_hash("hi")) == 16


def test_round_trip(tmp_path: Path) -> None:
    recs = [make_record(i) for i in range(6)]
    with RunStore(tmp_path) as store:
        assert store.write_batch(recs) == 6
        assert store.count() == 6
        df = store.to_pandas()
    assert list(df.columns) == list(COLUMNS)
    by_id = df.set_index("trial_id")
    r = recs[3]
    row = by_id.loc[r.trial_id]
    assert row["condition"] == r.condition
    assert row["injection"] == r.injection
    assert row["logits"] == {"p_yes": 0.25, "ranks": [1, 2]}
    assert row["grades"] == {"rules": {"affirmative": True}}
    assert row["prompt_hash"] == prompt_hash(r.prompt)
    # flat columns are filled from the condition
    assert row["concept"] == "c0" and row["layer"] == 11 and row["strength"] == 4.0
    assert row["control"] == "none" and pd.isna(row["variant"])
    assert row["started_at"] == pd.Timestamp("2025-01-01 12:00:03")
    assert row["seed"] == 3


def test_nan_and_aware_timestamps(tmp_path: Path) -> None:
    rec = make_record(
        0,
        logits={"p_yes": math.nan},
        started_at=datetime(2025, 1, 1, 12, tzinfo=timezone.utc),
        injection=None,
    )
    with RunStore(tmp_path) as store:
        store.write_batch([rec])
        row = store.to_pandas().iloc[0]
    assert row["logits"] == {"p_yes": None}
    assert row["injection"] is None
    assert row["started_at"] == pd.Timestamp("2025-01-01 12:00:00")


def test_batch_is_atomic(tmp_path: Path) -> None:
    with RunStore(tmp_path) as store:
        store.write_batch([make_record(i) for i in range(3)])
        bad = [make_record(10), make_record(11, measure="bogus"), make_record(12)]
        with pytest.raises(StoreError, match="nothing was written"):
            store.write_batch(bad)
        assert store.count() == 3
        assert store.completed_ids() == {make_record(i).trial_id for i in range(3)}


def test_duplicate_ids(tmp_path: Path) -> None:
    with RunStore(tmp_path) as store:
        store.write_batch([make_record(0)])
        with pytest.raises(StoreError):
            store.write_batch([make_record(1), make_record(0)])
        assert store.count() == 1
        with pytest.raises(StoreError, match="more than once"):
            store.write_batch([make_record(2), make_record(2)])
        store.write_batch([make_record(0, response="new"), make_record(1)], replace=True)
        assert store.count() == 2
        assert store.to_pandas("seed = 0")["response"].tolist() == ["new"]


def test_resume_after_reopen(tmp_path: Path) -> None:
    with RunStore(tmp_path) as store:
        store.write_batch([make_record(i) for i in range(4)])
    with RunStore(tmp_path) as store:
        done = store.completed_ids()
        todo = [make_record(i) for i in range(8) if make_record(i).trial_id not in done]
        assert len(todo) == 4
        store.write_batch(todo)
        assert store.count() == 8


def test_update_grades(tmp_path: Path) -> None:
    recs = [make_record(i) for i in range(3)]
    with RunStore(tmp_path) as store:
        store.write_batch(recs)
        n = store.update_grades({recs[0].trial_id: {"judge": {"coherent": True}}})
        assert n == 1
        g = store.to_pandas("seed = 0")["grades"].iloc[0]
        assert g == {"rules": {"affirmative": False}, "judge": {"coherent": True}}
        store.update_grades({recs[0].trial_id: {"judge": {"x": {"error": "boom"}}}}, merge=False)
        assert store.to_pandas("seed = 0")["grades"].iloc[0] == {"judge": {"x": {"error": "boom"}}}
        with pytest.raises(StoreError, match="unknown trial"):
            store.update_grades({recs[1].trial_id: {"judge": {}}, "nope": {"judge": {}}})
        # nothing changed for recs[1]
        assert store.to_pandas("seed = 1")["grades"].iloc[0] == {"rules": {"affirmative": True}}


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_export_round_trip(tmp_path: Path, fmt: str) -> None:
    run = tmp_path / "run"
    with RunStore(run) as store:
        store.write_batch([make_record(i) for i in range(5)])
    out = export_run(run, fmt)  # type: ignore[arg-type]
    assert out == run / f"trials.{fmt}" and out.exists()
    expected = load_run(run)
    if fmt == "parquet":
        got = decode_json_columns(pd.read_parquet(out))
    elif fmt == "csv":
        got = decode_json_columns(pd.read_csv(out, parse_dates=["started_at"]))
    else:
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        got = pd.DataFrame(rows)
        got["started_at"] = pd.to_datetime(got["started_at"])
    assert list(got.columns) == list(COLUMNS)
    for col in COLUMNS:
        exp_vals = expected[col].tolist()
        got_vals = got[col].tolist()
        for e, g in zip(exp_vals, got_vals, strict=True):
            if isinstance(e, float) and math.isnan(e):
                assert g is None or (isinstance(g, float) and math.isnan(g)), col
            elif e is None or e is pd.NaT:
                assert g is None or pd.isna(g), col
            else:
                assert e == g, (col, e, g)


def test_export_custom_path(tmp_path: Path) -> None:
    with RunStore(tmp_path) as store:
        store.write_batch([make_record(0)])
    out = export_run(tmp_path, "parquet", tmp_path / "sub dir" / "it's.parquet")
    assert len(pd.read_parquet(out)) == 1
    with pytest.raises(StoreError):
        export_run(tmp_path, "xlsx")  # type: ignore[arg-type]


def test_load_run(tmp_path: Path) -> None:
    with RunStore(tmp_path) as store:
        store.write_batch([make_record(i) for i in range(4)])
    df = load_run(tmp_path)
    assert len(df) == 4 and isinstance(df["condition"].iloc[0], dict)
    raw = load_run(tmp_path, decode_json=False)
    assert isinstance(raw["condition"].iloc[0], str)
    assert len(load_run(tmp_path, where="concept = 'c1'")) == 1


def test_load_run_polars_missing(tmp_path: Path) -> None:
    with RunStore(tmp_path) as store:
        store.write_batch([make_record(0)])
    try:
        import polars  # noqa: F401
    except ImportError:
        with pytest.raises(StoreError, match="polars"):
            load_run(tmp_path, backend="polars")
    else:
        assert len(load_run(tmp_path, backend="polars")) == 1


def test_manifest(tmp_path: Path) -> None:
    path = write_manifest(tmp_path, {"run_id": "r1", "model": "smol", "n": 3})
    assert path == tmp_path / "manifest.json"
    m = read_manifest(tmp_path)
    assert m["status"] == "running" and m["run_id"] == "r1"
    # no temp files left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]
    end = datetime(2025, 2, 3, 4, 5, 6, tzinfo=timezone.utc)
    done = mark_complete(tmp_path, end)
    assert done["status"] == "complete"
    assert read_manifest(tmp_path)["end_time"] == end.isoformat()
    with pytest.raises(StoreError):
        write_manifest(tmp_path, {"status": "weird"})
    assert read_manifest(tmp_path)["status"] == "complete"


def test_manifest_only_run_reads_empty(tmp_path: Path) -> None:
    write_manifest(tmp_path, {"run_id": "r"})
    df = load_run(tmp_path)
    assert len(df) == 0 and list(df.columns) == list(COLUMNS)


def test_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=str(tmp_path)):
        load_run(tmp_path)
    with pytest.raises(StoreError):
        RunStore(tmp_path / "missing", read_only=True)
    with pytest.raises(StoreError):
        read_manifest(tmp_path)
    with pytest.raises(StoreError):
        export_run(tmp_path, "csv")
    assert not (tmp_path / "trials.duckdb").exists()
