"""Reliability of run directories: the lock (taken before the model loads), and a resume that
refuses to mix weights, vectors, prompts or library versions unless forced. A run directory
written by the old code (tests/fixtures/battery_small) passes every check."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
import torch

from introscope.battery import battery_specs
from introscope.core.models import LoadedModel
from introscope.core.vectors import VectorSet, load_vectors, save_vectors
from introscope.errors import StoreError
from introscope.execution.local import LocalExecutor
from introscope.execution.worker import Worker, library_versions
from introscope.locks import RUN_LOCK_NAME, RunDirLock
from introscope.resume import check_model_and_versions, check_prompts, check_vectors_file
from introscope.runner import run_spec
from introscope.spec import Spec, validate_spec
from introscope.store import RunStore, load_run, read_manifest, write_manifest

FIXTURE = Path(__file__).parent / "fixtures" / "battery_small"

SPEC = {
    "name": "chk",
    "experiment": "detection",
    "measure": "logits",
    "control_trials": 1,
    "batch_size": 2,
    "grid": {"concepts": ["Ocean", "Dust"], "layers": [0.5], "strengths": [4.0]},
}


def spec(**changes: Any) -> Spec:
    return validate_spec({**SPEC, **changes}, "chk")


@pytest.fixture(scope="module")
def done_run(lm: LoadedModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("done")
    run_spec(spec(), d, lm=lm)
    return d


def fresh_copy(src: Path, tmp_path: Path) -> Path:
    import shutil

    d = tmp_path / "run"
    shutil.copytree(src, d)
    return d


def edit_manifest(run_dir: Path, **changes: Any) -> None:
    m = read_manifest(run_dir)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(m.get(key), dict):
            m[key] = {**m[key], **value}
        else:
            m[key] = value
    write_manifest(run_dir, m)


# --------------------------------------------------------------------------- the lock


def test_second_writer_fails_at_once_and_before_loading(tmp_path: Path) -> None:
    d = tmp_path / "run"
    loads: list[Any] = []
    executor = LocalExecutor(lambda request: loads.append(request))  # type: ignore[arg-type,func-returns-value]
    with RunDirLock(d), pytest.raises(StoreError, match="in use by another introscope process"):
        run_spec(spec(), d, executor=executor)
    assert loads == []  # refused before any model was loaded


def test_second_process_gets_one_sentence_about_the_lock(tmp_path: Path) -> None:
    """A missing model would fail the second process too, but only once the lock is its:
    the lock message proves the lock comes first."""
    d = tmp_path / "run"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("INTROSCOPE_DEBUG", None)
    with RunDirLock(d):
        proc = subprocess.run(
            [sys.executable, "-m", "introscope.cli", "run", "detection", "--out", str(d),
             "--model", str(tmp_path / "no-such-model"), "--no-report"],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "in use by another introscope process" in lines[0]


def test_a_refused_run_leaves_no_directory(lm: LoadedModel, tmp_path: Path) -> None:
    d = tmp_path / "new"
    with pytest.raises(Exception, match="99"):
        run_spec(spec(grid={**SPEC["grid"], "layers": [99]}), d, lm=lm)
    assert not d.exists()
    RunDirLock(d).acquire().release()  # and the lock is free again
    assert (d / RUN_LOCK_NAME).exists()


# --------------------------------------------------------------------------- resume refusals


def test_changed_vectors_are_refused_unless_forced(
    lm: LoadedModel, done_run: Path, tmp_path: Path
) -> None:
    d = fresh_copy(done_run, tmp_path)
    vs = load_vectors(d / "vectors.safetensors")
    vs.vectors["Ocean"] = vs.vectors["Ocean"] * 1.01
    save_vectors(vs, d / "vectors.safetensors")
    with pytest.raises(StoreError, match=r"vectors\.safetensors changed .*--force"):
        run_spec(spec(), d, lm=lm)
    assert run_spec(spec(), d, lm=lm, force=True).n_new == 0
    (d / "vectors.safetensors").unlink()
    edit_manifest(d, vectors_sha256="0" * 64)
    with pytest.raises(StoreError, match="vectors that are gone"):
        run_spec(spec(), d, lm=lm)


def test_other_weights_and_library_versions_are_refused(
    lm: LoadedModel, done_run: Path, tmp_path: Path
) -> None:
    d = fresh_copy(done_run, tmp_path)
    edit_manifest(d, model={"weights_hash": "0123456789abcdef"})
    with pytest.raises(StoreError, match=r"weights 0123456789abcdef .*" + lm.info.weights_hash):
        run_spec(spec(), d, lm=lm)
    edit_manifest(d, model={"weights_hash": lm.info.weights_hash}, versions={"torch": "1.0.0"})
    with pytest.raises(
        StoreError, match=r"torch 1\.0\.0 and this run has torch " + re.escape(torch.__version__)
    ):
        run_spec(spec(), d, lm=lm)
    forced = run_spec(spec(), d, lm=lm, force=True)
    assert forced.already_complete and len(forced.forced) == 1 and "torch 1.0.0" in forced.forced[0]
    record = read_manifest(d)["forced_resumes"]  # the mix is on the record, with what was mixed
    assert [r["mismatches"] for r in record] == [forced.forced]
    assert read_manifest(d)["versions"]["torch"] == torch.__version__


def test_changed_prompts_are_refused(lm: LoadedModel, done_run: Path, tmp_path: Path) -> None:
    d = fresh_copy(done_run, tmp_path)
    edit_manifest(d, prompt_templates={"chk": "0" * 16})
    with pytest.raises(StoreError, match="prompts of spec 'chk' differ"):
        run_spec(spec(), d, lm=lm)
    m = read_manifest(d)
    del m["prompt_templates"]  # as in a run made before the record existed
    write_manifest(d, m)
    run_spec(spec(), d, lm=lm)  # the stored rows are still compared
    victim = str(load_run(d)["trial_id"].iloc[0])
    with duckdb.connect(str(d / "trials.duckdb")) as con:
        con.execute("UPDATE trials SET prompt_hash = 'x' WHERE trial_id = ?", [victim])
    with pytest.raises(StoreError, match=f"Trial {victim} of spec 'chk' was stored with another"):
        run_spec(spec(), d, lm=lm)


def test_a_killed_run_resumes_with_its_record_intact(
    lm: LoadedModel, done_run: Path, tmp_path: Path
) -> None:
    d = fresh_copy(done_run, tmp_path)
    before = read_manifest(d)
    with duckdb.connect(str(d / "trials.duckdb")) as con:
        con.execute("DELETE FROM trials WHERE batch_index = 0")
    assert run_spec(spec(), d, lm=lm).n_new == 2  # the whole first batch (of 3 trials by 2)
    after = read_manifest(d)
    for key in ("run_id", "vectors_sha256", "prompt_templates", "versions", "torch_threads"):
        assert after[key] == before[key], key
    assert after["model"]["weights_hash"] == lm.info.weights_hash


# --------------------------------------------------------------------------- the old fixture


@pytest.mark.slow
def test_a_run_written_by_the_old_code_passes_every_check(lm: LoadedModel) -> None:
    """Its manifest predates every record but the weights (in the old fingerprint) and the
    versions, and its stored prompt hashes match the trials rebuilt now."""
    manifest = read_manifest(FIXTURE)
    assert manifest["model"]["weights_hash"] == lm.info.weights_hash_v1 != lm.info.weights_hash
    check_model_and_versions(FIXTURE, manifest, lm.info, library_versions())
    check_vectors_file(FIXTURE, manifest, FIXTURE / "vectors.safetensors")
    recorded = {d["name"] for d in manifest["specs"]}
    specs = [s for s in battery_specs(scale=0.3) if s.name in recorded]  # the fixture's parts
    worker = Worker(lm, specs)
    worker.use_vectors(load_vectors(FIXTURE / "vectors.safetensors", lm))
    with RunStore(FIXTURE, read_only=True) as store:
        check_prompts(FIXTURE, manifest, worker.build_trials(), store)


def test_vectors_temp_files_are_unique(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two processes saving side by side never write the same temp file."""
    import safetensors.torch as st

    written: list[str] = []
    real = st.save_file

    def spy(tensors: Any, filename: str, metadata: Any = None) -> None:
        written.append(filename)
        real(tensors, filename, metadata=metadata)

    monkeypatch.setattr(st, "save_file", spy)
    gen = torch.Generator().manual_seed(0)
    vs = VectorSet({"a": torch.randn(2, 4, generator=gen)}, "m", "", 4, 2, "test")
    target = tmp_path / "vectors.safetensors"
    save_vectors(vs, target)
    save_vectors(vs, target)
    assert len(set(written)) == 2 and str(target) not in written
    assert all(Path(w).parent == tmp_path and Path(w).name.startswith(".vectors.") for w in written)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vectors.safetensors"]
    assert load_vectors(target).names == ["a"]


@pytest.mark.slow
def test_the_old_run_narrowed_to_its_detection_parts_resumes(
    lm: LoadedModel, tmp_path: Path
) -> None:
    """tests/test_resume_old_run.py resumes the whole fixture once every slice is back in the
    registry; until then, the fixture narrowed to the registered slices (its manifest and
    rows) resumes through every check: old fingerprint, no vectors or prompt record."""
    import shutil

    from introscope.runner import run_specs

    run = tmp_path / "old"
    shutil.copytree(FIXTURE, run, ignore=shutil.ignore_patterns("tables.json", "*.md", "*.txt"))
    manifest = read_manifest(run)
    recorded = {d["name"] for d in manifest["specs"]}
    specs = [s for s in battery_specs(scale=0.3) if s.name in recorded]  # the fixture's parts
    names = [s.name for s in specs]
    manifest["specs"] = [s for s in manifest["specs"] if s["name"] in names]
    write_manifest(run, manifest)
    with duckdb.connect(str(run / "trials.duckdb")) as con:
        con.execute("DELETE FROM trials WHERE experiment <> 'detection'")
    kept = load_run(run).set_index("trial_id")
    with duckdb.connect(str(run / "trials.duckdb")) as con:
        gone = [
            r[0]
            for r in con.execute(
                "SELECT trial_id FROM trials WHERE batch_index = 0 AND measure = 'logits'"
            ).fetchall()
        ]
        con.execute("DELETE FROM trials WHERE batch_index = 0 AND measure = 'logits'")
    assert len(gone) > 20
    result = run_specs(specs, run, lm=lm)
    assert result.n_new == len(gone) and result.n_trials == len(kept)
    after = read_manifest(run)
    assert after["run_id"] == manifest["run_id"] and after["status"] == "complete"
    rows = load_run(run).set_index("trial_id")
    for tid in gone:
        new, old = rows.loc[tid], kept.loc[tid]
        assert (new["prompt_hash"], new["seed"], new["run_id"]) == (
            old["prompt_hash"],
            old["seed"],
            old["run_id"],
        )
        assert new["logits"]["concept_rank"] == old["logits"]["concept_rank"]
        assert new["logits"]["p_yes"] == pytest.approx(old["logits"]["p_yes"], rel=1e-3, abs=1e-4)
    # a second resume now checks the records the first one wrote
    assert run_specs(specs, run, lm=lm).already_complete
