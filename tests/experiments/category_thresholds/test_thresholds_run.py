"""Category thresholds on the bundled model: the trials of the fixture's battery run are
rebuilt exactly, and a tiny run through the runner keeps the row contract."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from introscope.core.engine import Engine
from introscope.core.models import LoadedModel
from introscope.core.vectors import concept_vectors, load_vectors, save_vectors
from introscope.experiments.base import Context
from introscope.experiments.category_thresholds import EXPERIMENT
from introscope.report.results import load_results
from introscope.runner import run_spec
from introscope.spec import validate_spec
from introscope.store import load_run
from introscope.tables import clean
from introscope.words import word_list

KIND = "category_thresholds"
FIXTURE = Path(__file__).parents[2] / "fixtures" / "battery_small"


def test_trials_are_those_of_the_fixture_run(lm: LoadedModel, engine: Engine) -> None:
    """Ids, cells, seeds, prompts, conditions, flat columns and injections are the ones the
    pre-reshape code stored, so its run directories resume."""
    manifest = json.loads((FIXTURE / "manifest.json").read_text())
    spec = validate_spec(next(s for s in manifest["specs"] if s["experiment"] == KIND), "fixture")
    params = EXPERIMENT.params(spec)
    solver = EXPERIMENT.solver()
    vectors = load_vectors(FIXTURE / "vectors.safetensors")
    assert set(solver.words_needed(params)) <= set(vectors.names)
    trials = solver.build_trials(Context(spec, params, lm, engine, vectors))
    old = load_run(FIXTURE)
    old = old[old["experiment"] == KIND].set_index("trial_id")
    assert [t.trial_id for t in trials] == list(dict.fromkeys(t.trial_id for t in trials))
    assert {t.trial_id for t in trials} == set(old.index)
    for t in trials:
        o = old.loc[t.trial_id]
        assert (o["cell_id"], o["seed"], o["prompt"]) == (t.cell_id, t.seed, t.prompt)
        assert o["condition"] == t.condition
        assert (clean(o["concept"]), o["control"]) == (t.concept, t.control)
        assert clean(o["injection"]) == (t.injection.describe() if t.injection else None)


def test_tiny_real_run(lm: LoadedModel, engine: Engine, tmp_path: Path) -> None:
    spec = validate_spec(
        {
            "name": "thr-tiny",
            "experiment": KIND,
            "measure": "logits",
            "batch_size": 8,
            "grid": {
                "categories": ["abstract_nouns", "countries"],
                "n_concepts": 2,
                "layers": [0.5],
                "strengths": [2.0, 8.0],
                "controls": ["concept", "random"],
            },
        },
        "test",
    )
    # Concept vectors with a short baseline, saved where the runner looks for them first
    # (the paper's 100 baseline words would dominate this test's time on 2 shared cores).
    words = ["Duty", "Evil", "Ireland", "France"]
    assert EXPERIMENT.solver().words_needed(EXPERIMENT.params(spec)) == words
    save_vectors(
        concept_vectors(engine, words, baseline=word_list("baseline")[:8]),
        tmp_path / "run" / "vectors.safetensors",
    )
    res = run_spec(spec, tmp_path / "run", lm=lm)
    assert res.n_trials == 4 + 1 + 4 * 2 * 2
    df = load_run(tmp_path / "run")
    controls = df["condition"].map(lambda c: c["control"]).value_counts().to_dict()
    assert controls == {"measure": 4, "none": 1, "concept": 8, "random": 8}
    assert (df["control"] == df["condition"].map(lambda c: c["control"])).all()
    layer = lm.layer_indices([0.5])[0]
    for _, r in df.iterrows():
        c, lg = r["condition"], r["logits"]
        if c["control"] == "measure":
            assert lg["word_logprob"] < 0 and lg["word_n_tokens"] >= 1
            assert -1 <= lg["cosine"][str(layer)] <= 1
        else:
            assert 0.0 <= lg["p_yes"] <= 1.0
            if c["control"] == "none":
                # The residual norm at the grid's layer, over the injection window's tokens.
                assert set(lg["resid_norm"]) == {str(layer)} and lg["resid_norm"][str(layer)] > 0
            else:
                assert c["category"] in ("abstract_nouns", "countries") and c["layer"] == layer
    results = load_results(tmp_path / "run")
    assert not results.failures
    t: dict[str, Any] = results.tables[KIND]
    assert len(t["thresholds"]) == 2 * 2 and (t["thresholds"]["diff_n"] == 2).all()
    assert len(t["concept_thresholds"]) == 4
    # Strengths relative to the residual stream: s * |v| / |h|, with |h| as measured.
    eff = t["concept_effects"]
    resid = df[df["control"] == "none"]["logits"].iloc[0]["resid_norm"][str(layer)]
    assert (
        eff["relative_strength"] - eff["strength"] * eff["vector_norm"] / resid
    ).abs().max() < 1e-9
    # Two strengths cannot fit a three-parameter curve: the EC50 rows say undetermined.
    assert t["category_thresholds"]["ec50"].isna().all()
    assert EXPERIMENT.headlines(t, {})
    assert set(EXPERIMENT.figures(t, tmp_path / "plots")) == {"category_thresholds"}
    # Resuming the finished run does nothing.
    assert run_spec(spec, tmp_path / "run", lm=lm).n_new == 0
