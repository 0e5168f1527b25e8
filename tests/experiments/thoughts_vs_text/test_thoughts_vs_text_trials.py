"""The thoughts-vs-text solver on the bundled model: the same trial ids, seeds, prompts and
injections as the pre-slice code wrote, candidates shared by a concept's injected and
no-injection trials on a sentence (protocol 2), and a tiny run through the runner (ported
from ``tests/test_runner.py``: test_thoughts_vs_text_rows)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from introscope.core.engine import Engine
from introscope.core.models import LoadedModel
from introscope.core.vectors import load_vectors
from introscope.experiments.base import Context
from introscope.experiments.thoughts_vs_text import EXPERIMENT
from introscope.runner import run_spec
from introscope.spec import spec_params, validate_spec
from introscope.store import load_run, read_manifest

FIXTURE = Path(__file__).parents[2] / "fixtures" / "battery_small"


def test_trials_are_those_of_the_old_run(lm: LoadedModel, engine: Engine) -> None:
    dump = next(s for s in read_manifest(FIXTURE)["specs"] if s["name"] == "thoughts_vs_text")
    spec = validate_spec(dump, "fixture")
    vectors = load_vectors(FIXTURE / "vectors.safetensors", lm)
    ctx = Context(spec, spec_params(spec), lm, engine, vectors)
    trials = EXPERIMENT.solver().build_trials(ctx)
    old = load_run(FIXTURE, where="experiment = 'thoughts_vs_text'").set_index("trial_id")
    assert len(old) == len(trials) == 12  # 3 concepts x 2 layers x 1 strength x 2 controls
    assert sorted(t.trial_id for t in trials) == sorted(old.index)
    for t in trials:
        o = old.loc[t.trial_id]
        assert (t.seed, t.cell_id, t.prompt) == (o["seed"], o["cell_id"], o["prompt"])
        assert t.condition == o["condition"]
        assert (t.concept, t.control) == (o["concept"], o["control"])
        if t.injection is None:
            assert o["injection"] is None and t.control == "none"
        else:
            new, was = t.injection.describe(), o["injection"]
            assert math.isclose(new.pop("vector_norm"), was.pop("vector_norm"), rel_tol=1e-6)
            assert new == was


def test_candidates_are_shared_by_the_injected_and_control_trials(
    lm: LoadedModel, engine: Engine
) -> None:
    dump = next(s for s in read_manifest(FIXTURE)["specs"] if s["name"] == "thoughts_vs_text")
    spec = validate_spec({**dump, "trials_per_cell": 2}, "fixture")
    vectors = load_vectors(FIXTURE / "vectors.safetensors", lm)
    params = spec_params(spec)
    assert type(params).protocol == 2
    trials = EXPERIMENT.solver().build_trials(Context(spec, params, lm, engine, vectors))
    by_key: dict[tuple[str, int], set[tuple[str, ...]]] = {}
    for t in trials:
        cands = t.data["candidates"]
        assert len(cands) == 10 and t.concept in cands and cands == sorted(cands)
        by_key.setdefault((t.concept, t.condition["sentence_id"]), set()).add(tuple(cands))
    # One candidate set per (concept, sentence), whatever the control, layer or trial seed;
    # two repeats put each concept on two sentences.
    assert all(len(v) == 1 for v in by_key.values())
    assert len(by_key) == 2 * len(params.concepts)
    controls = {t.control for t in trials}
    assert controls == {"concept", "none"}
    # The draw depends on the sentence: a concept's two sentences need not share the nine.
    sets = [next(iter(v)) for k, v in sorted(by_key.items())]
    assert len(set(sets)) > len(params.concepts)


@pytest.mark.slow
def test_thoughts_vs_text_rows(lm: LoadedModel, tmp_path: Path) -> None:
    spec = validate_spec(
        {
            "name": "tvt",
            "experiment": "thoughts_vs_text",
            "batch_size": 8,
            "grid": {
                "concepts": ["Dust"],
                "layers": [0.5],
                "strengths": [4.0],
                "controls": ["concept", "none"],
            },
            "sampling": {"max_new_tokens": 6, "temperature": 0.0},
        },
        "tvt",
    )
    result = run_spec(spec, tmp_path, lm=lm)
    assert result.n_new == result.n_trials == 2
    df: pd.DataFrame = load_run(tmp_path)
    assert len(df) == 2
    # The injected trial and its control ranked the same candidates.
    assert df["logits"].iloc[0]["candidates"] == df["logits"].iloc[1]["candidates"]
    for _, r in df.iterrows():
        lg, rules = r["logits"], r["grades"]["rules"]
        assert {"candidate_rank", "n_candidates", "chosen"} <= set(lg)
        # Length-normalised scores alongside the summed ones.
        assert (
            1 <= lg["candidate_rank_per_token"] <= 10 and lg["chosen_per_token"] in lg["candidates"]
        )
        n_tok = len(lm.tokenizer("Dust", add_special_tokens=False)["input_ids"])
        assert math.isclose(lg["target_logprob_per_token"], lg["target_logprob"] / n_tok)
        assert lg["n_candidates"] == 10 and 1 <= lg["candidate_rank"] <= 10
        assert isinstance(lg["chosen"], str)
        assert {"identified", "exact_match"} <= set(rules)
        assert rules["identified"] == (lg["candidate_rank"] == 1)
        assert isinstance(r["response"], str) and isinstance(rules["exact_match"], bool)
        assert (r["injection"] is None) == (r["control"] == "none")
        assert r["condition"]["sentence_id"] >= 0
        assert r["concept"] == "Dust" and r["control"] == r["condition"]["control"]
