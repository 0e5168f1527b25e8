"""Mismatch, localization and natural-states controls: analyses on constructed rows with
known answers, and a tiny real run of each preset on the bundled model (row contracts).
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from introscope import analysis_controls as A
from introscope.core.engine import Engine
from introscope.core.models import LoadedModel
from introscope.core.vectors import concept_vectors, save_vectors
from introscope.experiments import REGISTRY
from introscope.experiments.natural_states import candidate_pool
from introscope.runner import run_spec
from introscope.spec import load_spec, override
from introscope.store import load_run

SUMMARY_KEYS = {"name", "estimate", "ci_low", "ci_high", "n", "sentence"}


def frame(experiment: str, rows: list[tuple[dict[str, Any], dict[str, Any]]]) -> pd.DataFrame:
    return pd.DataFrame(
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


def check_summary(lines: list[dict[str, Any]]) -> None:
    assert lines
    for line in lines:
        assert set(line) == SUMMARY_KEYS
        assert "aware" not in line["sentence"].lower()


def test_empty_frames_give_empty_tables() -> None:
    empty = pd.DataFrame()
    other = frame("detection", [({"control": "none"}, {"p_yes": 0.5})])
    for df in (empty, other):
        assert len(A.mismatch_table(df)) == 0 and A.mismatch_summary(df) == []
        assert len(A.localization_table(df)) == 0 and A.localization_summary(df) == []
        assert len(A.natural_states_table(df)) == 0 and A.natural_states_summary(df) == []


# --------------------------------------------------------------------------- mismatch


def mismatch_rows(
    cong: list[float], inc: list[float], base: dict[str, float], words: list[str]
) -> pd.DataFrame:
    rows = []
    for w, b in base.items():
        rows.append(
            (
                {
                    "concept": None,
                    "asked": w,
                    "congruent": None,
                    "layer": None,
                    "strength": None,
                    "control": "none",
                    "rep": 0,
                },
                {"p_yes": b},
            )
        )
    for i, (pc, pi) in enumerate(zip(cong, inc, strict=True)):
        y, x = words[i % len(words)], words[(i + 1) % len(words)]
        common = {"concept": y, "layer": 10, "strength": 4.0, "control": "concept", "rep": i}
        rows.append(({**common, "asked": y, "congruent": True}, {"p_yes": pc}))
        rows.append(({**common, "asked": x, "congruent": False}, {"p_yes": pi}))
    return frame("mismatch", rows)


def test_mismatch_identical_p_yes_gives_no_gap() -> None:
    rng = np.random.default_rng(0)
    vals = list(rng.uniform(0.3, 0.7, 20))
    words = ["Ocean", "Dust"]
    df = mismatch_rows(vals, vals[::-1], {"Ocean": 0.5, "Dust": 0.5}, words)
    t = A.mismatch_table(df)
    assert len(t) == 1
    row = t.iloc[0]
    assert abs(row["gap"]) < 1e-12 and row["gap_ci_low"] < 0 < row["gap_ci_high"]
    assert row["gap_p"] > 0.5
    assert row["gap_n"] == 20 and row["gap_n_ref"] == 20
    lines = A.mismatch_summary(df)
    check_summary(lines)
    assert "no evidence" in lines[0]["sentence"]


def test_mismatch_gap_is_baseline_corrected() -> None:
    # P(yes) = the asked word's own baseline + 0.1 when congruent, + 0.0 when incongruent.
    # Congruent trials ask the low-baseline word, so the raw gap is negative; the corrected
    # gap recovers +0.1 exactly.
    rng = np.random.default_rng(1)
    base = {"Ocean": 0.2, "Dust": 0.7}
    n = 12
    cong = [base["Ocean"] + 0.1 + e for e in rng.normal(0, 0.01, n)]
    inc = [base["Dust"] + e for e in rng.normal(0, 0.01, n)]
    rows = []
    for w, b in base.items():
        rows.append(
            (
                {
                    "concept": None,
                    "asked": w,
                    "congruent": None,
                    "layer": None,
                    "strength": None,
                    "control": "none",
                    "rep": 0,
                },
                {"p_yes": b},
            )
        )
    for i in range(n):
        common = {"concept": "Ocean", "layer": 10, "strength": 4.0, "control": "concept", "rep": i}
        rows.append(({**common, "asked": "Ocean", "congruent": True}, {"p_yes": cong[i]}))
        rows.append(({**common, "asked": "Dust", "congruent": False}, {"p_yes": inc[i]}))
    row = A.mismatch_table(frame("mismatch", rows)).iloc[0]
    assert row["gap"] < -0.3 and row["gap_ci_high"] < 0
    assert row["gap_corrected"] == pytest.approx(0.1, abs=0.01)
    assert row["gap_corrected_ci_low"] > 0 and row["gap_corrected_p"] < 0.01
    assert row["congruent_shift"] == pytest.approx(0.1, abs=0.01)
    line = A.mismatch_summary(frame("mismatch", rows))[0]
    assert line["estimate"] == pytest.approx(0.1, abs=0.01)
    assert "carries information about which concept was injected" in line["sentence"]


# --------------------------------------------------------------------------- localization


def localization_rows(n: int, inj_right: bool, abs_right: bool) -> pd.DataFrame:
    rows = []
    for i in range(n):
        target = i % 5 + 1
        wrong = target % 5 + 1
        for question, right in (("injected", inj_right), ("abstract", abs_right)):
            base = {"question": question, "stimulus_id": i, "target": target, "rep": 0}
            chosen = target if right else wrong
            probs = [0.05] * 5
            probs[chosen - 1] = 0.8
            rows.append(
                (
                    {**base, "concept": "Ocean", "layer": 3, "strength": 8.0, "control": "concept"},
                    {
                        "chosen": chosen,
                        "target": target,
                        "p_target": probs[target - 1],
                        "probs": probs,
                    },
                )
            )
            rows.append(
                (
                    {**base, "concept": None, "layer": None, "strength": None, "control": "none"},
                    {"chosen": wrong, "target": target, "p_target": 0.05, "probs": probs},
                )
            )
    return frame("localization", rows)


def test_localization_always_right_vs_chance() -> None:
    df = localization_rows(30, inj_right=True, abs_right=False)
    t = A.localization_table(df)
    loc = t[(t["question"] == "injected") & (t["control"] == "concept")].iloc[0]
    assert loc["accuracy"] == 1.0 and loc["accuracy_n"] == 30
    assert loc["chance"] == pytest.approx(0.2)
    assert loc["accuracy_vs_chance"] == pytest.approx(0.8)
    assert loc["accuracy_vs_chance_ci_low"] > 0.6 and loc["accuracy_p"] < 1e-10
    assert loc["accuracy_vs_none"] == 1.0 and loc["accuracy_vs_none_ci_low"] > 0.8
    assert loc["localization_minus_abstractness"] == 1.0
    assert loc["localization_minus_abstractness_ci_low"] > 0.8
    absq = t[(t["question"] == "abstract") & (t["control"] == "concept")].iloc[0]
    assert absq["accuracy"] == 0.0 and math.isnan(absq["localization_minus_abstractness"])
    lines = A.localization_summary(df)
    check_summary(lines)
    assert lines[0]["estimate"] == pytest.approx(0.8)
    assert "beyond how the injected sentence looks" in lines[1]["sentence"]


def test_localization_matched_by_abstractness_is_flagged() -> None:
    df = localization_rows(30, inj_right=True, abs_right=True)
    lines = A.localization_summary(df)
    diff = next(x for x in lines if x["name"] == "localization - abstractness")
    assert diff["estimate"] == 0.0 and diff["ci_low"] < 0 < diff["ci_high"]
    assert "not separated from the abstractness confound" in diff["sentence"]


# --------------------------------------------------------------------------- natural states


def natural_rows(beyond_template: bool, seed: int = 0) -> pd.DataFrame:
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
                        },
                    )
                )
    return frame("natural_states", rows)


def _main_reg(t: pd.DataFrame, outcome: str = "concept_logprob", cov: str = "template") -> Any:
    m = (
        (t["row_type"] == "regression")
        & (t["predictor"] == "cos_specific")
        & (t["outcome"] == outcome)
        & (t["covariates"] == cov)
    )
    return t[m].iloc[0]


def test_natural_states_report_tracks_projection_beyond_template() -> None:
    df = natural_rows(beyond_template=True)
    t = A.natural_states_table(df)
    row = _main_reg(t)
    assert row["coef_n"] == 120
    assert row["coef_ci_low"] > 0
    assert row["coef"] / row["predictor_sd"] == pytest.approx(20.0, rel=0.3)
    assert row["partial_r_ci_low"] > 0 and row["delta_r2"] > 0.1
    assert _main_reg(t, cov="template+concept")["coef_ci_low"] > 0
    logit = _main_reg(t, outcome="identified")
    assert logit["converged"] and logit["coef_ci_low"] > 0
    templ = t[t["row_type"] == "template"].set_index("template")
    assert templ.loc["repeated", "cos"] > templ.loc["incidental", "cos"]
    lines = A.natural_states_summary(df)
    check_summary(lines)
    assert lines[0]["ci_low"] > 0
    assert "carries information about the projection" in lines[0]["sentence"]
    assert "correlational" in lines[0]["sentence"]


def test_natural_states_text_only_dependence_covers_zero() -> None:
    df = natural_rows(beyond_template=False)
    t = A.natural_states_table(df)
    row = _main_reg(t)
    assert row["coef_ci_low"] < 0 < row["coef_ci_high"]
    assert row["partial_r_ci_low"] < 0 < row["partial_r_ci_high"]
    # Without the covariate the projection *does* predict the report (through the text).
    y = [lg["concept_logprob"] for lg in df["logits"]]
    x = [lg["cos_by_layer"]["10"] - lg["distractor_cos_by_layer"]["10"] for lg in df["logits"]]
    assert np.corrcoef(x, y)[0, 1] > 0.5
    line = A.natural_states_summary(df)[0]
    assert line["ci_low"] < 0 < line["ci_high"] and "no evidence" in line["sentence"]


# --------------------------------------------------------------------------- real runs

WORDS = ["Ocean", "Dust"]


def test_kinds_registered() -> None:
    for kind in ("mismatch", "localization", "natural_states"):
        assert kind in REGISTRY
        assert load_spec(kind).experiment == kind


@pytest.fixture(scope="module")
def vec_file(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Vectors for every word the three tiny specs need, built once."""
    path = tmp_path_factory.mktemp("ctl_vectors") / "vectors.safetensors"
    save_vectors(concept_vectors(engine, candidate_pool(WORDS)), path)
    return path


def tiny_run(name: str, lm: LoadedModel, vec_file: Path, tmp_path: Path) -> pd.DataFrame:
    spec = override(
        load_spec(name),
        concepts=",".join(WORDS),
        layers="0.33",
        strengths="8",
        trials=1,
        controls="concept",
        control_trials=1,
    )
    shutil.copy(vec_file, tmp_path / "vectors.safetensors")
    result = run_spec(spec, tmp_path, lm=lm)
    assert result.n_new == result.n_trials > 0
    df = load_run(tmp_path)
    assert len(df) == result.n_trials and set(df["experiment"]) == {name}
    return df


@pytest.mark.slow
def test_mismatch_real_run(lm: LoadedModel, vec_file: Path, tmp_path: Path) -> None:
    df = tiny_run("mismatch", lm, vec_file, tmp_path)
    # 2 baselines (one per asked word) + 2 concepts x (congruent, incongruent).
    assert len(df) == 6
    for c, lg in zip(df["condition"], df["logits"], strict=True):
        assert {"concept", "asked", "congruent", "layer", "strength", "control"} <= set(c)
        assert 0.0 <= lg["p_yes"] <= 1.0
        if c["control"] == "none":
            assert c["concept"] is None and c["congruent"] is None
        else:
            assert c["layer"] == 10 and c["congruent"] == (c["asked"] == c["concept"])
    t = A.mismatch_table(df)
    assert len(t) == 1 and t.iloc[0]["gap_n"] == 2
    check_summary(A.mismatch_summary(df))


@pytest.mark.slow
def test_localization_real_run(lm: LoadedModel, vec_file: Path, tmp_path: Path) -> None:
    df = tiny_run("localization", lm, vec_file, tmp_path)
    # 2 stimuli x 2 questions x (injected + no injection).
    assert len(df) == 8
    for c, lg in zip(df["condition"], df["logits"], strict=True):
        assert c["question"] in ("injected", "abstract") and 1 <= c["target"] <= 5
        assert set(lg) >= {"chosen", "target", "p_target", "probs"}
        assert len(lg["probs"]) == 5 and sum(lg["probs"]) == pytest.approx(1.0, abs=1e-4)
        assert lg["chosen"] == int(np.argmax(lg["probs"])) + 1 and lg["target"] == c["target"]
    # The two questions see the same stimulus and the same injection.
    inj = df[df["control"] == "concept"]
    for _, g in inj.groupby(inj["condition"].map(lambda c: c["stimulus_id"])):
        assert len(g) == 2 and g["injection"].map(str).nunique() == 1
        assert g["condition"].map(lambda c: c["target"]).nunique() == 1
    t = A.localization_table(df)
    assert set(t["question"]) == {"injected", "abstract"} and (t["chance"] == 0.2).all()
    check_summary(A.localization_summary(df))


@pytest.mark.slow
def test_natural_states_real_run(lm: LoadedModel, vec_file: Path, tmp_path: Path) -> None:
    df = tiny_run("natural_states", lm, vec_file, tmp_path)
    assert len(df) == 2 * 3  # 2 concepts x 3 templates, no injection
    assert df["injection"].isna().all()
    for c, lg in zip(df["condition"], df["logits"], strict=True):
        assert c["template"] in ("repeated", "single", "incidental")
        assert lg["concept_logprob"] < 0 and 1 <= lg["rank"] <= 10
        assert set(lg["cos_by_layer"]) == {"10"} == set(lg["distractor_cos_by_layer"])
        assert -1 <= lg["cos_by_layer"]["10"] <= 1
    t = A.natural_states_table(df)
    assert set(t["row_type"]) == {"template", "regression"}
    check_summary(A.natural_states_summary(df))
