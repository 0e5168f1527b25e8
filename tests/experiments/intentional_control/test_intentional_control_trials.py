"""The intentional-control solver builds the trials the old code built (ids, seeds, cells,
prompts, conditions) and reads out the same cosines, on the fixture run's spec and vectors."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import pytest

from introscope.core.engine import Engine
from introscope.core.models import LoadedModel
from introscope.core.vectors import load_vectors
from introscope.experiments.base import Context
from introscope.experiments.intentional_control.params import IntentionalControlParams
from introscope.experiments.intentional_control.trials import IntentionalControlSolver
from introscope.report.results import load_results
from introscope.runner import run_spec
from introscope.spec import spec_params, validate_spec
from introscope.store import load_run, read_manifest

FIXTURE = Path(__file__).parents[2] / "fixtures" / "battery_small"


@pytest.fixture(scope="module")
def ctx(lm: LoadedModel) -> Context[IntentionalControlParams]:
    (dump,) = [
        s for s in read_manifest(FIXTURE)["specs"] if s["experiment"] == "intentional_control"
    ]
    spec = validate_spec(dump, "fixture")
    params = spec_params(spec)
    assert isinstance(params, IntentionalControlParams)
    vectors = load_vectors(FIXTURE / "vectors.safetensors", lm)
    return Context(spec, params, lm, Engine(lm), vectors)


@pytest.fixture(scope="module")
def old_trials() -> dict[str, dict[str, Any]]:
    df = load_run(FIXTURE)
    rows = df[df["experiment"] == "intentional_control"].to_dict("records")
    return {str(r["trial_id"]): r for r in rows}


def test_trials_are_the_old_trials(
    ctx: Context[IntentionalControlParams], old_trials: dict[str, dict[str, Any]]
) -> None:
    trials = IntentionalControlSolver().build_trials(ctx)
    assert len(trials) == len(old_trials) == 12
    for t in trials:
        old = old_trials[t.trial_id]
        assert (t.seed, t.cell_id, t.prompt) == (old["seed"], old["cell_id"], old["prompt"])
        assert t.condition == old["condition"]
        assert t.injection is None and old["injection"] is None
        # The flat columns the old runner stored: the word and the instruction.
        assert (t.concept, t.control) == (old["concept"], old["control"])
        assert (t.concept, t.control) == (t.condition["word"], t.condition["instruction"])
        assert t.data["sentence"] in t.prompt


def test_readout_is_the_old_readout(
    ctx: Context[IntentionalControlParams], old_trials: dict[str, dict[str, Any]]
) -> None:
    # One batch, as in the old run. The readout matched bit for bit on the machine that wrote
    # the fixture; the tolerance leaves room for another BLAS.
    trials = IntentionalControlSolver().build_trials(ctx)
    results = IntentionalControlSolver().run_batch(ctx, trials)
    for t, r in zip(trials, results, strict=True):
        assert r.response is None and r.readout is not None
        old = old_trials[t.trial_id]["logits"]
        assert set(r.readout) == set(old)
        for key in ("cos_by_layer", "baseline_by_layer"):
            assert len(r.readout[key]) == ctx.lm.n_layers
            for a, b in zip(r.readout[key], old[key], strict=True):
                assert math.isclose(a, b, abs_tol=1e-6), (t.trial_id, key)
        for key in ("cos_by_token", "baseline_by_token"):
            assert len(r.readout[key]) == len(old[key])
            for row_a, row_b in zip(r.readout[key], old[key], strict=True):
                for a, b in zip(row_a, row_b, strict=True):
                    assert math.isclose(a, b, abs_tol=1e-6), (t.trial_id, key)


def test_intentional_control_rows(lm: LoadedModel, tmp_path: Path) -> None:
    """A run through the runner: one row per word x instruction, the flat columns filled
    from the condition, and tables built from the rows. The words have vectors in the
    fixture's vector file, so none are computed."""
    shutil.copy(FIXTURE / "vectors.safetensors", tmp_path / "vectors.safetensors")
    spec = validate_spec(
        {
            "name": "ic",
            "experiment": "intentional_control",
            "measure": "logits",
            "batch_size": 8,
            "grid": {"concepts": ["Dust", "Satellites"], "variants": ["think", "dont_think"]},
        },
        "ic",
    )
    result = run_spec(spec, tmp_path, lm=lm)
    assert result.n_new == result.n_trials == 4
    df = load_run(tmp_path)
    assert sorted(df["control"]) == ["dont_think", "dont_think", "think", "think"]
    assert sorted(df["concept"]) == ["Dust", "Dust", "Satellites", "Satellites"]
    for _, r in df.iterrows():
        lg = r["logits"]
        assert (r["concept"], r["control"]) == (
            r["condition"]["word"],
            r["condition"]["instruction"],
        )
        assert {"cos_by_layer", "baseline_by_layer"} <= set(lg)
        assert len(lg["cos_by_layer"]) == len(lg["baseline_by_layer"]) == lm.n_layers
        assert all(-1.0 <= x <= 1.0 for x in lg["cos_by_layer"] + lg["baseline_by_layer"])
        assert r["injection"] is None and r["response"] is None and r["measure"] == "logits"
    res = load_results(tmp_path)
    assert not res.failures
    t = res.tables["intentional_control"]
    assert set(t["intentional_control"]["instruction"]) == {
        "think",
        "dont_think",
        "think - dont_think",
    }
    assert len(t["intentional_control"]) == 3 * lm.n_layers
    # Two trials per instruction; the two sentences differ in length.
    assert set(t["intentional_control_tokens"]["delta_n"]) == {1, 2}
