"""The Ray executor on a real local cluster (``ray.init(num_cpus=2)``, two CPU actors with the
bundled model, one torch thread each, like this process): the store is row-for-row identical
to the local executor's (timing columns aside), also when one actor is SIGKILLed mid-run and
when a partly written run is resumed on the actors.

The first two (the store equals the local one, also with an actor killed) run in the default
suite, so CI runs them; resuming and the study on Ray are marked slow.

The local reference runs in this process with one intra-op thread (tests/conftest.py); the
actors use ``cpus_per_worker = 1`` thread each, which is what makes the floats bit-identical.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
import torch

from introscope.core.engine import Engine
from introscope.core.models import LoadedModel
from introscope.core.vectors import concept_vectors, save_vectors
from introscope.execution.base import BatchOutcome
from introscope.runner import run_specs
from introscope.spec import Spec, validate_spec
from introscope.store import load_run, read_manifest

ray = pytest.importorskip("ray")

TIMING = ["started_at", "duration_s"]
WORDS = ["Ocean", "Dust", "Bread"]


def specs() -> list[Spec]:
    """Sampled generation (per-trial seeds) and a logit readout: two specs, one run."""
    gen = {
        "name": "gen",
        "experiment": "detection",
        "measure": "generation",
        "control_trials": 2,
        "batch_size": 2,
        "seed": 5,
        "grid": {
            "concepts": WORDS,
            "layers": [0.5],
            "strengths": [4.0],
            "controls": ["concept", "random"],
        },
        "sampling": {"max_new_tokens": 5, "temperature": 1.0},
    }
    logits = {
        "name": "lgt",
        "experiment": "detection",
        "measure": "logits",
        "control_trials": 1,
        "batch_size": 3,
        "grid": {"concepts": WORDS[:2], "layers": [0.33, 0.67], "strengths": [2.0]},
    }
    return [validate_spec(gen, "gen"), validate_spec(logits, "lgt")]


N_TRIALS = (2 + 3 * 2) + (1 + 2 * 2)


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    assert torch.get_num_threads() == 1, "the local reference must use the actors' thread count"
    ray.init(num_cpus=2, include_dashboard=False, logging_level="warning", log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def seeded(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``seeded(name)``: a new run directory holding the shared concept vectors."""
    vec = tmp_path_factory.mktemp("vec") / "vectors.safetensors"
    save_vectors(concept_vectors(engine, WORDS), vec)

    def make(name: str) -> Path:
        d = tmp_path_factory.mktemp(name)
        shutil.copy(vec, d / "vectors.safetensors")
        return d

    return make


@pytest.fixture(scope="module")
def local_run(lm: LoadedModel, seeded: Any) -> tuple[Path, pd.DataFrame]:
    d = seeded("local")
    result = run_specs(specs(), d, lm=lm)
    assert result.n_new == N_TRIALS
    return d, load_run(d)


def ray_executor(**options: Any) -> Any:
    from introscope.execution.ray_cluster import RayExecutor, RayOptions

    return RayExecutor(RayOptions(workers=2, cpus_per_worker=1, **options))


def same_store(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert a["trial_id"].is_unique and len(a) == len(b) == N_TRIALS
    left = a.drop(columns=TIMING).sort_values("trial_id").reset_index(drop=True).astype(str)
    right = b.drop(columns=TIMING).sort_values("trial_id").reset_index(drop=True).astype(str)
    pd.testing.assert_frame_equal(left, right)


def test_ray_store_equals_local_store(
    cluster: None, local_run: tuple[Path, pd.DataFrame], seeded: Any
) -> None:
    d = seeded("ray")
    workers: set[str] = set()
    result = run_specs(
        specs(), d, executor=ray_executor(), on_batch=lambda o: workers.add(o.worker)
    )
    assert result.n_new == N_TRIALS and not result.retried
    assert workers == {"w0", "w1"}  # both actors computed batches
    same_store(load_run(d), local_run[1])
    manifest = read_manifest(d)
    assert manifest["run_id"] == read_manifest(local_run[0])["run_id"]
    assert manifest["executor"]["name"] == "ray" and manifest["torch_threads"] == 1
    assert manifest["status"] == "complete"


def test_actor_sigkilled_mid_run_changes_nothing(
    cluster: None, local_run: tuple[Path, pd.DataFrame], seeded: Any
) -> None:
    d = seeded("killed")
    killed: list[int] = []

    def kill_first(outcome: BatchOutcome) -> None:
        # The executor queues this actor's next batches before handing the outcome over, so
        # the actor is in the middle of one when it dies.
        if not killed:
            killed.append(outcome.worker_pid)
            os.kill(outcome.worker_pid, signal.SIGKILL)

    result = run_specs(specs(), d, executor=ray_executor(), on_batch=kill_first)
    assert killed and result.retried, "no batch was lost with the killed actor"
    assert all("died" in line and "trial ids" in line for line in result.retried)
    assert result.n_new == N_TRIALS
    same_store(load_run(d), local_run[1])


@pytest.mark.slow
def test_ray_resumes_a_partly_written_run(
    cluster: None, local_run: tuple[Path, pd.DataFrame], tmp_path: Path
) -> None:
    d = tmp_path / "partial"
    shutil.copytree(local_run[0], d)
    with duckdb.connect(str(d / "trials.duckdb")) as con:
        con.execute("DELETE FROM trials WHERE batch_index IN (1, 3)")
        left = con.execute("SELECT count(*) FROM trials").fetchone()
    assert left is not None and 0 < left[0] < N_TRIALS
    result = run_specs(specs(), d, executor=ray_executor())
    assert result.n_new == N_TRIALS - left[0]
    same_store(load_run(d), local_run[1])


@pytest.mark.slow
def test_a_study_on_ray_equals_the_study_run_locally(
    cluster: None, lm: LoadedModel, tmp_path: Path
) -> None:
    """`introscope study --executor ray` on a tiny local model: the first actor computes the
    vectors (residual norms included) and the trials; the store equals the local study's."""
    from typer.testing import CliRunner

    from introscope.cli import app
    from introscope.study import model_slug
    from support import BUNDLED_VOCAB, tiny_model

    tiny_model("llama", n_layers=4, vocab_size=BUNDLED_VOCAB, seed=2).save_pretrained(
        tmp_path / "tiny"
    )
    lm.tokenizer.save_pretrained(tmp_path / "tiny")
    (tmp_path / "tiny.toml").write_text(
        'name = "tl"\nexperiment = "detection"\nmeasure = "logits"\ncontrol_trials = 1\n'
        'batch_size = 2\n[grid]\nconcepts = ["Ocean", "Dust"]\nlayers = [0.5]\n'
        'controls = ["concept", "random"]\n'
    )
    study = tmp_path / "study.toml"
    study.write_text(
        'name = "s"\nmodels = ["tiny"]\npresets = ["tiny.toml"]\n'
        '[override]\nstrengths = [0.5]\nstrength_unit = "residual_norm"\n'
    )
    frames = []
    for name, extra in (("local", []), ("ray", ["--executor", "ray", "--workers", "2"])):
        out = tmp_path / name
        res = CliRunner().invoke(app, ["study", str(study), "--out", str(out), *extra])
        assert res.exit_code == 0, res.output
        run_dir = out / model_slug(str((tmp_path / "tiny").resolve()))
        assert read_manifest(run_dir)["executor"]["name"] == name
        frames.append(load_run(run_dir).drop(columns=TIMING).astype(str))
        assert (out / "compare.html").is_file()
    assert len(frames[0]) == 5
    pd.testing.assert_frame_equal(frames[0], frames[1])
