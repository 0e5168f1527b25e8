"""A tiny real run of the eval_framing preset on the bundled model through the runner: one
item per kind under four framings, every trial read, the tables, scorecard and report
built."""

from __future__ import annotations

from pathlib import Path

import pytest

from introscope.core.models import LoadedModel
from introscope.experiments.eval_framing.framings import FORMATS, PARAPHRASES
from introscope.report.results import load_results, scorecard_lines
from introscope.runner import run_specs
from introscope.spec import load_spec, validate_spec
from introscope.store import load_run

pytestmark = pytest.mark.slow

FRAMINGS = ["neutral", "self_diagnostic", "judgment", "permission"]


def test_tiny_run_on_the_bundled_model(lm: LoadedModel, tmp_path: Path) -> None:
    data = load_spec("eval_framing").model_dump(mode="json")
    data.update(trials_per_cell=1, batch_size=24)
    data["grid"]["variants"] = FRAMINGS
    spec = validate_spec(data, "tiny")
    run_specs([spec], tmp_path / "run", lm=lm)
    df = load_run(tmp_path / "run")
    assert len(df) == 3 * len(FRAMINGS) * PARAPHRASES * len(FORMATS)
    for r in df["logits"]:
        probs = [v for k, v in r.items() if k.startswith("p_")]
        assert len(probs) == 3 and abs(sum(probs) - 1) < 1e-6
        assert r["choice"] in ("solve", "special_case", "game", "flag") and 0 < r["mass"] <= 1
    results = load_results(tmp_path / "run")
    results.raise_failures()
    rates = results.tables["eval_framing"]["eval_framing"]
    assert set(rates["framing"]) == set(FRAMINGS)
    lines = [ln for ln in scorecard_lines(results) if ln.step and ln.step > 300]
    assert {ln.step for ln in lines} == {301, 302, 303}
    # one item per kind: 2 hackable items, too few for an interval clustered by item
    [self_line] = [ln for ln in lines if ln.step == 303]
    assert self_line.available and "too few" in self_line.sentence
