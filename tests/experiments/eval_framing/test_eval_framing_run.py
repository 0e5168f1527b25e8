"""A tiny real run of the eval_framing preset on the bundled model through the runner: one
item per kind under four framings, every trial read (letter probabilities and the
evaluation-awareness projection from one forward, the lens readout equal to the engine's
next-token log-probabilities), the tables and scorecard built."""

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
    data.update(batch_size=24)
    data["grid"] = {**data.get("grid", {}), "n_concepts": 1}
    data["grid"]["variants"] = FRAMINGS
    data["grid"]["layers"] = [0.67]
    layer = lm.layer_indices([0.67])[0]
    spec = validate_spec(data, "tiny")
    run_specs([spec], tmp_path / "run", lm=lm)
    df = load_run(tmp_path / "run")
    assert len(df) == 3 * len(FRAMINGS) * PARAPHRASES * len(FORMATS)
    for r in df["logits"]:
        probs = [v for k, v in r.items() if k.startswith("p_")]
        assert len(probs) == 3 and abs(sum(probs) - 1) < 1e-6
        assert r["choice"] in ("solve", "special_case", "game", "flag") and 0 < r["mass"] <= 1
        assert set(r["awareness"]) == {str(layer)}
    # the letters read through the final norm and unembedding are the engine's next token
    from introscope.core.engine import Engine

    row = df.iloc[0]
    lp = Engine(lm).next_token_logprobs([row["prompt"]])[0]
    ids = [lm.encode(x)[0] for x in "ABC"]
    want = (lp[ids] - lp[ids].logsumexp(0)).exp()
    roles = row["condition"]["roles"].split("-")
    got = [row["logits"][f"p_{r}"] for r in roles]
    assert got == pytest.approx(want.tolist(), abs=2e-3)
    results = load_results(tmp_path / "run")
    results.raise_failures()
    rates = results.tables["eval_framing"]["eval_framing"]
    assert set(rates["framing"]) == set(FRAMINGS)
    aw = results.tables["eval_framing"]["eval_framing_awareness"]
    assert set(aw["layer"]) == {layer} and set(aw["framing"]) == set(FRAMINGS)
    link = results.tables["eval_framing"]["eval_framing_awareness_link"].iloc[0]
    assert -1 <= link["format_cosine"] <= 1
    lines = [ln for ln in scorecard_lines(results) if ln.step and ln.step > 300]
    assert {ln.step for ln in lines} == {301, 302, 303, 304}
    # one item per kind: 2 hackable items, too few for an interval clustered by item
    [self_line] = [ln for ln in lines if ln.step == 303]
    assert self_line.available and "too few" in self_line.sentence
