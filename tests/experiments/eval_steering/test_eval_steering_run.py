"""A tiny real run of the steering preset on the bundled model through the runner (relative
strengths): every read trial's letter probabilities sum to 1, the injections are unit
directions scaled by the layer's residual norm, the held-out trials carry projections, and
the tables, scorecard lines (305, 306), figure and section are built."""

from __future__ import annotations

from pathlib import Path

import pytest

from introscope.core.models import LoadedModel
from introscope.report.results import load_results, scorecard_lines
from introscope.runner import run_specs
from introscope.spec import load_spec, validate_spec
from introscope.store import load_run

pytestmark = pytest.mark.slow


def test_tiny_run_on_the_bundled_model(lm: LoadedModel, tmp_path: Path) -> None:
    data = load_spec("eval_framing_steering").model_dump(mode="json")
    data.update(batch_size=24)
    data["grid"].update(
        n_concepts=1, layers=[0.5], strengths=[-0.5, 0.5], strength_unit="residual_norm"
    )
    data["params"] = {"n_random": 1, "paraphrases": 1}
    layer = lm.layer_indices([0.5])[0]
    spec = validate_spec(data, "tiny")
    run_specs([spec], tmp_path / "run", lm=lm)
    df = load_run(tmp_path / "run")
    parts = df["condition"].map(lambda c: c["part"])
    # 2 items x 2 formats: awareness 1 + 2 x 2, framing 2 + 2 x 2; 24 contrast prompts
    assert parts.value_counts().to_dict() == {"heldout": 24, "framing": 24, "awareness": 20}
    read = df[parts != "heldout"]
    for r in read["logits"]:
        probs = [v for k, v in r.items() if k.startswith("p_")]
        assert len(probs) == 3 and abs(sum(probs) - 1) < 1e-6
    injected = read[read["injection"].notna()]
    assert len(injected) == 2 * 2 * 2 * 2 + 2 * 2 * 2 * 2
    norms = {}
    for (_, row), inj in zip(injected.iterrows(), injected["injection"], strict=True):
        assert inj["layers"] == [layer] and inj["vector_norm"] == pytest.approx(1.0, abs=1e-5)
        s = row["condition"]["strength"]
        assert (inj["strength"] > 0) == (s > 0)
        norms.setdefault(s, set()).add(round(inj["strength"], 4))
    # relative strengths: one norm per strength, the same for every item and direction
    assert all(len(v) == 1 for v in norms.values())
    assert norms[0.5] == {-x for x in norms[-0.5]}
    results = load_results(tmp_path / "run")
    results.raise_failures()
    t = results.tables["eval_framing_steering"]
    assert set(t["eval_steering_heldout"]["layer"]) == {layer}
    assert len(t["eval_steering_awareness"]) == 2 * 2 and len(t["eval_steering_framing"]) == 4
    lines = [ln for ln in scorecard_lines(results) if ln.step in (305, 306)]
    assert {ln.step for ln in lines} == {305, 306}
    from introscope.experiments.eval_steering import figures, section

    figs = figures.figures(t, tmp_path)
    assert figs["eval_steering"].exists() and section.sections(t, figs)
