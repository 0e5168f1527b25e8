"""Cross-prediction on constructed runs with known answers (no model): identical self and
other predictors give self - other = 0; a predictor that knows the behaviour beats one that
guesses; a behaviour a surface feature determines is predicted by the classifier as well
as by the model, and the sentence says so."""

from __future__ import annotations

import numpy as np
import pytest
from metacog_synthetic import (
    fewer_resamples,  # noqa: F401  (autouse: 200 resamples)
    surface,
)

from conftest import TrialRecords
from introscope.experiments.base import ScoreInputs
from introscope.experiments.cross_prediction import analysis


def add(
    recs: TrialRecords,
    item: str,
    fam: str,
    who: str,
    actual: str,
    pred: str,
    shots: int,
    sfc: dict[str, float],
    prop: str = "correct",
) -> None:
    recs.add(
        "cross_prediction",
        {"item": item, "family": fam, "property": prop, "shots": shots, "predictor": who},
        logits={
            "property": prop,
            "predictor": who,
            "shots": shots,
            "actual": actual,
            "prediction": pred,
            "p_yes": 0.9 if pred == "yes" else 0.1,
            "hit": pred == actual,
            "surface": sfc,
            "folds": 5,
        },
    )


def run(self_knows: bool, other_same: bool, seed: int = 0) -> TrialRecords:
    rng = np.random.default_rng(seed)
    recs = TrialRecords()
    for f in range(10):
        for i in range(30):
            sfc = surface(rng)
            actual = "yes" if rng.random() < 0.5 else "no"
            guess = "yes" if rng.random() < 0.5 else "no"
            mine = actual if self_knows else guess
            for shots in (0, 8):
                add(recs, f"q{f}-{i}", f"fam{f}", "self", actual, mine, shots, sfc)
                add(
                    recs,
                    f"q{f}-{i}",
                    f"fam{f}",
                    "other",
                    actual,
                    mine if other_same else guess,
                    shots,
                    sfc,
                )
    return recs


def test_identical_self_and_other_give_zero() -> None:
    t = analysis.tables(run(self_knows=False, other_same=True).run(), {})
    d = t["privileged"].set_index(["shots", "contrast"]).loc[(8, "self - other")]
    assert (d["difference"], d["difference_ci_low"], d["difference_ci_high"]) == (0.0, 0.0, 0.0)
    assert d["difference_n"] == 300 and d["n_families"] == 10
    lines = analysis.scorecard(ScoreInputs(t, {}, None))
    so = next(ln for ln in lines if "self - other" in ln.name.split(": ")[-1])
    assert so.step == 103 and so.estimate == 0.0 and so.config == "8 shots"
    assert "no difference between the self and the other prediction" in so.sentence


def test_privileged_self_beats_a_guessing_other() -> None:
    t = analysis.tables(run(self_knows=True, other_same=False).run(), {})
    d = t["privileged"].set_index(["shots", "contrast"]).loc[(8, "self - other")]
    assert d["difference"] == pytest.approx(0.5, abs=0.1) and d["difference_ci_low"] > 0.3
    acc = t["predictions"].set_index(["shots", "predictor"])
    assert acc.loc[(8, "self"), "accuracy"] == 1.0
    assert acc.loc[(8, "self"), "auroc"] == 1.0
    assert abs(acc.loc[(8, "classifier"), "accuracy"] - 0.5) < 0.1  # behaviour is random


def test_a_surface_determined_behaviour_is_flagged() -> None:
    rng = np.random.default_rng(3)
    recs = TrialRecords()
    for f in range(10):
        for i in range(30):
            sfc = surface(rng)
            actual = "yes" if sfc["question_chars"] > 70 else "no"
            add(
                recs,
                f"q{f}-{i}",
                f"fam{f}",
                "self",
                actual,
                actual if rng.random() < 0.8 else "no",
                4,
                sfc,
            )
    t = analysis.tables(recs.run(), {})
    acc = t["predictions"].set_index("predictor")["accuracy"]
    assert acc["classifier"] > 0.9
    line = analysis.scorecard(ScoreInputs(t, {}, None))[0]
    assert "self - classifier" in line.name
    assert "predicts this behaviour as well as the model's own report does" in line.sentence
    assert "No other model was run" in line.sentence
