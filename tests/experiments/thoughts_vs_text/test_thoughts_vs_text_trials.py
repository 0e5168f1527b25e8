"""The thoughts-vs-text solver on the bundled model: the same trials as the pre-slice code
wrote (so its runs resume), and a tiny run through the runner (ported from
``tests/test_runner.py``: test_thoughts_vs_text_rows)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from introscope.core.engine import Engine
from introscope.core.models import LoadedModel
from introscope.core.vectors import load_vectors
from introscope.experiments.base import Context
from introscope.experiments.thoughts_vs_text import EXPERIMENT
from introscope.runner import run_spec
from introscope.spec import spec_params, validate_spec
from introscope.store import load_run, read_manifest

FIXTURE = Path(__file__).parents[2] / "fixtures" / "battery_small"


def test_trials_are_those_of_the_old_run(lm: LoadedModel, engine: Engine) -> None:
    dump = next(s for s in read_manifest(FIXTURE)["specs"] if s["name"] == "thoughts_vs_text")
    spec = validate_spec(dump, "fixture")
    vectors = load_vectors(FIXTURE / "vectors.safetensors", lm)
    ctx = Context(spec, spec_params(spec), lm, engine, vectors)
    trials = EXPERIMENT.solver().build_trials(ctx)
    old = load_run(FIXTURE, where="experiment = 'thoughts_vs_text'").set_index("trial_id")
    assert len(old) == len(trials) == 12  # 3 concepts x 2 layers x 1 strength x 2 controls
    assert sorted(t.trial_id for t in trials) == sorted(old.index)
    for t in trials:
        o = old.loc[t.trial_id]
        assert (t.seed, t.cell_id, t.prompt) == (o["seed"], o["cell_id"], o["prompt"])
        assert t.condition == o["condition"]
        assert (t.concept, t.control) == (o["concept"], o["control"])
        if t.injection is None:
            assert o["injection"] is None and t.control == "none"
        else:
            new, was = t.injection.describe(), o["injection"]
            assert math.isclose(new.pop("vector_norm"), was.pop("vector_norm"), rel_tol=1e-6)
            assert new == was


@pytest.mark.slow
def test_thoughts_vs_text_rows(lm: LoadedModel, tmp_path: Path) -> None:
    spec = validate_spec(
        {
            "name": "tvt",
            "experiment": "thoughts_vs_text",
            "batch_size": 8,
            "grid": {
                "concepts": ["Dust"],
                "layers": [0.5],
                "strengths": [4.0],
                "controls": ["concept", "none"],
            },
            "sampling": {"max_new_tokens": 6, "temperature": 0.0},
        },
        "tvt",
    )
    result = run_spec(spec, tmp_path, lm=lm)
    assert result.n_new == result.n_trials == 2
    df: pd.DataFrame = load_run(tmp_path)
    assert len(df) == 2
    for _, r in df.iterrows():
        lg, rules = r["logits"], r["grades"]["rules"]
        assert {"candidate_rank", "n_candidates", "chosen"} <= set(lg)
        assert lg["n_candidates"] == 10 and 1 <= lg["candidate_rank"] <= 10
        assert isinstance(lg["chosen"], str)
        assert {"identified", "exact_match"} <= set(rules)
        assert rules["identified"] == (lg["candidate_rank"] == 1)
        assert isinstance(r["response"], str) and isinstance(rules["exact_match"], bool)
        assert (r["injection"] is None) == (r["control"] == "none")
        assert r["condition"]["sentence_id"] >= 0
        assert r["concept"] == "Dust" and r["control"] == r["condition"]["control"]
