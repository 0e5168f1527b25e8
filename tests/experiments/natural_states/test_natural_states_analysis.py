"""Natural states: tables, headlines, scorecard step 8 and parameters on constructed runs
with known answers (no model)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from introscope.errors import AnalysisError, SpecError
from introscope.experiments.base import ScoreInputs
from introscope.experiments.natural_states import EXPERIMENT
from introscope.experiments.natural_states.analysis import scorecard, tables
from introscope.experiments.natural_states.params import natural_states_params
from introscope.headlines import Headline, step_lines
from introscope.spec import load_spec, validate_spec
from introscope.stats import linear_regression, partial_correlation
from introscope.tables import RunFrame, Tables
from introscope.words import word_list

KIND = "natural_states"


def frame(experiment: str, rows: list[tuple[dict[str, Any], dict[str, Any]]]) -> RunFrame:
    return RunFrame(
        pd.DataFrame(
            [
                {
                    "experiment": experiment,
                    "measure": "logits",
                    "condition": c,
                    "logits": lg,
                    "grades": {},
                }
                for c, lg in rows
            ]
        )
    )


def natural_rows(
    beyond_template: bool, seed: int = 0, read_at: str | None = "passage_end"
) -> RunFrame:
    rng = np.random.default_rng(seed)
    effect = {"repeated": 2.0, "single": 1.0, "incidental": 0.0}
    rows = []
    for ci in range(10):
        for template, te in effect.items():
            for rep in range(4):
                state = rng.normal(0, 0.05)  # variation of the activation beyond the text
                cos = 0.05 * te + state
                dist = float(rng.normal(0.02, 0.005))
                noise = rng.normal(0, 0.3)
                logprob = -8.0 + 1.5 * te + (20.0 * state if beyond_template else 0.0) + noise
                rank = 1 if logprob > -6.5 else 2
                rows.append(
                    (
                        {
                            "concept": f"W{ci}",
                            "template": template,
                            "relatedness": int(te) + 1,
                            "control": "none",
                            "layer": None,
                            "strength": None,
                            "rep": rep,
                        },
                        {
                            "concept_logprob": logprob,
                            "rank": rank,
                            "n_candidates": 10,
                            "cos_by_layer": {"10": cos + dist},
                            "distractor_cos_by_layer": {"10": dist},
                            **({"read_at": read_at} if read_at else {}),
                        },
                    )
                )
    return frame(KIND, rows)


def main_reg(t: pd.DataFrame, outcome: str = "concept_logprob", cov: str = "template") -> Any:
    m = (
        (t["row_type"] == "regression")
        & (t["predictor"] == "cos_specific")
        & (t["outcome"] == outcome)
        & (t["covariates"] == cov)
    )
    return t[m].iloc[0]


def check_headlines(lines: list[Headline]) -> None:
    assert lines
    for line in lines:
        assert line.step is None and line.available and line.n > 0
        assert "aware" not in line.sentence.lower()


def test_empty_runs_give_empty_tables() -> None:
    other = frame("detection", [({"control": "none"}, {"p_yes": 0.5})])
    for run in (RunFrame(pd.DataFrame()), other):
        t = tables(run, {})
        assert all(len(v) == 0 for v in t.values())
        assert EXPERIMENT.headlines(t, {}) == []
        assert EXPERIMENT.sections(t, {}) == []


@pytest.mark.slow  # heavy for the default run (CI); make test-all runs it
def test_report_tracks_projection_beyond_template() -> None:
    t = tables(natural_rows(beyond_template=True), {})
    ns = t["natural_states"]
    row = main_reg(ns)
    assert row["coef_n"] == 120
    assert row["coef_ci_low"] > 0
    assert row["coef"] / row["predictor_sd"] == pytest.approx(20.0, rel=0.3)
    assert row["partial_r_ci_low"] > 0 and row["delta_r2"] > 0.1
    assert main_reg(ns, cov="template+concept")["coef_ci_low"] > 0
    logit = main_reg(ns, outcome="identified")
    assert logit["converged"] and logit["coef_ci_low"] > 0
    templ = ns[ns["row_type"] == "template"].set_index("template")
    assert list(templ.index) == ["repeated", "single", "incidental"]
    assert templ.loc["repeated", "cos"] > templ.loc["incidental", "cos"]
    lines = EXPERIMENT.headlines(t, {})
    check_headlines(lines)
    assert [ln.name for ln in lines] == [
        "natural states: report ~ projection | template (log-prob)",
        "natural states: top-1 report ~ projection | template (logistic)",
        "natural states: within-template partial r",
        "natural states: report ~ projection | template + concept",
        "natural states: concept vs distractor projection",
    ]
    assert lines[0].ci_low > 0 and lines[0].kind == "coefficient"
    assert "carries information about the projection" in lines[0].sentence
    assert "correlational" in lines[0].sentence
    assert lines[1].kind == "logodds" and lines[2].kind == "correlation"
    # The concept is the unit (issue 10): 10 concepts, their trials clustered.
    assert all(ln.unit == "concepts" and ln.n == 10 for ln in lines)
    assert "(the only configuration)" in lines[0].sentence
    assert "clustered by concept: 10 concepts, 120 trials" in lines[0].sentence
    check = lines[4]
    assert check.estimate == pytest.approx(0.05, abs=0.02) and check.ci_low > 0
    pooled = t["projection_check"].iloc[0]
    assert pooled["cos_specific_n"] == 120 and pooled["cos_specific_by_concept_n"] == 10


@pytest.mark.slow  # heavy for the default run (CI); make test-all runs it
def test_text_only_dependence_covers_zero() -> None:
    run = natural_rows(beyond_template=False)
    t = tables(run, {})
    row = main_reg(t["natural_states"])
    assert row["coef_ci_low"] < 0 < row["coef_ci_high"]
    assert row["partial_r_ci_low"] < 0 < row["partial_r_ci_high"]
    # Without the covariate the projection *does* predict the report (through the text).
    recs = run.records(KIND)
    y = [r["logits"]["concept_logprob"] for r in recs]
    x = [
        r["logits"]["cos_by_layer"]["10"] - r["logits"]["distractor_cos_by_layer"]["10"]
        for r in recs
    ]
    assert np.corrcoef(x, y)[0, 1] > 0.5
    line = EXPERIMENT.headlines(t, {})[0]
    assert line.ci_low < 0 < line.ci_high and "no evidence" in line.sentence


def concept_effect_rows(seed: int) -> RunFrame:
    """Report and projection each have a concept effect (an easy concept is easy in every
    template), unrelated to each other: trials of one concept are far from independent."""
    rng = np.random.default_rng(seed)
    rows = []
    for ci in range(12):
        shared, easy = rng.normal(0, 1, 2)
        for template in ("repeated", "single", "incidental"):
            for rep in range(4):
                cos = 0.02 * shared + rng.normal(0, 0.005)
                rows.append(
                    (
                        {"concept": f"W{ci}", "template": template, "control": "none", "rep": rep},
                        {
                            "concept_logprob": -8.0 + easy + rng.normal(0, 0.3),
                            "rank": 2,
                            "cos_by_layer": {"10": cos + 0.02, "12": cos + 0.02},
                            "distractor_cos_by_layer": {"10": 0.02, "12": 0.02},
                        },
                    )
                )
    return frame(KIND, rows)


def test_intervals_are_clustered_by_concept() -> None:
    t = tables(concept_effect_rows(0), {})
    row = main_reg(t["natural_states"])
    assert row["coef_n"] == 144 and row["n_concepts"] == 12
    run = concept_effect_rows(0)
    ys, xs = [], []
    for r in run.records(KIND):
        ys.append(r["logits"]["concept_logprob"])
        xs.append(r["logits"]["cos_by_layer"]["10"] - 0.02)
    x = (np.array(xs) - np.mean(xs)) / np.std(xs, ddof=1)
    templates = [r["condition"]["template"] for r in run.records(KIND)]
    covs = {
        f"t[{v}]": [1.0 if u == v else 0.0 for u in templates] for v in ("single", "incidental")
    }
    naive = linear_regression(ys, {"cos_specific": list(x), **covs})["cos_specific"]
    # the trial-level interval counts 144 independent trials; with 12 concepts behind them the
    # clustered one is much wider
    assert row["coef_ci_high"] - row["coef_ci_low"] > 2 * (naive.ci_high - naive.ci_low)
    assert row["coef"] == pytest.approx(naive.estimate)


@pytest.mark.slow  # heavy for the default run (CI); make test-all runs it
def test_the_layer_is_chosen_on_half_the_concepts() -> None:
    t = tables(concept_effect_rows(1), {})
    sel = t["selection"].iloc[0]
    assert sel["how"] == "held out" and sel["n_chosen_on"] == 6 and sel["n_estimated_on"] == 6
    lines = EXPERIMENT.headlines(t, {})
    assert "chosen among 2 layers on 6 concepts and estimated on the other 6" in lines[0].sentence
    assert lines[0].n == 6 and main_reg(t["held_out"])["coef_n"] == 72


def test_partial_correlation_removes_the_covariate() -> None:
    rng = np.random.default_rng(3)
    n = 400
    z = rng.integers(0, 2, n).astype(float)  # a binary covariate drives both
    x = 2.0 * z + rng.normal(0, 1, n)
    y = 2.0 * z + rng.normal(0, 1, n)
    assert np.corrcoef(x, y)[0, 1] > 0.3
    r, lo, hi, _ = partial_correlation(y, x, {"z": list(z)})
    assert lo < 0 < hi and abs(r) < 0.15
    y2 = y + 0.5 * x
    r2, lo2, hi2, _ = partial_correlation(y2, x, {"z": list(z)})
    assert lo2 > 0.3 and lo2 < r2 < hi2
    # Too few residual degrees of freedom: no interval.
    r3, lo3, hi3, _ = partial_correlation(y[:5], x[:5], {"z": list(z[:5]), "w": [1.0, 0, 0, 1, 0]})
    assert np.isnan(lo3) and np.isnan(hi3) and -1 <= r3 <= 1


# --------------------------------------------------------------------------- step 8


@pytest.mark.slow  # heavy for the default run (CI); make test-all runs it
def test_step_8_takes_the_first_four_headlines() -> None:
    t: Tables = tables(natural_rows(beyond_template=True), {})
    lines = scorecard(ScoreInputs(t, {}, None))
    heads = EXPERIMENT.headlines(t, {})
    assert len(heads) == 5 and [ln.name for ln in lines] == [h.name for h in heads[:4]]
    for ln, h in zip(lines, heads, strict=False):
        assert ln.step == 8 and ln.available and ln.config == ""
        assert (ln.estimate, ln.ci_low, ln.ci_high, ln.n, ln.sentence) == (
            h.estimate,
            h.ci_low,
            h.ci_high,
            h.n,
            h.sentence,
        )


def test_step_8_not_run_and_empty_lines() -> None:
    empty = tables(RunFrame(pd.DataFrame()), {})
    (line,) = scorecard(ScoreInputs(empty, {}, None))
    assert line.step == 8 and not line.available and line.n == 0
    assert line.name == "natural-state grounding"
    assert line.sentence == "Not run: the run has no natural-states trials."
    assert EXPERIMENT.steps == {8: "natural-state grounding"}
    nan = float("nan")
    zero = Headline("x", nan, nan, nan, 0, "nothing to fit.")
    (ln,) = step_lines(8, "natural-state grounding", "natural-states", [zero], 4)
    assert not ln.available and ln.sentence == "Not run: nothing to fit."


# --------------------------------------------------------------------------- parameters


def spec(**grid: Any) -> dict[str, Any]:
    return {
        "name": "n",
        "experiment": KIND,
        "measure": "logits",
        "grid": {"concepts": ["Ocean", "Dust"], **grid},
    }


def test_preset_and_battery_part_validate() -> None:
    from introscope.battery import battery_specs

    p = natural_states_params(load_spec("natural_states"))
    assert p.templates == ["repeated", "single", "incidental"] and len(p.concepts) == 50
    assert p.repeats == 2 and p.layers == [0.33, 0.5, 0.67, 0.83]
    (part,) = battery_specs(only=["natural_states"], scale=0.3)
    bp = natural_states_params(part)
    assert bp.concepts == word_list("main")[:3] and bp.templates == p.templates


def test_variants_are_templates() -> None:
    default = natural_states_params(validate_spec(spec(), "test"))
    assert default.templates == ["repeated", "single", "incidental"]
    some = natural_states_params(validate_spec(spec(variants=["incidental", "repeated"]), "test"))
    assert some.templates == ["incidental", "repeated"]  # the spec's order is the trial order
    with pytest.raises(SpecError, match=r"grid\.variants: 'repeatd'"):
        validate_spec(spec(variants=["repeated", "repeatd"]), "test")


@pytest.mark.parametrize(
    ("grid", "top", "message"),
    [
        ({"controls": ["random"]}, {}, "grid.controls: 'random'"),
        ({"controls": ["none", "concept"]}, {}, "grid.controls: 'concept'"),
        ({"strengths": [8.0]}, {}, "grid.strengths"),
        ({}, {"control_trials": 1}, "control_trials"),
        ({}, {"measure": "generation"}, "measure"),
    ],
)
def test_params_refuse_what_the_experiment_does_not_use(
    grid: dict[str, Any], top: dict[str, Any], message: str
) -> None:
    with pytest.raises(SpecError, match=message):
        validate_spec({**spec(**grid), **top}, "test")


def test_controls_none_is_valid() -> None:
    p = natural_states_params(validate_spec(spec(controls=["none"]), "test"))
    assert p.concepts == ["Ocean", "Dust"]


@pytest.mark.slow  # heavy for the default run (CI); make test-all runs it
def test_a_run_read_at_the_answer_position_is_named_and_licenses_nothing() -> None:
    """Readouts without ``read_at`` (protocol 1) were taken at the last prompt token: the
    tables say so, and the headline says the logit-lens identity can produce the
    correlation, without the licence sentence."""
    t = tables(natural_rows(beyond_template=True, read_at=None), {})
    assert set(t["natural_states"]["read_at"]) == {"last_prompt_token"}
    assert list(t["projection_check"]["read_at"]) == ["last_prompt_token"]
    first = EXPERIMENT.headlines(t, {})[0]
    assert first.ci_low > 0
    assert "the last prompt token" in first.sentence and "logit-lens identity" in first.sentence
    assert "carries information about the projection" not in first.sentence
    assert "licenses only a correlational claim" not in first.sentence
    new = EXPERIMENT.headlines(tables(natural_rows(beyond_template=True), {}), {})[0]
    assert "the passage's last token" in new.sentence
    assert "licenses only a correlational claim" in new.sentence


def test_a_run_that_mixes_reading_positions_is_refused() -> None:
    old = natural_rows(beyond_template=True, read_at=None)
    new = natural_rows(beyond_template=True, seed=1)
    mixed = RunFrame(pd.concat([old.df, new.df], ignore_index=True))
    with pytest.raises(AnalysisError, match="different positions"):
        tables(mixed, {})
