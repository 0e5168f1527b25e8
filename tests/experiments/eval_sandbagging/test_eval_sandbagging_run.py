"""A tiny real run of the sandbagging check on the bundled model through the runner: two
items, two framings, sigma 0 and one noise scale x two seeds; the model is unchanged after
the run, noise moves the readouts, and the tables, scorecard and report section are built."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from introscope.core.models import LoadedModel
from introscope.report.results import load_results, scorecard_lines
from introscope.runner import run_specs
from introscope.spec import load_spec, validate_spec
from introscope.store import load_run

pytestmark = pytest.mark.slow


def weights_digest(lm: LoadedModel) -> str:
    h = hashlib.sha256()
    for _, v in sorted(lm.model.state_dict().items()):
        h.update(v.detach().cpu().float().numpy().tobytes())
    return h.hexdigest()


def test_tiny_run_on_the_bundled_model(lm: LoadedModel, tmp_path: Path) -> None:
    data = load_spec("eval_sandbagging").model_dump(mode="json")
    data.update(trials_per_cell=2, batch_size=16)
    data["grid"]["n_concepts"] = 2
    data["grid"].update(variants=["neutral", "judgment"], strengths=[0.0, 0.05])
    spec = validate_spec(data, "tiny")
    before = weights_digest(lm)
    run_specs([spec], tmp_path / "run", lm=lm)
    assert weights_digest(lm) == before
    df = load_run(tmp_path / "run")
    assert len(df) == 2 * 2 * 6 * (1 + 2)
    sig = [c["sigma"] for c in df["condition"]]
    p = [r["p_solve"] for r in df["logits"]]
    clean = [x for x, s in zip(p, sig, strict=True) if s == 0]
    noisy = [x for x, s in zip(p, sig, strict=True) if s > 0]
    assert len(set(noisy) - set(clean)) > 0  # the noise moved the readouts
    results = load_results(tmp_path / "run")
    results.raise_failures()
    acc = results.tables["eval_sandbagging"]["eval_sandbagging"]
    assert set(acc["sigma"]) == {0.0, 0.05} and set(acc["framing"]) == {"neutral", "judgment"}
    lines = [ln for ln in scorecard_lines(results) if ln.step == 307]
    assert len(lines) == 3 and lines[0].available
