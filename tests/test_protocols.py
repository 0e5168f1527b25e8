"""Protocol versions: the manifest records each spec's experiment protocol, and the runner
refuses to add trials to a spec whose stored trials were built under another version (the
trial ids are the same, the trials are not), while a finished part of an old run is kept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from introscope.core.models import LoadedModel
from introscope.errors import StoreError
from introscope.resume import check_protocols, run_protocols
from introscope.runner import run_spec
from introscope.spec import Spec, spec_params, validate_spec
from introscope.store import read_manifest


def spec(experiment: str, name: str | None = None) -> Spec:
    data: dict[str, Any] = {
        "name": name or experiment,
        "experiment": experiment,
        "batch_size": 2,
        "grid": {"concepts": ["Ocean", "Dust"], "layers": [0.5], "strengths": [4.0]},
        "sampling": {"max_new_tokens": 3, "temperature": 0.0},
    }
    if experiment == "thoughts_vs_text":
        data["grid"]["controls"] = ["concept", "none"]
    return validate_spec(data, data["name"])


def test_the_changed_experiments_are_at_protocol_2() -> None:
    for experiment in ("prefill", "thoughts_vs_text"):
        assert type(spec_params(spec(experiment))).protocol == 2
    assert type(spec_params(spec("detection"))).protocol == 1


def test_a_new_run_records_this_code_s_versions_an_old_manifest_version_1() -> None:
    pre, det = spec("prefill"), spec("detection")
    assert run_protocols(None, [pre, det]) == {"prefill": 2, "detection": 1}
    old: dict[str, Any] = {"specs": []}  # written before versions were recorded
    assert run_protocols(old, [pre, det]) == {"prefill": 1, "detection": 1}
    new = {"protocols": {"prefill": 2, "detection": 1}}
    assert run_protocols(new, [pre, det]) == {"prefill": 2, "detection": 1}


def test_only_a_part_with_trials_left_under_another_version_is_refused(tmp_path: Path) -> None:
    pre, det = spec("prefill"), spec("detection")
    stored = {"prefill": 1, "detection": 1}
    check_protocols(tmp_path, [det], stored)  # prefill finished: nothing to mix
    with pytest.raises(StoreError, match="version 1 of the prefill experiment's protocol") as e:
        check_protocols(tmp_path, [pre, det], stored)
    assert "this introscope builds version 2" in str(e.value)
    assert "another --out" in str(e.value)


@pytest.mark.slow
def test_resuming_an_old_version_run(lm: LoadedModel, tmp_path: Path) -> None:
    pre = spec("prefill")
    run = tmp_path / "run"
    assert run_spec(pre, run, lm=lm).n_new == 6
    manifest = read_manifest(run)
    assert manifest["protocols"] == {"prefill": 2}
    # Pretend the run was made by the code before the rescaled "other" vector.
    manifest["protocols"] = {"prefill": 1}
    (run / "manifest.json").write_text(json.dumps(manifest))
    # Finished: resuming runs nothing, so nothing mixes, and the record stays version 1.
    assert run_spec(pre, run, lm=lm).n_new == 0
    assert read_manifest(run)["protocols"] == {"prefill": 1}
    with duckdb.connect(str(run / "trials.duckdb")) as con:
        con.execute("DELETE FROM trials WHERE batch_index = 0")
    with pytest.raises(StoreError, match="built under version 1 of the prefill"):
        run_spec(pre, run, lm=lm)
