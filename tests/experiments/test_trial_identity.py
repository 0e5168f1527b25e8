"""The reshaped slices build exactly the trials the old code built: the same ids, cells,
seeds, prompts, conditions, injections and flat store columns, for every battery part.

The fixture run (``tests/fixtures/battery_small``) was written by commit 4a59cbe with
``introscope battery --scale 0.3``; its vectors file makes the injections comparable.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from introscope.battery import battery_specs
from introscope.core.engine import Engine
from introscope.core.models import LoadedModel
from introscope.core.vectors import load_vectors
from introscope.experiments import get_experiment
from introscope.experiments.base import Context, TrialResult
from introscope.runner import trial_record
from introscope.spec import spec_params
from introscope.store import load_run, read_manifest

FIXTURE = Path(__file__).parent.parent / "fixtures" / "battery_small"
COMPARED = (
    "trial_id",
    "cell_id",
    "experiment",
    "condition",
    "prompt_hash",
    "injection",
    "measure",
    "seed",
    "concept",
    "layer",
    "strength",
    "control",
    "variant",
)

NOW = datetime.now(UTC)


def fixture_parts(**kwargs: Any) -> list[Any]:
    """The battery parts the fixture run holds (parts added since, such as the
    metacognition suite's, are not in it)."""
    names = {s["name"] for s in read_manifest(FIXTURE)["specs"]}
    return [s for s in battery_specs(**kwargs) if s.name in names]


pytestmark = pytest.mark.slow


def test_battery_specs_are_the_fixture_specs() -> None:
    stored = read_manifest(FIXTURE)["specs"]
    new = [s.model_dump(mode="json") for s in fixture_parts(scale=0.3)]
    assert sorted(new, key=itemgetter("name")) == sorted(stored, key=itemgetter("name"))


def test_every_trial_is_rebuilt_identically(lm: LoadedModel) -> None:
    old = load_run(FIXTURE, decode_json=False).set_index("trial_id", drop=False)
    vectors = load_vectors(FIXTURE / "vectors.safetensors", lm)
    engine = Engine(lm)
    seen = 0
    for spec in fixture_parts(scale=0.3):
        ctx: Context[Any] = Context(spec, spec_params(spec), lm, engine, vectors)
        trials = get_experiment(spec.experiment).solver().build_trials(ctx)
        stored = old[old["run_id"].notna()]
        for t in trials:
            row = trial_record(spec, "x", t, TrialResult(), 0, NOW, 0.0, 0).to_row()
            assert t.trial_id in stored.index, (spec.name, t.condition)
            want = stored.loc[t.trial_id]
            for col in COMPARED:
                got = row[col]
                exp = want[col]
                if col in ("condition", "injection"):
                    got = json.loads(got) if got is not None else None
                    exp = json.loads(exp) if isinstance(exp, str) else None
                if not isinstance(exp, (dict, list)) and pd.isna(exp):
                    exp = None
                assert got == exp, (spec.name, t.trial_id, col, got, exp)
            seen += 1
    assert seen == len(old), f"rebuilt {seen} of the fixture's {len(old)} trials"
