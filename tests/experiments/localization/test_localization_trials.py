"""The localization solver builds exactly the trials the pre-reshape code stored (ids, seeds,
prompts, conditions, injections, flat columns), and a tiny real run on the bundled model
keeps the row contract (ported from tests/test_controls_a.py)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from introscope.core.engine import Engine
from introscope.core.models import LoadedModel
from introscope.core.vectors import load_vectors
from introscope.experiments.base import Context
from introscope.experiments.localization import EXPERIMENT
from introscope.experiments.localization.analysis import headlines, tables
from introscope.experiments.localization.params import LocalizationParams
from introscope.runner import run_spec
from introscope.spec import load_spec, override, validate_spec
from introscope.store import load_run, read_manifest
from introscope.tables import RunFrame, clean

FIXTURE = Path(__file__).parents[2] / "fixtures" / "battery_small"
KIND = "localization"


def stored(value: Any) -> Any:
    v = clean(value)
    return None if isinstance(v, float) and math.isnan(v) else v


def test_trials_are_those_of_the_fixture_run(lm: LoadedModel, engine: Engine) -> None:
    dump = next(s for s in read_manifest(FIXTURE)["specs"] if s["experiment"] == KIND)
    spec = validate_spec(dump, "fixture manifest")
    params = EXPERIMENT.params(spec)
    assert isinstance(params, LocalizationParams)
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
def test_localization_real_run(lm: LoadedModel, tmp_path: Path) -> None:
    df = tiny_run(lm, tmp_path, controls="concept")
    # 2 stimuli x 2 questions x (injected + no injection).
    assert len(df) == 8
    for c, lg, concept, control in zip(
        df["condition"], df["logits"], df["concept"], df["control"], strict=True
    ):
        assert c["question"] in ("injected", "abstract") and 1 <= c["target"] <= 5
        assert set(lg) >= {"chosen", "target", "p_target", "probs", "digit_mass"}
        assert len(lg["probs"]) == 5 and sum(lg["probs"]) == pytest.approx(1.0, abs=1e-4)
        assert lg["chosen"] == int(np.argmax(lg["probs"])) + 1 and lg["target"] == c["target"]
        assert control == c["control"] and stored(concept) == c["concept"]
    # The two questions see the same stimulus and the same injection.
    inj = df[df["control"] == "concept"]
    for _, g in inj.groupby(inj["condition"].map(lambda c: c["stimulus_id"])):
        assert len(g) == 2 and g["injection"].map(str).nunique() == 1
        assert g["condition"].map(lambda c: c["target"]).nunique() == 1
    everything = tables(RunFrame(df), {})
    t = everything["localization"]
    assert set(t["question"]) == {"injected", "abstract"} and (t["chance"] == 0.2).all()
    lines = headlines(everything, {})
    assert lines and all("aware" not in ln.sentence.lower() for ln in lines)
