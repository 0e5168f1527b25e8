"""Neurofeedback on constructed cases with known answers (no model): the axes recover a
planted direction and split the bank in half; a planted readable axis gives report accuracy
that rises with the number of examples while a random axis stays at chance; control shifts
are measured against the right reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import TrialRecords
from introscope.experiments.base import ScoreInputs
from introscope.experiments.neurofeedback import analysis
from introscope.experiments.neurofeedback.axes import Features, fit_axis
from introscope.experiments.neurofeedback.trials import balanced

SHOTS = (0, 4, 16, 64)


def test_axes_recover_planted_directions_and_split_in_half() -> None:
    rng = np.random.default_rng(0)
    n, d = 200, 32
    tag_dir, big_dir = np.eye(d)[0], np.eye(d)[1]
    tags = rng.random(n) < 0.5
    acts = rng.normal(size=(n, 1, d))
    acts[:, 0] += np.outer(np.where(tags, 1.5, -1.5), tag_dir) + np.outer(
        rng.normal(0, 5, n), big_dir
    )
    f = Features(acts, rng.random(n), rng.integers(5, 15, n).astype(float))
    pool = np.arange(100)
    lr = fit_axis("lr", 0, 10, f, pool, tags, seed=0)
    pc1 = fit_axis("pc1", 0, 10, f, pool, tags, seed=0)
    rnd = fit_axis("random", 0, 10, f, pool, tags, seed=0)
    assert lr is not None and pc1 is not None and rnd is not None
    assert abs(float(lr.direction @ tag_dir)) > 0.7  # type: ignore[operator]
    assert abs(float(pc1.direction @ big_dir)) > 0.99  # type: ignore[operator]
    assert pc1.var_explained > 0.3 > 0.1 > rnd.var_explained  # 25 of ~58 units of variance
    # The lr labels follow the tag on held-out sentences.
    labels = np.array(lr.labels(f))
    agree = np.mean((labels[100:] == "A") == tags[100:])
    assert max(agree, 1 - agree) > 0.85
    for axis in (lr, pc1, rnd, fit_axis("length", None, None, f, pool, tags, 0)):
        assert axis is not None and np.mean(np.array(axis.labels(f)) == "A") == 0.5
    assert fit_axis("pc99", 0, 10, f, np.arange(20), tags, 0) is None
    assert balanced([0, 1, 2, 3, 4], ["A", "A", "A", "B", "B"]) == [0, 3, 1, 4, 2]


def report_run(seed: int = 0) -> TrialRecords:
    rng = np.random.default_rng(seed)
    recs = TrialRecords()
    for axis in ("lr", "random", "length"):
        layer = None if axis == "length" else 14
        for n in SHOTS:
            p = 0.5 + (0.4 * math.log2(n + 1) / math.log2(65) if axis == "lr" else 0.0)
            for s in range(60):
                correct = bool(rng.random() < p)
                recs.add(
                    "neurofeedback",
                    {
                        "task": "report",
                        "axis": axis,
                        "layer": layer,
                        "shots": n,
                        "sentence": f"s{s}",
                        "rep": 0,
                    },
                    logits={
                        "p_a": 0.5,
                        "correct": correct,
                        "var_explained": 0.1,
                        "length_r": 0.0,
                        "share_a": 0.5,
                    },
                )
    return recs


def test_a_readable_axis_rises_with_examples_and_random_stays_at_chance() -> None:
    t = analysis.tables(report_run().run(), {})
    rep = t["report"]
    lr = rep[rep["axis"] == "lr"].set_index("shots")
    rnd = rep[rep["axis"] == "random"].set_index("shots")
    assert lr.loc[64, "accuracy"] > 0.8 and lr.loc[64, "gain_ci_low"] > 0.15
    assert lr.loc[64, "vs_random_ci_low"] > 0.1 and lr.loc[64, "vs_length_ci_low"] > 0.1
    assert lr.loc[0, "vs_random_ci_low"] < 0 < lr.loc[0, "vs_random_ci_high"]
    for n in SHOTS:
        assert rnd.loc[n, "accuracy_ci_low"] < 0.5 < rnd.loc[n, "accuracy_ci_high"]
    assert math.isnan(rnd.loc[64, "vs_random"])
    length = rep[rep["axis"] == "length"]
    assert length["layer"].isna().all() and len(length) == len(SHOTS)
    lines = analysis.scorecard(ScoreInputs(t, {}, None))
    assert [ln.name.split(": ")[1] for ln in lines] == [
        "the lr axis at layer 14",
        "the length axis",
    ]
    assert all(ln.step == 105 and ln.unit == "queries" and ln.config == "64 shots" for ln in lines)
    assert "beyond what a random axis allows" in lines[0].sentence
    assert "also beat the sentence-length axis" in lines[0].sentence
    assert "surface feature" in lines[1].sentence


def test_control_shifts() -> None:
    rng = np.random.default_rng(1)
    recs = TrialRecords()
    # Explicit control on a random axis: the same scores for both targets (no shift).
    written = [float(x) for x in rng.normal(size=30)]
    for s in range(30):
        base = float(rng.normal())
        for target, delta in (("A", 0.4), ("B", -0.4)):
            z = base + delta + float(rng.normal(0, 0.1))
            recs.add(
                "neurofeedback",
                {
                    "task": "implicit",
                    "axis": "lr",
                    "layer": 14,
                    "shots": 16,
                    "sentence": f"s{s}",
                    "rep": 0,
                    "target": target,
                },
                logits={"score_z": z, "hit": (z > 0) == (target == "A"), "side": "A"},
            )
            recs.add(
                "neurofeedback",
                {
                    "task": "explicit",
                    "axis": "random",
                    "layer": 14,
                    "shots": 16,
                    "draw": s,
                    "rep": 0,
                    "target": target,
                },
                logits={"score_z": written[s], "hit": False, "side": "B"},
                response="A sentence.",
            )
    t = analysis.tables(recs.run(), {})
    c = t["control"].set_index(["task", "axis"])
    assert c.loc[("implicit", "lr"), "shift"] == pytest.approx(0.8, abs=0.1)
    assert c.loc[("implicit", "lr"), "shift_ci_low"] > 0.6  # paired by sentence: tight
    r = c.loc[("explicit", "random")]
    assert r["shift_ci_low"] < 0 < r["shift_ci_high"]
    assert len(t["written"]) == 60
    assert "no shift is detectable" in analysis.control_sentence(t["control"].iloc[0])
