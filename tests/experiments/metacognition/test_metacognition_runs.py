"""Tiny real runs of every metacognition preset on the bundled model, through the runner,
the analysis, the scorecard and the report; a second run resumes with nothing to do and
builds the very same trials from the arrays kept in the run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from introscope.core.engine import Engine
from introscope.core.models import LoadedModel
from introscope.experiments import get_experiment
from introscope.experiments.base import Context
from introscope.report.document import write_report
from introscope.report.results import load_results, scorecard_lines
from introscope.runner import run_spec
from introscope.spec import load_spec, spec_params, validate_spec

pytestmark = pytest.mark.slow

FAMILIES = ["geography", "landmark_heights", "addition"]
TINY: dict[str, dict[str, Any]] = {
    "calibration": {"grid": {"n_concepts": 2}, "params": {"families": FAMILIES}},
    "hidden_state_linkage": {
        "grid": {"n_concepts": 2, "layers": [0.5]},
        "params": {"families": FAMILIES, "dropout_passes": 2},
    },
    "cross_prediction": {
        "grid": {"n_concepts": 3},
        "params": {"families": FAMILIES, "shots": [0, 2], "other_model": "bundled"},
    },
    "neurofeedback": {
        "grid": {"n_concepts": 2, "layers": [0.5]},
        "params": {
            "axes": ["lr", "random", "length"],
            "shots": [0, 2],
            "control_shots": 2,
            "control_sentences": 1,
        },
        "sampling": {"max_new_tokens": 8},
    },
    "lead_sensitivity": {"grid": {"n_concepts": 2}, "params": {"families": FAMILIES[:2]}},
}
STEPS = {
    "calibration": [101],
    "hidden_state_linkage": [102, 104],
    "cross_prediction": [103],
    "neurofeedback": [105],
    "lead_sensitivity": [106],
}


def tiny_spec(name: str) -> Any:
    data = load_spec(name).model_dump(mode="json")
    for key, value in TINY[name].items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    data["batch_size"] = 8
    return validate_spec(data, f"tiny {name}")


@pytest.mark.parametrize("name", list(TINY))
def test_tiny_preset_runs_end_to_end(lm: LoadedModel, tmp_path: Path, name: str) -> None:
    spec = tiny_spec(name)
    result = run_spec(spec, tmp_path, lm=lm)
    assert result.n_new == result.n_trials > 0
    res = load_results(tmp_path)
    assert not res.failures, res.failures
    tables = res.tables[name]
    assert any(len(t) for t in tables.values())
    lines = [ln for ln in scorecard_lines(res) if ln.step in STEPS[name]]
    assert {ln.step for ln in lines} == set(STEPS[name])
    assert all(ln.available for ln in lines), [ln.sentence for ln in lines if not ln.available]
    html = write_report(tmp_path, results=res).read_text(encoding="utf-8")
    assert f'id="{name.replace("_", "-")}"' in html  # the slice's section was rendered
    again = run_spec(spec, tmp_path, lm=lm)
    assert again.n_new == 0 and again.already_complete
    if name in ("cross_prediction", "neurofeedback"):
        # Behaviour / sentence features were kept, so a rebuild shows the same prompts.
        assert any((tmp_path / "arrays").iterdir())
        ctx = Context(spec, spec_params(spec), lm, Engine(lm), None, tmp_path)  # type: ignore[arg-type]
        rebuilt = get_experiment(name).solver().build_trials(ctx)
        stored = res.run.select(name).set_index("trial_id")
        assert sorted(t.trial_id for t in rebuilt) == sorted(stored.index)
        assert all(stored.loc[t.trial_id, "prompt"] == t.prompt for t in rebuilt)
