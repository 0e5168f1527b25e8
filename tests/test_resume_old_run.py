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

from introscope.battery import battery_specs
from introscope.core.models import LoadedModel
from introscope.runner import run_specs
from introscope.store import load_run, read_manifest

FIXTURE = Path(__file__).parent / "fixtures" / "battery_small"

pytestmark = pytest.mark.slow


def test_old_run_directory_resumes(lm: LoadedModel, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(FIXTURE, run, ignore=shutil.ignore_patterns("tables.json", "*.md", "*.txt"))
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
    old_manifest = read_manifest(run)

    # The parts the old run holds (parts added since, such as the metacognition suite's,
    # would make it another run).
    names = {s["name"] for s in old_manifest["specs"]}
    parts = [s for s in battery_specs(scale=0.3) if s.name in names]
    result = run_specs(parts, run, lm=lm)

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
