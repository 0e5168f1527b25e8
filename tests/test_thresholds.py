"""Category thresholds: constructed cases with known answers, plus a tiny real run."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from introscope.analysis_thresholds import (
    category_thresholds,
    concept_threshold_table,
    threshold_regression,
    threshold_table,
    thresholds_summary,
)
from introscope.core.engine import Engine
from introscope.core.models import LoadedModel
from introscope.core.vectors import concept_vectors, save_vectors
from introscope.plots_thresholds import plot_category_thresholds
from introscope.runner import run_spec
from introscope.spec import load_spec, validate_spec
from introscope.store import load_run
from introscope.words import word_list

KIND = "category_thresholds"
STRENGTHS = [1.0, 2.0, 4.0, 8.0]


def _row(cond: dict[str, Any], logits: dict[str, Any]) -> dict[str, Any]:
    return {"experiment": KIND, "condition": cond, "logits": logits}


def _frame(
    effects: dict[tuple[str, str], list[float]],
    measures: dict[str, tuple[float, float]] | None = None,
    layer: int = 10,
) -> pd.DataFrame:
    """Rows for (concept, category) -> concept-minus-random difference at each strength;
    the random vector's P(yes) is 0.2 throughout."""
    rows = [_row({"concept": None, "category": None, "control": "none"}, {"p_yes": 0.2})]
    for (concept, cat), diffs in effects.items():
        lp, cos = (measures or {}).get(concept, (-5.0, 0.1))
        rows.append(
            _row(
                {"concept": concept, "category": cat, "layer": None, "control": "measure"},
                {"word_logprob": lp, "word_n_tokens": 1, "cosine": {str(layer): cos}},
            )
        )
        for s, d in zip(STRENGTHS, diffs, strict=True):
            base = {"concept": concept, "category": cat, "layer": layer, "strength": s}
            rows.append(_row({**base, "control": "random"}, {"p_yes": 0.2}))
            rows.append(_row({**base, "control": "concept"}, {"p_yes": 0.2 + d}))
    return pd.DataFrame(rows)


def _planted_thresholds() -> pd.DataFrame:
    effects: dict[tuple[str, str], list[float]] = {}
    for i in range(8):
        jitter = 0.01 if i % 2 else -0.01  # mean exactly 0 below strength 4: CI covers 0
        effects[(f"a{i}", "abstract_nouns")] = [jitter, -jitter, 0.3 + jitter, 0.5 + jitter]
        effects[(f"c{i}", "countries")] = [jitter, -jitter, jitter, -jitter]
    return _frame(effects)


def test_threshold_appears_at_strength_four_and_never() -> None:
    table = threshold_table(_planted_thresholds())
    assert set(table["category"]) == {"abstract_nouns", "countries"}
    abstract = table[table["category"] == "abstract_nouns"]
    assert abstract["threshold"].tolist() == [4.0] * 4
    assert abstract["passes"].tolist() == [False, False, True, True]
    at4 = abstract[abstract["strength"] == 4.0].iloc[0]
    assert at4["diff"] == pytest.approx(0.3)
    assert 0 < at4["diff_ci_low"] < 0.3 < at4["diff_ci_high"]
    assert at4["diff_n"] == 8
    countries = table[table["category"] == "countries"]
    assert countries["threshold"].isna().all() and not countries["passes"].any()
    per_cat = category_thresholds(table)
    assert per_cat.set_index("category")["threshold"].to_dict()["abstract_nouns"] == 4.0
    assert math.isnan(per_cat.set_index("category")["threshold"]["countries"])


def test_concept_thresholds_and_summary_wording() -> None:
    df = _planted_thresholds()
    per = concept_threshold_table(df).set_index("concept")
    assert per.loc["a0", "threshold"] == 4.0 and per.loc["a0", "diff@4"] == pytest.approx(0.29)
    assert math.isnan(per.loc["c0", "threshold"])
    lines = thresholds_summary(df)
    by_name = {r["name"]: r for r in lines}
    a = by_name["threshold/abstract_nouns/L10"]
    assert a["threshold"] == 4.0 and a["n"] == 8 and a["estimate"] == pytest.approx(0.3)
    assert "abstract nouns need strength ≥ 4" in a["sentence"]
    assert "norm-matched random vector" in a["sentence"]
    c = by_name["threshold/countries/L10"]
    assert c["threshold"] is None and "does not exceed" in c["sentence"]
    for r in lines:
        assert {"name", "estimate", "ci_low", "ci_high", "n", "sentence"} <= set(r)
        assert "aware" not in r["sentence"]


def test_regression_recovers_planted_relation() -> None:
    rng = np.random.default_rng(0)
    effects: dict[tuple[str, str], list[float]] = {}
    measures: dict[str, tuple[float, float]] = {}
    cats = ["abstract_nouns", "verbs", "countries"]
    for i in range(90):
        lp, cos = float(rng.uniform(-12, -1)), float(rng.uniform(-0.3, 0.3))
        name = f"w{i}"
        measures[name] = (lp, cos)
        effect = 0.05 - 0.02 * lp + 0.4 * cos + float(rng.normal(0, 0.02))
        effects[(name, cats[i % 3])] = [effect] * len(STRENGTHS)
    reg = threshold_regression(_frame(effects, measures))
    conn = reg[(reg["outcome"] == "mean_effect") & (reg["model"] == "connection")]
    coef = conn.set_index("term")
    for term, truth in (("word_logprob", -0.02), ("cosine", 0.4), ("intercept", 0.05)):
        assert coef.loc[term, "ci_low"] <= truth <= coef.loc[term, "ci_high"], term
    assert coef.loc["word_logprob", "ci_high"] < 0 < coef.loc["cosine", "ci_low"]
    assert (conn["n"] == 90).all() and conn["r2"].iloc[0] > 0.9
    # Category has no effect of its own once the connection measures are in the model.
    both = reg[(reg["outcome"] == "mean_effect") & (reg["model"] == "connection+category")]
    for _, r in both[both["term"].str.startswith("category[")].iterrows():
        assert r["ci_low"] <= 0.0 <= r["ci_high"]
    assert set(reg["outcome"]) >= {"effect", "mean_effect"}


def test_empty_and_plot(tmp_path: Path) -> None:
    assert len(threshold_table(pd.DataFrame())) == 0
    assert thresholds_summary(pd.DataFrame()) == []
    assert plot_category_thresholds(threshold_table(pd.DataFrame()), tmp_path / "x.png") is None
    png = plot_category_thresholds(threshold_table(_planted_thresholds()), tmp_path / "t.png")
    assert png is not None and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_preset_is_the_full_sweep() -> None:
    spec = load_spec("category_thresholds")
    assert spec.experiment == KIND and spec.measure == "logits"
    assert len(spec.grid.categories) == 5 and spec.grid.n_concepts == 50
    assert spec.grid.strengths == STRENGTHS and spec.grid.layers == [0.33, 0.5, 0.67]


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
    save_vectors(
        concept_vectors(engine, words, baseline=word_list("baseline")[:8]),
        tmp_path / "run" / "vectors.safetensors",
    )
    res = run_spec(spec, tmp_path / "run", lm=lm)
    assert res.n_trials == 4 + 1 + 4 * 2 * 2
    df = load_run(tmp_path / "run")
    controls = df["condition"].map(lambda c: c["control"]).value_counts().to_dict()
    assert controls == {"measure": 4, "none": 1, "concept": 8, "random": 8}
    layer = lm.layer_indices([0.5])[0]
    for _, r in df.iterrows():
        c, lg = r["condition"], r["logits"]
        if c["control"] == "measure":
            assert lg["word_logprob"] < 0 and lg["word_n_tokens"] >= 1
            assert -1 <= lg["cosine"][str(layer)] <= 1
        else:
            assert 0.0 <= lg["p_yes"] <= 1.0
            if c["control"] != "none":
                assert c["category"] in ("abstract_nouns", "countries") and c["layer"] == layer
    table = threshold_table(df)
    assert len(table) == 2 * 2 and (table["diff_n"] == 2).all()
    assert len(concept_threshold_table(df)) == 4
    assert thresholds_summary(df)
    assert plot_category_thresholds(table, tmp_path / "thr.png") is not None
    # Resuming the finished run does nothing.
    assert run_spec(spec, tmp_path / "run", lm=lm).n_new == 0
