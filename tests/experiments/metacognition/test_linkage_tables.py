"""Hidden-state linkage on constructed runs with known answers (no model): a verbal
confidence planted as a function of next-token entropy gives back its partial correlation;
a confidence that is a surface feature has no residual signal."""

from __future__ import annotations

import math

import numpy as np
import pytest
from metacog_synthetic import (
    add_item,
    fewer_resamples,  # noqa: F401  (autouse: 200 resamples)
    item_readout,
)

from conftest import TrialRecords
from introscope.experiments.base import ScoreInputs
from introscope.experiments.hidden_state_linkage import analysis

N_LAYERS = 6


def linkage_readout(rng: np.random.Generator, **values: object) -> dict[str, object]:
    return item_readout(
        rng,
        norm_by_layer=list(rng.normal(10, 1, N_LAYERS)),
        lens_entropy_by_layer=list(rng.normal(5, 1, N_LAYERS)),
        declared_layers=[2, 4],
        dropout_var=float(rng.random() * 0.01),
        dropout_flip_rate=float(rng.random()),
        **values,
    )


def planted_entropy_run(n_fam: int = 12, per: int = 20) -> TrialRecords:
    rng = np.random.default_rng(7)
    recs = TrialRecords()
    for f in range(n_fam):
        for i in range(per):
            ent = float(rng.normal(2.0, 0.5))
            verbal = float(np.clip(0.5 - 0.3 * (ent - 2.0) + rng.normal(0, 0.05), 0, 1))
            correct = bool(rng.random() < 1 / (1 + math.exp(2 * (ent - 2.0))))
            r = linkage_readout(rng, entropy=ent, verbal=verbal, correct=correct)
            add_item(recs, "hidden_state_linkage", f"q{f}-{i}", f"fam{f}", r)
    return recs


def test_planted_function_of_entropy_is_recovered() -> None:
    t = analysis.tables(planted_entropy_run().run(), {})
    link = t["linkage"].set_index(["report", "variable"])
    v = link.loc[("verbal", "entropy")]
    # verbal = -0.3 * entropy + N(0, 0.05), entropy sd 0.5: r = -0.15 / sqrt(0.15^2 + 0.05^2)
    assert v["partial_r"] == pytest.approx(-0.15 / math.hypot(0.15, 0.05), abs=0.02)
    assert v["partial_r_ci_high"] < -0.9 and v["partial_r_n"] == 240 and v["n_families"] == 12
    p = link.loc[("p_true", "entropy")]
    assert p["partial_r_ci_low"] < 0 < p["partial_r_ci_high"]
    assert set(link.index.get_level_values("variable")) == set(analysis.VARIABLES)
    # entropy itself predicts correctness beyond the surface features; so does the report
    res = t["residual_signal"].set_index("signal")
    assert res.loc["entropy", "incremental_auroc_ci_low"] > 0
    assert res.loc["verbal", "incremental_auroc_ci_low"] > 0
    by_layer = t["by_layer"]
    assert len(by_layer) == 2 * N_LAYERS * 3  # norm and lens, every layer, three reports
    lines = analysis.scorecard(ScoreInputs(t, {}, None))
    line = next(
        ln for ln in lines if ln.step == 104 and ln.name.startswith("verbal confidence ~ entropy")
    )
    assert line.unit == "items" and "240 items in 12 families" in line.sentence
    assert "falls as the next-token entropy" in line.sentence


def test_confidence_equal_to_a_surface_feature_has_no_residual_signal() -> None:
    rng = np.random.default_rng(11)
    recs = TrialRecords()
    for f in range(12):
        for i in range(20):
            r = linkage_readout(rng)
            chars = r["surface"]["question_chars"]  # type: ignore[index]
            z = (math.log1p(chars) - 4.0) / 0.5
            r["verbal"] = 0.5 + 0.1 * z + float(rng.normal(0, 0.01))
            r["correct"] = bool(rng.random() < 1 / (1 + math.exp(-2 * z)))
            add_item(recs, "hidden_state_linkage", f"q{f}-{i}", f"fam{f}", r)
    t = analysis.tables(recs.run(), {})
    v = t["residual_signal"].set_index("signal").loc["verbal"]
    assert v["auroc"] > 0.7  # it does predict correctness ... through question length only
    assert abs(v["incremental_auroc"]) < 0.03
    assert v["incremental_auroc_ci_low"] <= 0 <= v["incremental_auroc_ci_high"]
    assert v["partial_r_ci_low"] <= 0 <= v["partial_r_ci_high"]
    lines = analysis.scorecard(ScoreInputs(t, {}, None))
    line = next(ln for ln in lines if ln.step == 102 and "verbal" in ln.name)
    assert "no information about correctness beyond question length" in line.sentence


def test_too_few_items_per_family_is_undetermined_not_a_verdict() -> None:
    rng = np.random.default_rng(0)
    recs = TrialRecords()
    for f in range(8):  # one item per family: family dummies absorb everything
        add_item(recs, "hidden_state_linkage", f"q{f}", f"fam{f}", linkage_readout(rng))
    t = analysis.tables(recs.run(), {})
    lines = [ln for ln in analysis.scorecard(ScoreInputs(t, {}, None)) if ln.step == 104]
    assert lines and all(math.isnan(ln.estimate) for ln in lines)
    assert all("undetermined" in ln.sentence for ln in lines)
