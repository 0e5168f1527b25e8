"""The yes-bias solver on the bundled model: the trials it builds are those of the run the
pre-reshape code wrote (tests/fixtures/battery_small), and a tiny run through the runner
stores the rows the analysis reads."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from introscope.core.engine import Engine
from introscope.core.models import LoadedModel
from introscope.core.vectors import load_vectors
from introscope.experiments.base import Context
from introscope.experiments.yes_bias.params import yes_bias_params
from introscope.experiments.yes_bias.questions import questions
from introscope.experiments.yes_bias.trials import YesBiasSolver
from introscope.grading import rules
from introscope.runner import run_spec
from introscope.spec import validate_spec
from introscope.store import load_run, read_manifest

pytestmark = pytest.mark.slow

FIXTURE = Path(__file__).parents[2] / "fixtures" / "battery_small"


def flat(value: Any) -> Any:
    """A flat store column's value with pandas' missing values as None."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


@pytest.mark.parametrize("name", ["yes_bias", "yes_bias_generation"])
def test_trials_are_those_of_the_old_run(lm: LoadedModel, engine: Engine, name: str) -> None:
    """Same ids, cells, seeds, prompts, conditions, flat columns, injections and batches as
    the trials the old code stored, so old run directories resume."""
    dump = next(s for s in read_manifest(FIXTURE)["specs"] if s["name"] == name)
    spec = validate_spec(dump, name)
    vectors = load_vectors(FIXTURE / "vectors.safetensors", lm)
    ctx = Context(spec, yes_bias_params(spec), lm, engine, vectors)
    trials = YesBiasSolver().build_trials(ctx)
    df = load_run(FIXTURE)
    stored = df[(df["experiment"] == "yes_bias") & (df["measure"] == spec.measure)]
    by_id = {r["trial_id"]: r for r in stored.to_dict("records")}
    assert len(trials) == len(by_id) and {t.trial_id for t in trials} == set(by_id)
    for position, t in enumerate(trials):
        old = by_id[t.trial_id]
        assert (t.cell_id, t.seed, t.prompt) == (old["cell_id"], old["seed"], old["prompt"])
        assert t.condition == old["condition"]
        assert (t.concept, t.control) == (flat(old["concept"]), flat(old["control"]))
        assert old["batch_index"] == position // spec.batch_size  # the same loop order
        if t.injection is None:
            assert old["injection"] is None
            continue
        new, was = t.injection.describe(), dict(old["injection"])
        assert math.isclose(new.pop("vector_norm"), was.pop("vector_norm"), rel_tol=1e-5)
        assert json.loads(json.dumps(new)) == was


def tiny_spec(measure: str) -> Any:
    return validate_spec(
        {
            "name": f"yb_{measure}",
            "experiment": "yes_bias",
            "measure": measure,
            "batch_size": 32,
            "grid": {
                "concepts": ["Dust", "Satellites"],
                "layers": [0.5],
                "strengths": [4.0],
                "controls": ["concept", "random"],
            },
            "sampling": {"max_new_tokens": 4, "temperature": 0.0},
        },
        measure,
    )


def run_frame(lm: LoadedModel, tmp_path: Path, measure: str) -> pd.DataFrame:
    shutil.copy(FIXTURE / "vectors.safetensors", tmp_path / "vectors.safetensors")
    result = run_spec(tiny_spec(measure), tmp_path, lm=lm)
    assert result.n_new == result.n_trials
    assert read_manifest(tmp_path)["status"] == "complete"
    return load_run(tmp_path)


def test_logits_rows(lm: LoadedModel, tmp_path: Path) -> None:
    df = run_frame(lm, tmp_path, "logits")
    n_q = len(questions())
    assert len(df) == n_q + 2 * 1 * 2  # every question uninjected + concepts x controls
    assert (df["control"] == "none").sum() == n_q
    for _, r in df.iterrows():
        p = r["logits"]["p_yes"]
        assert isinstance(p, float) and 0.0 <= p <= 1.0
        assert r["condition"]["question_kind"] in ("world", "self")
        assert r["condition"]["question_id"].startswith(r["condition"]["question_kind"])
        assert (r["injection"] is None) == (r["control"] == "none")
        assert flat(r["concept"]) == r["condition"]["concept"]


def test_generation_rows(lm: LoadedModel, tmp_path: Path) -> None:
    df = run_frame(lm, tmp_path, "generation")
    assert len(df) == len(questions()) + 4
    for _, r in df.iterrows():
        assert isinstance(r["response"], str)
        assert r["grades"] == {"rules": {"answered_yes": rules.answered_yes(r["response"])}}
