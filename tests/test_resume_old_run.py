"""A run directory written by the pre-reshape code (commit 4a59cbe) resumes under this code.

The fixture run is complete; deleting a batch's rows puts it where a run killed before that
batch was written would be (batches are written atomically). Resuming must rerun exactly
those trials, under the run's original identity, and reproduce their readouts.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import duckdb
import pytest

from introscope.core.models import LoadedModel
from introscope.errors import StoreError
from introscope.execution.worker import library_versions
from introscope.runner import run_specs
from introscope.spec import validate_spec
from introscope.store import load_run, read_manifest, write_manifest

FIXTURE = Path(__file__).parent / "fixtures" / "battery_small"

pytestmark = pytest.mark.slow


def copy_fixture(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(FIXTURE, run, ignore=shutil.ignore_patterns("tables.json", "*.md", "*.txt"))
    return run


def test_old_yes_bias_run_refuses_to_resume(lm: LoadedModel, tmp_path: Path) -> None:
    """yes_bias protocol 2 builds other trials from the same spec (issue 10): a run made
    with protocol 1 must not mix them, and says so in one sentence."""
    run = copy_fixture(tmp_path)
    specs = [validate_spec(d, d["name"]) for d in read_manifest(run)["specs"]]
    with pytest.raises(StoreError) as err:
        run_specs(specs, run, lm=lm)
    message = str(err.value)
    assert "holds trials of 'yes_bias' built under version 1" in message
    assert "builds version 2" in message and "another --out" in message
    assert message.count(". ") == 0 and message.endswith(".")


def without_yes_bias(run: Path) -> None:
    """The fixture as if it had been made without its yes_bias parts (whose trials changed
    on purpose), so the rest of the old run can show that it resumes."""
    manifest = read_manifest(run)
    manifest["specs"] = [s for s in manifest["specs"] if s["experiment"] != "yes_bias"]
    write_manifest(run, manifest)
    with duckdb.connect(str(run / "trials.duckdb")) as con:
        con.execute("DELETE FROM trials WHERE experiment = 'yes_bias'")


def test_old_run_directory_resumes(lm: LoadedModel, tmp_path: Path) -> None:
    run = copy_fixture(tmp_path)
    without_yes_bias(run)
    before = load_run(run).set_index("trial_id")
    with duckdb.connect(str(run / "trials.duckdb")) as con:
        # the whole first batch of two logit-readout parts
        gone = [
            r[0]
            for r in con.execute(
                "SELECT trial_id FROM trials WHERE batch_index = 0 AND experiment IN "
                "('mismatch', 'localization')"
            ).fetchall()
        ]
        con.execute(
            "DELETE FROM trials WHERE batch_index = 0 AND experiment IN "
            "('mismatch', 'localization')"
        )
    assert len(gone) > 20
    # The fixture was written with the library versions of its day; a resume refuses other
    # versions (tests/test_resume_checks.py covers that). Here the point is the code: record
    # this environment's versions so only the reshape is under test.
    stamped = read_manifest(run)
    stamped["versions"] = {**stamped.get("versions", {}), **library_versions()}
    write_manifest(run, stamped)
    old_manifest = read_manifest(run)

    specs = [validate_spec(d, d["name"]) for d in old_manifest["specs"]]
    result = run_specs(specs, run, lm=lm)

    assert result.n_new == len(gone)
    assert result.n_trials == len(before)
    after = load_run(run).set_index("trial_id")
    assert sorted(after.index) == sorted(before.index)
    manifest = read_manifest(run)
    assert manifest["status"] == "complete"
    assert manifest["run_id"] == old_manifest["run_id"]
    assert manifest["spec_digest"] == old_manifest["spec_digest"]
    for tid in gone:
        new, old = after.loc[tid], before.loc[tid]
        assert new["run_id"] == old["run_id"]
        assert (new["prompt_hash"], new["seed"], new["cell_id"]) == (
            old["prompt_hash"],
            old["seed"],
            old["cell_id"],
        )
        assert json.dumps(new["condition"], sort_keys=True) == json.dumps(
            old["condition"], sort_keys=True
        )
        # Readouts agree to float rounding (the fixture ran on 2 threads, tests on 1).
        for key, value in old["logits"].items():
            if isinstance(value, float):
                assert math.isclose(new["logits"][key], value, rel_tol=1e-3, abs_tol=1e-4), key
            elif not isinstance(value, list):
                assert new["logits"][key] == value, key
