"""Category thresholds: tables, headlines, scorecard step 9 and parameters on constructed
runs with known answers (no model)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from introscope.errors import SpecError
from introscope.experiments.base import ScoreInputs, Selection
from introscope.experiments.category_thresholds import EXPERIMENT
from introscope.experiments.category_thresholds.analysis import category_threshold_table, tables
from introscope.experiments.category_thresholds.figures import plot_category_thresholds
from introscope.experiments.category_thresholds.params import category_thresholds_params
from introscope.experiments.category_thresholds.scorecard import scorecard
from introscope.experiments.selection import split_concepts
from introscope.spec import load_spec, validate_spec
from introscope.stats.dose import MIN_CLUSTERS, emax_curve
from introscope.tables import RunFrame, Tables
from introscope.words import word_list

KIND = "category_thresholds"
STRENGTHS = [1.0, 2.0, 4.0, 8.0]


def row(
    cond: dict[str, Any], logits: dict[str, Any], injection: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "experiment": KIND,
        "measure": "logits",
        "condition": cond,
        "logits": logits,
        "injection": injection,
    }


def run_frame(
    effects: dict[tuple[str, str], list[float]],
    measures: dict[str, tuple[float, float]] | None = None,
    layers: tuple[int, ...] = (10,),
    resid: dict[int, float] | None = None,
    vector_norm: float = 2.0,
) -> RunFrame:
    """Rows for (concept, category) -> concept-minus-random difference at each strength (the
    same at every layer); the random vector's P(yes) is 0.2 throughout. ``resid``: the
    residual norms the no-injection trial records (none when left out)."""
    none = {
        "p_yes": 0.2,
        **({"resid_norm": {str(k): v for k, v in resid.items()}} if resid else {}),
    }
    rows = [row({"concept": None, "category": None, "control": "none"}, none)]
    for (concept, cat), diffs in effects.items():
        lp, cos = (measures or {}).get(concept, (-5.0, 0.1))
        rows.append(
            row(
                {"concept": concept, "category": cat, "layer": None, "control": "measure"},
                {"word_logprob": lp, "word_n_tokens": 1, "cosine": {str(x): cos for x in layers}},
            )
        )
        for layer in layers:
            for s, d in zip(STRENGTHS, diffs, strict=True):
                base = {"concept": concept, "category": cat, "layer": layer, "strength": s}
                inj = {"strength": s, "vector_norm": vector_norm}
                rows.append(row({**base, "control": "random"}, {"p_yes": 0.2}, inj))
                rows.append(row({**base, "control": "concept"}, {"p_yes": 0.2 + d}, inj))
    return RunFrame(pd.DataFrame(rows))


#: The planted dose-response of abstract nouns: EC50 3, plateau 0.5, hill 2 per doubling.
EC50, EMAX, HILL = 3.0, 0.5, 2.0


def planted_effects(n: int = 8, seed: int = 0) -> dict[tuple[str, str], list[float]]:
    """Abstract nouns follow the planted curve, each concept shifted up or down by its own
    amount with a partner shifted by the opposite (so the mean over concepts is exactly the
    planted curve); countries scatter around 0 at every strength the same way."""
    rng = np.random.default_rng(seed)
    effects: dict[tuple[str, str], list[float]] = {}
    curve = emax_curve(np.array(STRENGTHS), EC50, EMAX, HILL)
    for i in range(0, n, 2):
        for j, sign in ((i, 1.0), (i + 1, -1.0)):
            if j == i:
                jitter = rng.uniform(0.01, 0.05, len(STRENGTHS))
            effects[(f"a{j}", "abstract_nouns")] = list(curve + sign * jitter)
            effects[(f"c{j}", "countries")] = list(sign * jitter)
    return effects


def planted(layers: tuple[int, ...] = (10,), resid: dict[int, float] | None = None) -> Tables:
    return tables(run_frame(planted_effects(), layers=layers, resid=resid), {})


def test_dose_response_recovers_the_planted_ec50() -> None:
    t = planted()
    per_cat = t["category_thresholds"].set_index("category")
    a = per_cat.loc["abstract_nouns"]
    # The slice wires the fit to its table (the interval's coverage over seeded repeats is
    # tested in tests/stats/test_dose.py); the mean over concepts is the planted curve.
    assert a["ec50"] == pytest.approx(EC50, rel=0.02)
    assert 2.0 < a["ec50_ci_low"] < EC50 < a["ec50_ci_high"] < 4.5
    assert a["emax"] == pytest.approx(EMAX, abs=0.01) and a["emax_ci_low"] > 0
    assert (a["ec50_n"] == 8 and a["ec50_in_range"] is True) or a["ec50_in_range"] == 1.0
    assert (a["strength_min"], a["strength_max"]) == (1.0, 8.0)
    c = per_cat.loc["countries"]
    assert c["emax_ci_low"] < 0 < c["emax_ci_high"]
    # The per-strength differences keep their t intervals over concepts (the fitted points).
    table = t["thresholds"]
    assert set(table["category"]) == {"abstract_nouns", "countries"}
    assert "threshold" not in table.columns and "passes" not in table.columns
    at4 = table[(table["category"] == "abstract_nouns") & (table["strength"] == 4.0)].iloc[0]
    assert at4["diff_n"] == 8 and at4["diff_ci_low"] > 0
    assert table["relative_strength"].isna().all()  # the run measured no residual norm


def test_strengths_relative_to_the_residual_stream() -> None:
    t = planted(resid={10: 40.0})
    rel = t["thresholds"].set_index(["category", "strength"])["relative_strength"]
    assert rel[("abstract_nouns", 4.0)] == pytest.approx(4.0 * 2.0 / 40.0)
    eff = t["concept_effects"]
    assert (eff["relative_strength"] == eff["strength"] * 2.0 / 40.0).all()
    assert (eff["vector_norm"] == 2.0).all()
    a = t["category_thresholds"].set_index("category").loc["abstract_nouns"]
    assert a["resid_norm"] == 40.0 and a["vector_norm"] == 2.0
    for col in ("", "_ci_low", "_ci_high"):
        assert a[f"relative_ec50{col}"] == pytest.approx(a[f"ec50{col}"] * 2.0 / 40.0)
    line = {h.name: h for h in EXPERIMENT.headlines(t, {})}["ec50/abstract_nouns/L10"]
    assert f"|s·v|/|h| = {a['relative_ec50']:.2f}" in line.sentence


def test_concept_thresholds_and_headline_wording() -> None:
    t = planted()
    lines = EXPERIMENT.headlines(t, {})
    by_name = {h.name: h for h in lines}
    a = by_name["ec50/abstract_nouns/L10"]
    row_a = t["category_thresholds"].set_index("category").loc["abstract_nouns"]
    assert a.n == 8 and a.unit == "concepts" and a.kind == "strength"
    assert (a.estimate, a.ci_low, a.ci_high) == (
        row_a["ec50"],
        row_a["ec50_ci_low"],
        row_a["ec50_ci_high"],
    )
    assert "abstract nouns reaches half of its fitted plateau" in a.sentence
    assert "logistic in log2 strength fitted over strengths 1-8" in a.sentence
    assert "resampling concepts (n=8 concepts)" in a.sentence
    c = by_name["ec50/countries/L10"]
    assert math.isnan(c.estimate) and c.n == 0 and not c.available
    assert c.sentence.startswith("Not available: ") and "(n=8 concepts)" in c.sentence
    assert "no plateau distinguishable from 0" in c.sentence and "undetermined" in c.sentence
    for h in lines:
        assert "aware" not in h.sentence
        assert h.step is None and (h.available or h is c)
    # The connection and category coefficients follow the EC50 rows, per layer.
    names = [h.name for h in lines]
    assert names[:2] == ["ec50/abstract_nouns/L10", "ec50/countries/L10"]
    assert "category/countries/L10" in names
    assert "connection/word_logprob/L10" not in names  # constant measures: not fitted
    per = t["concept_thresholds"].set_index("concept")
    assert per.loc["a0", "threshold"] in STRENGTHS and math.isnan(per.loc["c0", "threshold"])


def test_too_few_concepts_leave_the_ec50_undetermined() -> None:
    """Four concepts are too few for a concept bootstrap: no interval and no verdict."""
    effects = dict(list(planted_effects(n=4).items()))
    t = tables(run_frame(effects), {})
    a = t["category_thresholds"].set_index("category").loc["abstract_nouns"]
    assert a["ec50_n"] == 4 and math.isnan(a["ec50_ci_low"]) and not math.isnan(a["ec50"])
    line = {h.name: h for h in EXPERIMENT.headlines(t, {})}["ec50/abstract_nouns/L10"]
    assert math.isnan(line.estimate) and "undetermined" in line.sentence and not line.available
    assert "at least 5 concepts" in line.sentence and "(n=4 concepts" in line.sentence
    assert "no plateau" not in line.sentence


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
    t = tables(run_frame(effects, measures), {})
    reg = t["regression"]
    conn = reg[(reg["outcome"] == "mean_effect") & (reg["model"] == "connection")]
    coef = conn.set_index("term")
    for term, truth in (("word_logprob", -0.02), ("cosine", 0.4), ("intercept", 0.05)):
        assert coef.loc[term, "ci_low"] <= truth <= coef.loc[term, "ci_high"], term
    assert coef.loc["word_logprob", "ci_high"] < 0 < coef.loc["cosine", "ci_low"]
    assert (conn["n"] == 90).all() and conn["r2"].iloc[0] > 0.9
    assert (reg["reference"] == "abstract_nouns").all()
    # Category has no effect of its own once the connection measures are in the model.
    both = reg[(reg["outcome"] == "mean_effect") & (reg["model"] == "connection+category")]
    for _, r in both[both["term"].str.startswith("category[")].iterrows():
        assert r["ci_low"] <= 0.0 <= r["ci_high"]
    assert set(reg["outcome"]) >= {"effect", "mean_effect"}
    heads = {h.name: h for h in EXPERIMENT.headlines(t, {})}
    lp_line = heads["connection/word_logprob/L10"]
    assert lp_line.ci_high < 0 and lp_line.n == 90 and lp_line.kind == "coefficient"
    assert "per nat of the concept word's log-probability" in lp_line.sentence


def test_empty_and_plot(tmp_path: Path) -> None:
    empty = tables(RunFrame(pd.DataFrame()), {})
    assert all(len(v) == 0 for v in empty.values())
    assert EXPERIMENT.headlines(empty, {}) == []
    assert (
        plot_category_thresholds(
            empty["thresholds"], empty["category_thresholds"], tmp_path / "x.png"
        )
        is None
    )
    assert EXPERIMENT.figures(empty, tmp_path) == {}
    assert EXPERIMENT.sections(empty, {}) == []
    assert not list(tmp_path.iterdir())
    figs = EXPERIMENT.figures(planted(), tmp_path)
    assert set(figs) == {"category_thresholds"}
    assert figs["category_thresholds"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- step 9


def test_step_9_shows_the_selected_layer() -> None:
    t = planted(layers=(5, 10))
    lines = scorecard(ScoreInputs(t, {}, Selection(10, 4.0, "logits", 4)))
    assert [ln.name for ln in lines] == [
        "ec50/abstract_nouns/L10",
        "ec50/countries/L10",
    ]
    for ln in lines:
        assert ln.step == 9 and ln.unit == "concepts"
        assert ln.config == "layer 10 (the layer selected above)"
    assert lines[0].available and lines[0].n == 8
    assert lines[0].estimate == pytest.approx(EC50, rel=0.02)
    assert not lines[1].available and lines[1].n == 0 and math.isnan(lines[1].estimate)


def test_step_9_falls_back_to_the_first_layer_of_the_grid() -> None:
    t = planted(layers=(5, 10))
    for sel, why in (
        (Selection(7, 4.0, "text", 2), "the layer selected above is not in the threshold grid"),
        (None, "no layer was selected above"),
    ):
        lines = scorecard(ScoreInputs(t, {}, sel))
        assert [ln.name for ln in lines] == [
            "ec50/abstract_nouns/L5",
            "ec50/countries/L5",
        ]
        assert all(ln.config.startswith(f"layer 5 ({why}") for ln in lines)


def test_step_9_estimates_on_the_concepts_the_layer_was_not_chosen_on() -> None:
    """Step 2's configuration was chosen on half the concepts (the selection's split): step
    9 refits each category at that layer on the other half only; a declared configuration
    reads every concept."""
    effects = planted_effects(n=16)
    concepts = [c for c, _ in effects]
    chosen, rest = split_concepts(concepts, 3)
    # the abstract nouns the layer was chosen on are easier (EC50 1.5 instead of 3): read on
    # them too, the EC50 would look lower than the held-out concepts show
    easy = list(emax_curve(np.array(STRENGTHS), EC50 / 2, EMAX, HILL))
    effects = {
        k: (easy if k[0] in chosen and k[1] == "abstract_nouns" else v) for k, v in effects.items()
    }
    t = tables(run_frame(effects, layers=(5, 10)), {})
    held = Selection(10, 4.0, "logits", 4, "held out", "", chosen, rest)
    lines = scorecard(ScoreInputs(t, {}, held))
    assert [ln.name for ln in lines] == ["ec50/abstract_nouns/L10", "ec50/countries/L10"]
    abstract = lines[0]
    kept = [c for c in rest if c.startswith("a")]
    assert MIN_CLUSTERS <= len(kept) < 16 and abstract.available
    assert abstract.n == len(kept)
    assert (
        f"At layer 10 (the layer of the configuration selected on other concepts, estimated "
        f"on {len(kept)} held-out concepts)" in abstract.sentence
    )
    ce = t["concept_effects"]
    used = ce[(ce["layer"] == 10) & ce["concept"].isin(rest)]
    assert not set(used["concept"]) & set(chosen)
    refit = category_threshold_table(used, {}).set_index("category")
    assert abstract.estimate == refit.loc["abstract_nouns", "ec50"]
    full = t["category_thresholds"]
    every = full[(full["layer"] == 10) & (full["category"] == "abstract_nouns")].iloc[0]
    assert abstract.estimate == pytest.approx(EC50, rel=0.1)
    assert every["ec50"] < 0.9 * abstract.estimate and every["ec50_n"] == 16

    declared = Selection(10, 4.0, "logits", 4, "declared")
    abstract, _ = scorecard(ScoreInputs(t, {}, declared))
    assert abstract.n == 16 and abstract.estimate == every["ec50"]
    assert (
        "At layer 10 (the layer of the declared configuration, estimated on all 16 concepts)"
        in abstract.sentence
    )


def test_step_9_not_run() -> None:
    empty = tables(RunFrame(pd.DataFrame()), {})
    (line,) = scorecard(ScoreInputs(empty, {}, Selection(10, 4.0, "text", 1)))
    assert line.step == 9 and not line.available and line.n == 0
    assert line.name == "category thresholds"
    assert line.sentence == "Not run: the run has no category-threshold trials."
    assert EXPERIMENT.steps == {9: "category thresholds"}


# --------------------------------------------------------------------------- parameters


def spec(**kw: Any) -> dict[str, Any]:
    grid = {"categories": ["verbs"], "n_concepts": 2, "layers": [0.5], "strengths": [2.0]}
    return {"name": "t", "experiment": KIND, "measure": "logits", **kw, "grid": grid}


def test_preset_is_the_full_sweep() -> None:
    s = load_spec("category_thresholds")
    assert s.experiment == KIND and s.measure == "logits"
    assert len(s.grid.categories) == 5 and s.grid.n_concepts == 50
    assert s.grid.strengths == STRENGTHS and s.grid.layers == [0.33, 0.5, 0.67]
    p = category_thresholds_params(s)
    assert len(p.categories) == 250 and p.controls == ["concept", "random"]
    assert list(p.categories)[:50] == word_list("abstract_nouns")[:50]
    assert list(p.categories.values()) == [c for c in s.grid.categories for _ in range(50)]


def test_params_concepts_by_category() -> None:
    p = category_thresholds_params(
        validate_spec(
            {
                **spec(),
                "grid": {
                    "categories": ["countries", "verbs"],
                    "n_concepts": 2,
                    "concepts": ["Ireland", "Zeppelins"],
                    "controls": ["negated"],
                },
            },
            "test",
        )
    )
    cats = list(p.categories.values())
    assert cats[:4] == ["countries", "countries", "verbs", "verbs"]
    assert p.categories["Zeppelins"] == "custom"
    assert p.categories.get("Ireland") == "countries"
    assert p.controls == ["concept", "random", "negated"]
    default = category_thresholds_params(
        validate_spec({"name": "t", "experiment": KIND, "measure": "logits"}, "test")
    )
    assert set(default.categories.values()) == {
        "abstract_nouns",
        "concrete_nouns",
        "famous_people",
        "countries",
        "verbs",
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"trials_per_cell": 3}, "trials_per_cell"),
        ({"control_trials": 2}, "control_trials"),
        ({"grid": {"variants": ["other"]}}, "grid.variants"),
        ({"grid": {"controls": ["concept", "none"]}}, "grid.controls: 'none'"),
        ({"measure": "generation"}, "measure"),
    ],
)
def test_params_refuse_what_the_experiment_does_not_use(
    change: dict[str, Any], message: str
) -> None:
    data = spec()
    data["grid"] = {**data["grid"], **change.pop("grid", {})}
    data.update(change)
    with pytest.raises(SpecError, match=message):
        validate_spec(data, "test")


def test_battery_part_validates() -> None:
    from introscope.battery import battery_specs

    (part,) = battery_specs(only=["category_thresholds"], scale=0.3)
    assert part.grid.n_concepts == 2
    assert len(category_thresholds_params(part).categories) == 10
