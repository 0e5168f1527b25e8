"""The slices build exactly the trials the old code built from the same specs: the same
ids, cells, seeds, prompts, conditions, injections and flat store columns, for every part of
the fixture battery (its specs are read from the run's manifest).

The fixture run (``tests/fixtures/battery_small``) was written by commit 4a59cbe with
``introscope battery --scale 0.3``; its vectors file makes the injections comparable.
Trials an experiment changed on purpose under a new protocol version are listed in
``RESTRICTED`` with the reason (thoughts_vs_text's protocol 2 changes only its candidates,
which are trial data, not a stored column, so its trials are compared in full).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from introscope.core.engine import Engine
from introscope.core.models import LoadedModel
from introscope.core.vectors import load_vectors
from introscope.experiments import get_experiment
from introscope.experiments.base import Context, TrialResult
from introscope.runner import trial_record
from introscope.spec import Spec, spec_params, validate_spec
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

#: (experiment, column) -> (which trials differ on purpose, why). Such an experiment raised
#: its protocol version, so the runner refuses to add to an old run of it; the column is
#: still compared on every other trial, and every other column on all of them.
RESTRICTED: dict[tuple[str, str], tuple[Callable[[dict[str, Any]], bool], str]] = {
    ("prefill", "injection"): (
        lambda condition: condition.get("injected") == "other",
        "issue 10 defect 10: the 'other' vector is rescaled to the prefilled word's vector "
        "norm (prefill protocol 2); tests/experiments/prefill/test_prefill_trials.py checks "
        "the new norm and the unchanged direction",
    ),
}

#: Experiments whose trials changed on purpose -> why. Their old run directories refuse to
#: resume (the manifest's protocol differs: tests/test_resume_old_run.py).
CHANGED: dict[str, str] = {
    "yes_bias": "issue 10 defect 1: yes_bias protocol 2 asks its questions in the detection "
    "frame, from a bank with 'yes'- and 'no'-answer questions, concepts x questions crossed",
}

pytestmark = pytest.mark.slow


def fixture_specs() -> list[Spec]:
    """The specs the fixture run was made with, as its manifest records them."""
    return [validate_spec(d, d["name"]) for d in read_manifest(FIXTURE)["specs"]]


def test_fixture_specs_still_validate_to_the_same_dump() -> None:
    stored = read_manifest(FIXTURE)["specs"]
    new = [s.model_dump(mode="json") for s in fixture_specs()]
    assert sorted(new, key=itemgetter("name")) == sorted(stored, key=itemgetter("name"))


def test_every_trial_is_rebuilt_identically(lm: LoadedModel) -> None:
    old = load_run(FIXTURE, decode_json=False).set_index("trial_id", drop=False)
    vectors = load_vectors(FIXTURE / "vectors.safetensors", lm)
    engine = Engine(lm)
    seen = 0
    old = old[~old["experiment"].isin(list(CHANGED))]
    for spec in fixture_specs():
        if spec.experiment in CHANGED:
            continue
        ctx: Context[Any] = Context(spec, spec_params(spec), lm, engine, vectors)
        trials = get_experiment(spec.experiment).solver().build_trials(ctx)
        stored = old[old["run_id"].notna()]
        for t in trials:
            row = trial_record(spec, "x", t, TrialResult(), 0, NOW, 0.0, 0).to_row()
            assert t.trial_id in stored.index, (spec.name, t.condition)
            want = stored.loc[t.trial_id]
            for col in COMPARED:
                restricted = RESTRICTED.get((spec.experiment, col))
                if restricted is not None and restricted[0](t.condition):
                    continue
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
