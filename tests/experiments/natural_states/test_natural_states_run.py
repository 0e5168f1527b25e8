"""Natural states on the bundled model: the trials of the fixture's battery run are rebuilt
exactly, and a tiny run of the preset through the runner keeps the row contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from introscope.core.engine import Engine
from introscope.core.models import LoadedModel
from introscope.core.vectors import concept_vectors, load_vectors, save_vectors
from introscope.experiments.base import Context
from introscope.experiments.natural_states import EXPERIMENT
from introscope.experiments.natural_states.trials import candidate_pool, passage_end_states
from introscope.report.results import load_results
from introscope.runner import run_spec
from introscope.spec import load_spec, override, validate_spec
from introscope.store import load_run
from introscope.tables import clean
from introscope.words import word_list

KIND = "natural_states"
FIXTURE = Path(__file__).parents[2] / "fixtures" / "battery_small"
WORDS = ["Ocean", "Dust"]


def test_trials_are_those_of_the_fixture_run(lm: LoadedModel, engine: Engine) -> None:
    """Ids, cells, seeds, prompts, conditions, flat columns and candidates are the ones the
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
    assert {t.trial_id for t in trials} == set(old.index) and len(trials) == len(old)
    for t in trials:
        o = old.loc[t.trial_id]
        assert (o["cell_id"], o["seed"], o["prompt"]) == (t.cell_id, t.seed, t.prompt)
        assert o["condition"] == t.condition
        assert (o["concept"], o["control"]) == (t.concept, t.control)
        assert clean(o["injection"]) is None and t.injection is None
        # The candidates are drawn with the trial's seed: the stored top choice is one of them.
        assert o["logits"]["chosen"] in t.data["candidates"]
        assert len(t.data["candidates"]) == o["logits"]["n_candidates"]


@pytest.mark.slow
def test_natural_states_real_run(lm: LoadedModel, engine: Engine, tmp_path: Path) -> None:
    spec = override(load_spec(KIND), concepts=",".join(WORDS), layers="0.33", trials=1)
    pool = candidate_pool(WORDS)
    assert pool == [*WORDS, *[w for w in word_list("main") if w not in WORDS][:8]]
    # A short baseline keeps vector building cheap on 2 shared cores.
    save_vectors(
        concept_vectors(engine, pool, baseline=word_list("baseline")[:8]),
        tmp_path / "vectors.safetensors",
    )
    result = run_spec(spec, tmp_path, lm=lm)
    assert result.n_new == result.n_trials == 2 * 3  # 2 concepts x 3 templates, no injection
    df = load_run(tmp_path)
    assert set(df["experiment"]) == {KIND} and df["injection"].isna().all()
    assert (df["control"] == "none").all()
    assert list(df["concept"]) == [c["concept"] for c in df["condition"]]
    for c, lg in zip(df["condition"], df["logits"], strict=True):
        assert c["template"] in ("repeated", "single", "incidental")
        assert lg["concept_logprob"] < 0 and 1 <= lg["rank"] <= 10
        assert lg["chosen"] in pool and lg["n_candidates"] == 10
        assert set(lg["cos_by_layer"]) == {"10"} == set(lg["distractor_cos_by_layer"])
        assert -1 <= lg["cos_by_layer"]["10"] <= 1
        assert lg["read_at"] == "passage_end"
    results = load_results(tmp_path)
    assert not results.failures
    t = results.tables[KIND]
    assert set(t["natural_states"]["row_type"]) == {"template", "regression"}
    assert list(t["projection_check"]["layer"]) == [10]
    assert set(t["natural_states"]["read_at"]) == {"passage_end"}
    assert list(t["projection_check"]["read_at"]) == ["passage_end"]


def test_the_state_is_read_at_the_passage_end_not_at_the_answer_position(
    lm: LoadedModel, engine: Engine
) -> None:
    """The captured activation is the block output at the passage's last token (found here
    from the tokenizer's character offsets, independently of the engine's marker
    resolution), which lies before the request and the question; it is not the last prompt
    token, whose logits give the report."""
    spec = override(load_spec(KIND), concepts=",".join(WORDS), layers="0.33,0.67", trials=1)
    params = EXPERIMENT.params(spec)
    vectors = load_vectors(FIXTURE / "vectors.safetensors")
    trials = EXPERIMENT.solver().build_trials(Context(spec, params, lm, engine, vectors))
    layers = [10, 20]
    got = passage_end_states(Context(spec, params, lm, engine, vectors), trials, layers)
    assert got.shape == (len(trials), 2, lm.hidden_size)
    for b, t in enumerate(trials):
        enc = lm.tokenizer(t.prompt, return_offsets_mapping=True, add_special_tokens=False)
        end = t.prompt.index(t.data["passage"]) + len(t.data["passage"])
        last = max(i for i, (s, e) in enumerate(enc["offset_mapping"]) if s < end and e > s)
        n_tokens = len(enc["input_ids"])
        assert last < n_tokens - 10  # the request, the reply and the question follow
        with torch.inference_mode():
            hs = lm.model(torch.tensor([enc["input_ids"]]), output_hidden_states=True).hidden_states
        for j, layer in enumerate(layers):
            want = hs[layer + 1][0, last].float()
            assert torch.allclose(got[b, j], want, atol=1e-4, rtol=1e-4), (t.trial_id, layer)
            assert not torch.allclose(got[b, j], hs[layer + 1][0, -1].float(), atol=1e-2)
