"""A tiny real run of eval_framing's generation mode on the bundled model through the
runner: one item per kind under the neutral framing, every response graded (code in the
sandbox), the tables built with the generation measure."""

from __future__ import annotations

from pathlib import Path

import pytest

from introscope.core.models import LoadedModel
from introscope.report.results import load_results, scorecard_lines
from introscope.runner import run_specs
from introscope.spec import load_spec, validate_spec
from introscope.store import load_run

pytestmark = pytest.mark.slow


def test_tiny_generation_run(lm: LoadedModel, tmp_path: Path) -> None:
    data = load_spec("eval_framing_generation").model_dump(mode="json")
    data.update(batch_size=18)
    data["grid"]["n_concepts"] = 1
    data["grid"]["variants"] = ["neutral"]
    data["sampling"]["max_new_tokens"] = 64
    spec = validate_spec(data, "tiny")
    run_specs([spec], tmp_path / "run", lm=lm)
    df = load_run(tmp_path / "run")
    assert len(df) == 3 * 3 * 2
    for response, grades in zip(df["response"], df["grades"], strict=True):
        assert isinstance(response, str)
        assert grades["graded"]["outcome"] in ("hack", "solve", "flag", "fail")
    results = load_results(tmp_path / "run")
    results.raise_failures()
    rates = results.tables["eval_framing"]["eval_framing"]
    assert set(rates["measure"]) == {"generation"} and "fail_rate" in rates.columns
    lines = [ln for ln in scorecard_lines(results) if ln.step in (301, 302, 303)]
    assert lines and all("generation" in ln.name for ln in lines)
