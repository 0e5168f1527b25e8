"""The prefill solver on the bundled model: the same trials as the pre-slice code wrote
(``concept`` = the prefilled word, ``control`` = none / match / other) but for the "other"
vector, which protocol 2 rescales to the prefilled word's norm, and a tiny run through the
runner (ported from ``tests/test_runner.py``: test_prefill_rows)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import torch

from introscope.core.engine import Engine
from introscope.core.models import LoadedModel
from introscope.core.vectors import load_vectors
from introscope.experiments.base import Context
from introscope.experiments.prefill import EXPERIMENT
from introscope.runner import run_spec
from introscope.spec import spec_params, validate_spec
from introscope.store import load_run, read_manifest

FIXTURE = Path(__file__).parents[2] / "fixtures" / "battery_small"


def test_trials_are_those_of_the_old_run_but_other_is_rescaled(
    lm: LoadedModel, engine: Engine
) -> None:
    dump = next(s for s in read_manifest(FIXTURE)["specs"] if s["name"] == "prefill")
    spec = validate_spec(dump, "fixture")
    vectors = load_vectors(FIXTURE / "vectors.safetensors", lm)
    ctx = Context(spec, spec_params(spec), lm, engine, vectors)
    trials = EXPERIMENT.solver().build_trials(ctx)
    old = load_run(FIXTURE, where="experiment = 'prefill'").set_index("trial_id")
    assert len(old) == len(trials) == 15  # 3 words x (none + 2 layers x (match, other))
    assert sorted(t.trial_id for t in trials) == sorted(old.index)
    for t in trials:
        o = old.loc[t.trial_id]
        assert (t.seed, t.cell_id, t.prompt) == (o["seed"], o["cell_id"], o["prompt"])
        assert t.condition == o["condition"]
        assert (t.concept, t.control) == (o["concept"], o["control"])
        assert (t.concept, t.control) == (t.condition["word"], t.condition["injected"])
        if t.injection is None:
            assert o["injection"] is None and t.control == "none"
            continue
        new, was = t.injection.describe(), o["injection"]
        norm, old_norm = new.pop("vector_norm"), was.pop("vector_norm")
        assert new == was
        layer = t.condition["layer"]
        own = float(vectors.get(t.condition["word"], layer).float().norm())
        # match: the word's own vector, as before; other: another word's direction at the
        # prefilled word's norm (the old run injected it at its own norm).
        assert math.isclose(norm, own, rel_tol=1e-5)
        if t.control == "match":
            assert math.isclose(norm, old_norm, rel_tol=1e-6)
        else:
            other = vectors.get(t.condition["inject_concept"], layer).float()
            assert math.isclose(old_norm, float(other.norm()), rel_tol=1e-5)
            cos = torch.nn.functional.cosine_similarity(t.injection.vector.float(), other, dim=0)
            assert float(cos) > 0.9999


@pytest.mark.slow
def test_prefill_rows(lm: LoadedModel, tmp_path: Path) -> None:
    spec = validate_spec(
        {
            "name": "pre",
            "experiment": "prefill",
            "batch_size": 8,
            "grid": {"concepts": ["Ocean", "Dust"], "layers": [0.5], "strengths": [4.0]},
            "sampling": {"max_new_tokens": 6, "temperature": 0.0},
        },
        "pre",
    )
    result = run_spec(spec, tmp_path, lm=lm)
    assert result.n_new == result.n_trials == 6
    df: pd.DataFrame = load_run(tmp_path)
    assert sorted(df["control"].value_counts().items()) == [("match", 2), ("none", 2), ("other", 2)]
    for _, r in df.iterrows():
        c = r["condition"]
        assert c["injected"] in ("none", "match", "other") and c["word"] in ("Ocean", "Dust")
        assert r["concept"] == c["word"] and r["control"] == c["injected"]
        assert {"apology", "coherent"} <= set(r["grades"]["rules"])
        assert all(isinstance(r["grades"]["rules"][k], bool) for k in ("apology", "coherent"))
        assert isinstance(r["response"], str)
        if c["injected"] == "match":
            assert c["inject_concept"] == c["word"]
        elif c["injected"] == "other":
            assert c["inject_concept"] not in (None, c["word"])
        else:
            assert r["injection"] is None and c["inject_concept"] is None
