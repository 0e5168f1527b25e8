"""The mismatch solver builds exactly the trials the pre-reshape code stored (ids, seeds,
prompts, conditions, injections, flat columns), and a tiny real run on the bundled model
keeps the row contract (ported from tests/test_controls_a.py)."""

from __future__ import annotations

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
from introscope.experiments.mismatch import EXPERIMENT
from introscope.experiments.mismatch.analysis import headlines, tables
from introscope.experiments.mismatch.params import MismatchParams
from introscope.runner import run_spec
from introscope.spec import load_spec, override, validate_spec
from introscope.store import load_run, read_manifest
from introscope.tables import RunFrame, clean

FIXTURE = Path(__file__).parents[2] / "fixtures" / "battery_small"
KIND = "mismatch"


def stored(value: Any) -> Any:
    v = clean(value)
    return None if isinstance(v, float) and math.isnan(v) else v


def test_trials_are_those_of_the_fixture_run(lm: LoadedModel, engine: Engine) -> None:
    dump = next(s for s in read_manifest(FIXTURE)["specs"] if s["experiment"] == KIND)
    spec = validate_spec(dump, "fixture manifest")
    params = EXPERIMENT.params(spec)
    assert isinstance(params, MismatchParams)
    vectors = load_vectors(FIXTURE / "vectors.safetensors", lm)
    trials = EXPERIMENT.solver().build_trials(Context(spec, params, lm, engine, vectors))
    old = load_run(FIXTURE)
    old = old[old["experiment"] == KIND].set_index("trial_id")
    assert sorted(t.trial_id for t in trials) == sorted(old.index)
    for t in trials:
        o = old.loc[t.trial_id]
        assert (t.cell_id, t.seed, t.prompt, t.condition) == (
            o["cell_id"],
            o["seed"],
            o["prompt"],
            o["condition"],
        )
        assert (t.concept, t.control) == (stored(o["concept"]), stored(o["control"]))
        if t.injection is None:
            assert o["injection"] is None
            continue
        new, want = t.injection.describe(), dict(o["injection"])
        assert new.pop("vector_norm") == pytest.approx(want.pop("vector_norm"), rel=1e-5)
        assert new == want


def tiny_run(lm: LoadedModel, tmp_path: Path, **overrides: Any) -> pd.DataFrame:
    spec = override(
        load_spec(KIND),
        concepts="Dust,Satellites",
        layers="0.33",
        strengths="8",
        trials=1,
        **overrides,
    )
    # The fixture's vectors cover both words: the run reuses them instead of building.
    shutil.copy(FIXTURE / "vectors.safetensors", tmp_path / "vectors.safetensors")
    result = run_spec(spec, tmp_path, lm=lm)
    assert result.n_new == result.n_trials > 0
    df = load_run(tmp_path)
    assert len(df) == result.n_trials and set(df["experiment"]) == {KIND}
    return df


@pytest.mark.slow
def test_mismatch_real_run(lm: LoadedModel, tmp_path: Path) -> None:
    df = tiny_run(lm, tmp_path, controls="concept", control_trials=1)
    # 2 baselines (one per asked word) + 2 concepts x (congruent, incongruent).
    assert len(df) == 6
    for c, lg, concept, control in zip(
        df["condition"], df["logits"], df["concept"], df["control"], strict=True
    ):
        assert {"concept", "asked", "congruent", "layer", "strength", "control"} <= set(c)
        assert 0.0 <= lg["p_yes"] <= 1.0
        assert control == c["control"] and stored(concept) == c["concept"]
        if c["control"] == "none":
            assert c["concept"] is None and c["congruent"] is None
        else:
            assert c["layer"] == 10 and c["congruent"] == (c["asked"] == c["concept"])
    t = tables(RunFrame(df), {})
    assert len(t["mismatch"]) == 1 and t["mismatch"].iloc[0]["gap_n"] == 2
    lines = headlines(t, {})
    assert lines and all("aware" not in ln.sentence.lower() for ln in lines)
